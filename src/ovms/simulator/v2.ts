// The v2 protocol side of the OVMS server simulator (scheme 1, plaintext CRLF lines), as
// ApiV2.pm runs it: `MP-<A|B> 1 <user> <pass> <vehicle|*>` → `MP-S 1 <user> <vehicle> <cars…>`,
// then the login replay (`Z`, then the stored records `F` first, `S`, the rest by code, both
// `W` and `Y` if both are stored, then `T<secs>`); every record the car sends later goes to
// every client of the car, each followed by `T0`; `Z1`/`Z0` when the module comes and goes;
// `A` answered `a`; `C<code>,…` forwarded to the car, whose reply goes to the clients waiting
// for one, first in first out (to all when none waits); nothing at all when the car is not
// connected; a wrong login closed without a word; a batch client silent for `timeout_api`
// dropped, checked after each 30 s of silence, an app after `timeout_app`.
// Not exact: the scheme 0x30 (RC4) login, the `f<version>` after an `F`, and the multi-line
// replies of commands 1 and 3 are not simulated. Imports nothing of the product.

import type net from "node:net";
import type { SimCar, StoredRecord } from "./car.js";
import { closeServer, listen } from "./listen.js";

export interface V2Backend {
  authenticate(username: string, password: string): boolean;
  vehicleIds(username: string): string[];
  car(id: string): SimCar | undefined;
  now(): number;
  /** Counts every `C` line received. */
  countCommand(vehicleId: string, line: string): void;
}

export interface V2Timing {
  /** `timeout_api`: a batch client silent this long is dropped (the code's default 120 s). */
  timeoutApiMs?: number;
  /** `timeout_app`: the same for app clients (20 minutes). */
  timeoutAppMs?: number;
  /** Silence is looked at only after this long without a line (30 s on the real server). */
  idleCheckMs?: number;
}

interface Client {
  socket: net.Socket;
  type: string;
  vehicleId: string;
  lastRx: number;
  idleTimer?: NodeJS.Timeout;
}

/** Login replay order (`DbDBI.pm` 264–271): F first, then S, then the rest by code. */
function replayRank(code: string): string {
  return code === "F" ? "0" : code === "S" ? "1" : `2${code}`;
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
  /** Logins accepted, by client type. */
  readonly logins = { A: 0, B: 0 };
  /** Batch clients dropped for silence. */
  idleDrops = 0;
  /** Each car's latest reply, sent once it has waited its delay after the one before. */
  private readonly replies = new Map<string, Promise<void>>();
  /** Per car, the clients waiting for a reply, first in first out (`ApiV2.pm` 1086–1135). */
  private readonly waiting = new Map<string, Client[]>();

  constructor(
    private readonly backend: V2Backend,
    private readonly timing: V2Timing = {},
  ) {}

  async listen(host: string): Promise<number> {
    const { server, port } = await listen(host, (socket) => this.accept(socket));
    this.server = server;
    return port;
  }

  async close(): Promise<void> {
    this.dropConnections();
    const server = this.server;
    this.server = undefined;
    await closeServer(server);
  }

  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    for (const client of this.clients) clearTimeout(client.idleTimer);
    this.clients.clear();
    this.waiting.clear();
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
      if (client) client.lastRx = performance.now();
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
        clearTimeout(client.idleTimer);
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
    const client: Client = { socket, type, vehicleId, lastRx: performance.now() };
    this.clients.add(client);
    if (type === "A" || type === "B") this.logins[type] += 1;
    this.watchSilence(client);
    this.subscribe(car);
    send(socket, `MP-S 1 ${username} ${vehicleId} ${cars.join(" ")}`);
    const state = car.snapshot();
    send(socket, `Z${state.moduleConnected ? 1 : 0}`);
    const records = [...car.records().values()].sort((a, b) =>
      replayRank(a.code).localeCompare(replayRank(b.code)),
    );
    for (const record of records) send(socket, `${record.code}${record.message}`);
    const last = Math.max(0, ...records.map((r) => r.time));
    send(socket, `T${last ? Math.floor((this.backend.now() - last) / 1000) : 0}`);
    // an app raises the car's peer count: the module reports a full set at once, then fast
    if (type === "A") car.addPeer(`v2:${socket.remotePort}`);
    return client;
  }

  /** Drops a client that sends nothing for its timeout, looked at after each idle check period. */
  private watchSilence(client: Client): void {
    const { timeoutApiMs = 120_000, timeoutAppMs = 1_200_000, idleCheckMs = 30_000 } = this.timing;
    const limit = client.type === "A" ? timeoutAppMs : timeoutApiMs;
    const check = () => {
      const silent = performance.now() - client.lastRx;
      if (silent >= idleCheckMs && silent >= limit) {
        if (client.type !== "A") this.idleDrops += 1;
        client.socket.destroy(); // "timeout btc due to inactivity"
        return;
      }
      client.idleTimer = setTimeout(check, Math.max(idleCheckMs - silent, limit - silent, 1));
    };
    client.idleTimer = setTimeout(check, Math.max(idleCheckMs, 1));
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
    const queue = this.waiting.get(client.vehicleId) ?? [];
    queue.push(client);
    this.waiting.set(client.vehicleId, queue);
    // each reply waits for the previous one: a car answers its commands in order
    const delay = this.replyDelayMs;
    const previous = this.replies.get(client.vehicleId) ?? Promise.resolve();
    const next = previous.then(() => new Promise<void>((resolve) => setTimeout(resolve, delay)));
    this.replies.set(client.vehicleId, next);
    void next.then(() => this.deliverReply(client.vehicleId, reply));
  }

  /** The car's reply goes to the first client waiting for one; with none waiting, to all. */
  private deliverReply(vehicleId: string, reply: string): void {
    const receiver = this.waiting.get(vehicleId)?.shift();
    if (receiver) send(receiver.socket, reply);
    else this.broadcast(vehicleId, reply);
  }

  /** Forwards a car's reports to its logged-in clients, followed by `T0`, as the server does. */
  private subscribe(car: SimCar): void {
    if (this.subscribed.has(car)) return;
    this.subscribed.add(car);
    car.onReport((records: StoredRecord[]) => {
      for (const record of records) {
        this.broadcast(car.id, `${record.code}${record.message}`);
        this.broadcast(car.id, "T0");
      }
    });
  }

  private broadcast(vehicleId: string, line: string): void {
    for (const client of this.clients) if (client.vehicleId === vehicleId) send(client.socket, line);
  }
}

function send(socket: net.Socket, line: string): void {
  if (!socket.destroyed) socket.write(`${line}\r\n`);
}
