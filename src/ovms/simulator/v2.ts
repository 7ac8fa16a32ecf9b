// The v2 protocol side of the OVMS server simulator (scheme 1, plaintext CRLF lines), as
// ApiV2.pm runs it: `MP-<A|B> 1 <user> <pass> <vehicle|*>` → `MP-S 1 <user> <vehicle> <cars…>`,
// then Z, the stored records and T pushed unasked; `A` answered `a`; `C<code>,…` forwarded to
// the car, whose `c<code>,<result>,…` goes back to the sender; nothing at all when the car is
// not connected; a wrong login closed without a word. Imports nothing of the product.

import net from "node:net";
import type { SimCar, StoredRecord } from "./car.js";

export interface V2Backend {
  authenticate(username: string, password: string): boolean;
  vehicleIds(username: string): string[];
  car(id: string): SimCar | undefined;
  now(): number;
  /** Counts every `C` line received. */
  countCommand(vehicleId: string, line: string): void;
}

interface Client {
  socket: net.Socket;
  type: string;
  vehicleId: string;
}

export class SimV2Server {
  private server: net.Server | undefined;
  private readonly clients = new Set<Client>();
  private readonly sockets = new Set<net.Socket>();
  private readonly refusals = new Map<string, { text: string; times: number }>();
  private readonly unsupported = new Set<number>();
  private readonly subscribed = new Set<SimCar>();
  /** Delay before the car's reply, to make replies arrive asynchronously. */
  replyDelayMs = 5;
  /** `A` pings received. */
  pings = 0;
  /** Each client's latest reply, sent once it has waited its delay after the one before. */
  private readonly replies = new WeakMap<Client, Promise<void>>();

  constructor(private readonly backend: V2Backend) {}

  async listen(host: string): Promise<number> {
    const server = net.createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    const address = server.address();
    return typeof address === "object" && address ? address.port : 0;
  }

  async close(): Promise<void> {
    this.dropConnections();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    this.clients.clear();
  }

  /** The car answers command `code` with `c<code>,1,<text>` (`times` times, default always). */
  refuse(vehicleId: string, code: number, text: string, times = Number.POSITIVE_INFINITY): void {
    this.refusals.set(`${vehicleId}:${code}`, { text, times });
  }

  /** The car answers command `code` with `c<code>,2` (unsupported). */
  setUnsupported(code: number, unsupported = true): void {
    if (unsupported) this.unsupported.add(code);
    else this.unsupported.delete(code);
  }

  /** Tells the clients of a car that its module (dis)connected, as the server does. */
  carConnection(vehicleId: string, connected: boolean): void {
    this.broadcast(vehicleId, `Z${connected ? 1 : 0}`);
  }

  /** How many v2 clients are logged in for a vehicle, by type. */
  clientCount(vehicleId: string, type?: string): number {
    return [...this.clients].filter((c) => c.vehicleId === vehicleId && (!type || c.type === type)).length;
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setEncoding("utf8");
    let buffer = "";
    let client: Client | undefined;
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      let newline = buffer.indexOf("\n");
      while (newline >= 0) {
        const line = buffer.slice(0, newline).replace(/\r$/, "");
        buffer = buffer.slice(newline + 1);
        if (!client) client = this.welcome(socket, line);
        else this.line(client, line);
        if (socket.destroyed) return;
        newline = buffer.indexOf("\n");
      }
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      this.sockets.delete(socket);
      if (client) {
        this.clients.delete(client);
        if (client.type === "A") this.backend.car(client.vehicleId)?.peers.delete(`v2:${socket.remotePort}`);
      }
    });
  }

  private welcome(socket: net.Socket, line: string): Client | undefined {
    const match = /^MP-(\S) 1 (\S+) (\S+) (\S+)/.exec(line);
    const [type, username, password, wanted] = match ? match.slice(1) : [];
    const cars = username ? this.backend.vehicleIds(username) : [];
    const vehicleId = wanted === "*" ? cars[0] : cars.find((id) => id === wanted?.toUpperCase());
    if (!type || !username || !password || !this.backend.authenticate(username, password) || !vehicleId) {
      socket.end(); // no message: ApiV2.pm just closes
      socket.destroy();
      return undefined;
    }
    const car = this.backend.car(vehicleId);
    if (!car) return undefined;
    const client: Client = { socket, type, vehicleId };
    this.clients.add(client);
    this.subscribe(car);
    send(socket, `MP-S 1 ${username} ${vehicleId} ${cars.join(" ")}`);
    if (type === "A") car.addPeer(`v2:${socket.remotePort}`);
    const state = car.snapshot();
    send(socket, `Z${state.moduleConnected ? 1 : 0}`);
    const records = car.records();
    for (const record of records.values()) send(socket, `${record.code}${record.message}`);
    const last = Math.max(0, ...[...records.values()].map((r) => r.time));
    send(socket, `T${last ? Math.floor((this.backend.now() - last) / 1000) : 0}`);
    return client;
  }

  private line(client: Client, line: string): void {
    const code = line.charAt(0);
    if (code === "A") {
      this.pings += 1;
      send(client.socket, "a");
      return;
    }
    if (code !== "C") return;
    this.backend.countCommand(client.vehicleId, line);
    const car = this.backend.car(client.vehicleId);
    if (!car?.snapshot().moduleConnected) return; // forwarded to nobody: no reply ever comes
    const [codeText = "", ...params] = line.slice(1).split(",");
    const command = Number(codeText);
    const refusal = this.refusals.get(`${client.vehicleId}:${command}`);
    let reply: string;
    if (refusal && refusal.times > 0) {
      refusal.times -= 1;
      reply = `c${command},1,${refusal.text}`;
    } else if (this.unsupported.has(command)) {
      reply = `c${command},2`;
    } else {
      const outcome = car.command(command, params);
      reply = `c${command},${outcome.result}${outcome.text !== undefined ? `,${outcome.text}` : ""}`;
    }
    // each reply waits for the previous one: a car answers its commands in order
    const delay = this.replyDelayMs;
    const previous = this.replies.get(client) ?? Promise.resolve();
    const next = previous.then(() => new Promise<void>((resolve) => setTimeout(resolve, delay)));
    this.replies.set(client, next);
    void next.then(() => send(client.socket, reply));
  }

  /** Forwards a car's reports to its logged-in clients, followed by `T0`, as the server does. */
  private subscribe(car: SimCar): void {
    if (this.subscribed.has(car)) return;
    this.subscribed.add(car);
    car.onReport((records: StoredRecord[]) => {
      for (const record of records) this.broadcast(car.id, `${record.code}${record.message}`);
      this.broadcast(car.id, "T0");
    });
  }

  private broadcast(vehicleId: string, line: string): void {
    for (const client of this.clients) if (client.vehicleId === vehicleId) send(client.socket, line);
  }
}

function send(socket: net.Socket, line: string): void {
  if (!socket.destroyed) socket.write(`${line}\r\n`);
}
