import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { BridgeContext, Extension } from "../extension.js";
import { scrub } from "../util/secrets.js";
import { EvccApi } from "./evcc-api.js";
import { LoopLag } from "./loop-lag.js";
import type { BridgeMetrics } from "./metrics.js";

/** The event loop counts as stuck when a 250 ms timer fires this much too late. */
export const MAX_LOOP_LAG_MS = 2000;

export interface HealthReport {
  status: "ok" | "unhealthy";
  version: string;
  mqtt: { connected: boolean };
  eventLoop: { lagMs: number; maxLagMs: number };
  devices: Record<string, { online: boolean; error: string }>;
}

/** `host:port` or `[::1]:port` → its parts. */
export function parseListen(listen: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(listen);
  if (!match) throw new Error(`http.listen must be host:port, got ${listen}`);
  return { host: match[1]!, port: Number(match[2]) };
}

/**
 * `GET /healthz` and `GET /metrics` on `http.listen`, for systemd watchdogs, Docker/Kubernetes
 * probes and Prometheus. Healthy means: the broker connection is up and the event loop answers
 * in time. A device whose upstream fails does not make the bridge unhealthy (restarting would
 * not help); it is listed with its error. Neither body holds anything secret.
 */
export class HealthServer implements Extension {
  readonly name = "http";
  private metrics: BridgeMetrics | undefined;
  private readonly api: EvccApi;
  private readonly lag = new LoopLag();
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;

  constructor(private readonly context: BridgeContext) {
    const host = context.config.http.listen ? parseListen(context.config.http.listen).host : "127.0.0.1";
    this.api = new EvccApi(context, host, () => this.report().status === "ok");
  }

  /** Where it listens (the real port when the configured one was 0); undefined before start. */
  address(): AddressInfo | undefined {
    const address = this.server?.address();
    return address && typeof address === "object" ? address : undefined;
  }

  async start(): Promise<void> {
    const listen = this.context.config.http.listen;
    if (!listen) return;
    const { host, port } = parseListen(listen);
    // prom-client is loaded only by a bridge that serves metrics
    const { BridgeMetrics } = await import("./metrics.js");
    const metrics = new BridgeMetrics(this.context);
    this.metrics = metrics;
    metrics.start();
    this.lag.start();
    this.api.start();
    const server = createServer((req, res) => void this.handle(req, res));
    server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    });
    server.keepAliveTimeout = 5000;
    server.requestTimeout = 10_000;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen({ host, port, exclusive: true }, () => {
          server.off("error", reject);
          resolve();
        });
      });
    } catch (error) {
      metrics.stop();
      this.lag.stop();
      this.api.stop();
      const code = (error as NodeJS.ErrnoException).code;
      throw new Error(
        code === "EADDRINUSE"
          ? `http.listen ${listen} is already in use: health and metrics are off`
          : `cannot listen on http.listen ${listen}: ${(error as Error).message}`,
      );
    }
    server.on("error", (error) => this.context.logger.warn({ err: error.message }, "health server error"));
    this.server = server;
    const bound = this.address();
    this.context.logger.info(
      { listen: bound ? `${host}:${bound.port}` : listen },
      "health and metrics at /healthz and /metrics, evcc's REST API at /api/",
    );
  }

  async stop(): Promise<void> {
    this.metrics?.stop();
    this.lag.stop();
    this.api.stop();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await closed;
  }

  /** What `/healthz` answers. */
  report(): HealthReport {
    const connected = this.context.connection.connected;
    const lagMs = Math.round(this.lag.lagMs());
    const devices: HealthReport["devices"] = {};
    // devices announced but not polled yet are listed as not (yet) online
    for (const device of this.context.devices()) {
      devices[device.describe().topic] = { online: false, error: "" };
    }
    for (const [topic, state] of this.context.availability()) {
      devices[topic] = { online: state.online, error: scrub(state.error) };
    }
    return {
      status: connected && lagMs <= MAX_LOOP_LAG_MS ? "ok" : "unhealthy",
      version: this.context.version,
      mqtt: { connected },
      eventLoop: { lagMs, maxLagMs: MAX_LOOP_LAG_MS },
      devices,
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const path = new URL(req.url ?? "/", "http://localhost").pathname;
      if (path.startsWith("/api/")) {
        const answer = await this.api.handle(req, path.slice("/api/".length));
        const text =
          typeof answer.body === "string" ? `${answer.body}\n` : `${JSON.stringify(answer.body)}\n`;
        const type = typeof answer.body === "string" ? "text/plain; charset=utf-8" : "application/json";
        const headers = { "cache-control": "no-store", ...answer.headers };
        send(res, answer.status, type, scrub(text), headers, req.method === "HEAD");
        return;
      }
      if (req.method !== "GET" && req.method !== "HEAD") {
        send(res, 405, "text/plain; charset=utf-8", "use GET\n", { allow: "GET, HEAD" });
        return;
      }
      if (path === "/healthz") {
        const report = this.report();
        send(
          res,
          report.status === "ok" ? 200 : 503,
          "application/json",
          `${JSON.stringify(report)}\n`,
          { "cache-control": "no-store" },
          req.method === "HEAD",
        );
      } else if (path === "/metrics") {
        if (!this.metrics) throw new Error("metrics are not started");
        const { contentType, body } = await this.metrics.render();
        send(res, 200, contentType, scrub(body), { "cache-control": "no-store" }, req.method === "HEAD");
      } else if (path === "/") {
        send(res, 200, "text/plain; charset=utf-8", "ev2mqtt: /healthz /metrics /api/state\n");
      } else {
        send(res, 404, "text/plain; charset=utf-8", "not found: /healthz /metrics /api/state\n");
      }
    } catch (error) {
      this.context.logger.warn({ err: (error as Error).message }, "health request failed");
      send(res, 500, "text/plain; charset=utf-8", "internal error\n");
    }
  }
}

function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string,
  headers: Record<string, string> = {},
  headOnly = false,
): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    ...headers,
    "content-type": contentType,
    "content-length": Buffer.byteLength(body),
  });
  res.end(headOnly ? undefined : body);
}

/** The health server when `http.listen` is configured, else nothing. */
export function healthExtensions(context: BridgeContext): Extension[] {
  return context.config.http.listen ? [new HealthServer(context)] : [];
}
