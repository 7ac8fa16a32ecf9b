// The HTTP side of the OVMS server simulator, as AnyEvent::HTTPD answers: `HTTP/1.0` status
// lines with the server's own reason phrases, `Date`, `Expires` and `Cache-Control: max-age=0`
// on every answer, keep-alive only when the request asks for it (`Connection: keep-alive`), and
// an idle kept-alive connection closed after 30 s. Node's http server always answers HTTP/1.1,
// hence this small server on plain sockets. Not exact: request bodies are skipped by their
// Content-Length only (no chunked uploads), and `request_timeout` applies to idle connections
// only. Imports nothing of the product.

import type net from "node:net";
import { closeServer, listen } from "./listen.js";

export interface RawRequest {
  method: string;
  /** The request target as sent (path and query). */
  target: string;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  remoteAddress: string;
}

export interface RawReply {
  status: number;
  reason: string;
  body: string;
  /** Content-Type; left out when undefined (the bare 429 has none). */
  type?: string;
  headers?: Record<string, string>;
}

/** What the handler wants done: an answer, or the connection cut without one. */
export type Outcome = RawReply | "reset";

export class Http10Server {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly handler: (request: RawRequest) => Promise<Outcome>,
    private readonly keepAliveMs = 30_000,
  ) {}

  async listen(host: string): Promise<number> {
    const { server, port } = await listen(host, (socket) => this.accept(socket));
    this.server = server;
    return port;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = undefined;
    await closeServer(server);
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setTimeout(this.keepAliveMs, () => socket.destroy());
    socket.on("error", () => undefined);
    socket.on("close", () => this.sockets.delete(socket));
    let buffer = Buffer.alloc(0);
    let busy = false;
    const next = async (): Promise<void> => {
      if (busy) return;
      const end = buffer.indexOf("\r\n\r\n");
      if (end < 0) {
        if (buffer.length > 65_536) socket.destroy();
        return;
      }
      const head = buffer.subarray(0, end).toString("latin1").split("\r\n");
      const [method = "GET", target = "/"] = (head.shift() ?? "").split(" ");
      const headers: Record<string, string> = {};
      for (const line of head) {
        const colon = line.indexOf(":");
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const length = Number(headers["content-length"] ?? 0) || 0;
      if (buffer.length < end + 4 + length) return;
      buffer = buffer.subarray(end + 4 + length);
      busy = true;
      const outcome = await this.handler({
        method,
        target,
        headers,
        remoteAddress: socket.remoteAddress ?? "-",
      });
      busy = false;
      if (socket.destroyed) return;
      if (outcome === "reset") {
        socket.destroy();
        return;
      }
      const keepAlive = /keep-alive/i.test(headers.connection ?? "");
      socket.write(format(outcome, keepAlive));
      if (!keepAlive) socket.end();
      else void next();
    };
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      void next();
    });
  }
}

function format(reply: RawReply, keepAlive: boolean): Buffer {
  const date = new Date().toUTCString();
  const body = Buffer.from(reply.body, "utf8");
  const headers: Record<string, string> = {
    Date: date,
    Expires: date,
    "Cache-Control": "max-age=0",
    "Access-Control-Allow-Origin": "*",
    ...(reply.type ? { "Content-Type": reply.type } : {}),
    "Content-Length": String(body.length),
    ...(keepAlive ? { Connection: "Keep-Alive" } : {}),
    ...reply.headers,
  };
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
  const head = `HTTP/1.0 ${reply.status} ${reply.reason}\r\n${lines.join("\r\n")}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, "latin1"), body]);
}
