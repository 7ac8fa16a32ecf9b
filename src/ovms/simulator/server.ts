// A simulated OVMS server (Open-Vehicle-Server v3) for tests and the demo: the REST API with the
// real status codes and bodies, cookie sessions that die a fixed time after login, the per
// address rate limit (hold, then 429), and the v2 protocol server for commands. Imports
// nothing of the product.

import { randomUUID } from "node:crypto";
import http from "node:http";
import { type CarState, SimCar, type SimCarOptions } from "./car.js";
import { Faults, RateLimiter, type SimFault } from "./gate.js";
import { canonical, chargeJson, locationJson, statusJson, tpmsJson } from "./json.js";
import { SimV2Server } from "./v2.js";

export type { CarState, SimCarOptions } from "./car.js";
export type { SimFault } from "./gate.js";

export interface OvmsSimulatorOptions {
  username?: string;
  password?: string;
  /** The account's cars; default one car `DEMO`. */
  vehicles?: SimCarOptions[];
  /** Sessions die this long after login, used or not (timeout_api; the code's default is 120 s). */
  sessionLifetimeMs?: number;
  /** A pre-2021 server: every refusal (401, 403, 501, 502) is a 404. */
  oldServer?: boolean;
  /** Per client address: `burst` requests, +`perMinute` each minute up to `cap`; then hold and 429. */
  rateLimit?: { burst?: number; perMinute?: number; cap?: number; holdMs?: number };
  /** Clock in ms since the epoch (sessions, SoC, message ages); default Date.now. */
  now?: () => number;
  host?: string;
  /** Delay of the car's command replies. */
  replyDelayMs?: number;
}

export interface SimRequest {
  method: string;
  /** Path without the query (the query of a login holds the password). */
  path: string;
  status: number;
  withCookie: boolean;
}

type Reply = { status: number; body: string; type?: string; headers?: Record<string, string> };

// GET:lock really dies on a typo in the server (`..._locK_get`); the simulator answers it like the other stubs
const STUBS = new Set(
  "PUT:charge DELETE:charge GET:lock PUT:lock DELETE:lock GET:valet PUT:valet DELETE:valet GET:features PUT:features GET:parameters PUT:parameters PUT:reset PUT:homelink".split(
    " ",
  ),
);
const ROUTES = new Set([
  ..."GET:cookie DELETE:cookie GET:vehicles GET:vehicle DELETE:vehicle GET:protocol GET:status GET:charge GET:location GET:tpms GET:historical".split(
    " ",
  ),
  ...STUBS,
]);

export class OvmsSimulator {
  readonly username: string;
  readonly password: string;
  /** Every REST request, in order. */
  readonly requestLog: SimRequest[] = [];
  /** Every v2 command line received (`C11`, `C15,16`, …). */
  readonly commandLog: string[] = [];
  logins = 0;
  private readonly cars = new Map<string, SimCar>();
  private readonly sessions = new Map<string, { created: number }>();
  private readonly limiter: RateLimiter;
  private readonly faults = new Faults();
  private readonly now: () => number;
  private readonly v2: SimV2Server;
  private server: http.Server | undefined;

  constructor(private readonly options: OvmsSimulatorOptions = {}) {
    this.username = options.username ?? "demo";
    this.password = options.password ?? "demo-password";
    this.now = options.now ?? Date.now;
    this.limiter = new RateLimiter(options.rateLimit ?? {}, this.now);
    for (const car of options.vehicles ?? [{ id: "DEMO" }]) this.cars.set(car.id, new SimCar(car, this.now));
    this.v2 = new SimV2Server({
      authenticate: (u, p) => u === this.username && p === this.password,
      vehicleIds: (u) => (u === this.username ? [...this.cars.keys()] : []),
      car: (id) => this.cars.get(id),
      now: this.now,
      countCommand: (_id, line) => this.commandLog.push(line),
    });
    if (options.replyDelayMs !== undefined) this.v2.replyDelayMs = options.replyDelayMs;
  }

  get requests(): number {
    return this.requestLog.length;
  }

  /** `A` pings received on v2 links. */
  get pings(): number {
    return this.v2.pings;
  }

  /** Delay of the car's command replies (they still come in order). */
  setReplyDelay(ms: number): void {
    this.v2.replyDelayMs = ms;
  }

  get commands(): number {
    return this.commandLog.length;
  }

  async start(): Promise<{ restUrl: string; commandsUrl: string }> {
    const host = this.options.host ?? "127.0.0.1";
    const server = http.createServer((req, res) => void this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    const v2Port = await this.v2.listen(host);
    return { restUrl: `http://${host}:${port}`, commandsUrl: `tcp://${host}:${v2Port}` };
  }

  async stop(): Promise<void> {
    await this.v2.close();
    const server = this.server;
    this.server = undefined;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  setCarState(patch: Partial<CarState>, vehicleId?: string): void {
    this.car(vehicleId).set(patch);
  }

  carState(vehicleId?: string): CarState {
    return this.car(vehicleId).snapshot();
  }

  /** The car's module (dis)connects from the server: a disconnected car answers no command. */
  setCarConnected(connected: boolean, vehicleId?: string): void {
    const car = this.car(vehicleId);
    car.set({ moduleConnected: connected });
    this.v2.carConnection(car.id, connected);
  }

  /** The car refuses command `code` with `text` (`c<code>,1,<text>`). */
  refuse(code: number, text: string, options: { vehicleId?: string; times?: number } = {}): void {
    this.v2.refuse(this.car(options.vehicleId).id, code, text, options.times);
  }

  /** The car's module does not support command `code` (`c<code>,2`). */
  unsupported(code: number, unsupported = true): void {
    this.v2.setUnsupported(code, unsupported);
  }

  fault(fault: SimFault): void {
    this.faults.add(fault);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  dropConnections(): void {
    this.v2.dropConnections();
  }

  /** Ends every REST session now, as the server's expiry sweep does. */
  expireSessions(): void {
    for (const id of [...this.sessions.keys()]) this.endSession(id);
  }

  /** Whether an API session is connected to the car as a peer (GET /api/vehicle/<id>). */
  peerConnected(vehicleId?: string): boolean {
    this.sweep();
    return [...this.car(vehicleId).peers].some((peer) => peer.startsWith("http:"));
  }

  /** Logged-in v2 clients of a car (type `A` app or `B` batch client). */
  v2Clients(vehicleId?: string, type?: "A" | "B"): number {
    return this.v2.clientCount(this.car(vehicleId).id, type);
  }

  private car(id?: string): SimCar {
    const car = id ? this.cars.get(id) : this.cars.values().next().value;
    if (!car) throw new Error(`no simulated vehicle ${id}`);
    return car;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://sim");
    const method = req.method ?? "GET";
    const entry: SimRequest = {
      method,
      path: url.pathname,
      status: 0,
      withCookie: Boolean(req.headers.cookie),
    };
    this.requestLog.push(entry);
    const send = (reply: Reply) => {
      let status = reply.status;
      if (this.options.oldServer && status !== 200 && status !== 429) status = 404;
      entry.status = status;
      res.writeHead(status, {
        "Content-Type": reply.type ?? "text/plain",
        "Access-Control-Allow-Origin": "*",
        ...reply.headers,
      });
      res.end(reply.body);
    };
    if (!this.limiter.take(req.socket.remoteAddress ?? "-")) {
      await sleep(this.options.rateLimit?.holdMs ?? 20_000);
      return send({ status: 429, body: "Too many requests\n" });
    }
    const fault = this.faults.take(url.pathname);
    if (fault) {
      if (fault.delayMs) await sleep(fault.delayMs);
      if (fault.reset) {
        entry.status = -1;
        req.socket.destroy();
        return;
      }
      if (fault.garbage)
        return send({ status: 200, body: "<html>502 Bad Gateway</html>", type: "application/json" });
      if (fault.status) return send({ status: fault.status, body: fault.body ?? "" });
    }
    send(this.route(method, url, req.headers.cookie));
  }

  private route(method: string, url: URL, cookie: string | undefined): Reply {
    const segments = url.pathname.split("/");
    if (segments[1] !== "api") return { status: 404, body: "not found\n" };
    const [fn = "", vehicleId] = segments.slice(2);
    const key = `${method}:${fn}`;
    if (!ROUTES.has(key)) return { status: 404, body: "Unrecognised API call\n" };
    this.sweep();
    const sessionId = /(?:^|;\s*)ovmsapisession=([^;]+)/.exec(cookie ?? "")?.[1];
    const session = sessionId ? this.sessions.get(sessionId) : undefined;
    const byQuery =
      url.searchParams.get("username") === this.username &&
      url.searchParams.get("password") === this.password;
    if (!session && !byQuery) return { status: 401, body: "Authentication failed\n" };
    if (STUBS.has(key)) return { status: 501, body: "Not yet implemented\n" };
    if (key === "GET:cookie") {
      if (sessionId && session) this.endSession(sessionId);
      const id = randomUUID().toUpperCase();
      this.sessions.set(id, { created: this.now() });
      this.logins += 1;
      return { status: 200, body: "Login ok\n", headers: { "Set-Cookie": `ovmsapisession=${id}` } };
    }
    if (key === "DELETE:cookie") {
      if (sessionId && session) this.endSession(sessionId);
      return { status: 200, body: "Logout ok\n" };
    }
    if (key === "GET:vehicles") {
      const list = [...this.cars.values()].map((car) => ({
        id: car.id,
        v_apps_connected: car.peers.size,
        v_btcs_connected: this.v2.clientCount(car.id, "B"),
        v_net_connected: car.snapshot().moduleConnected ? 1 : 0,
      }));
      return json(list);
    }
    const car = vehicleId ? this.cars.get(vehicleId) : undefined;
    if (!car) return { status: 403, body: "Forbidden\n" };
    const peer = `http:${session ? sessionId : "-"}`;
    const now = this.now();
    switch (key) {
      case "GET:vehicle": {
        const first = car.addPeer(peer);
        const s = car.records().get("S");
        return json({
          v_apps_connected: car.peers.size,
          v_btcs_connected: this.v2.clientCount(car.id, "B"),
          v_first_peer: first ? 1 : 0,
          v_net_connected: car.snapshot().moduleConnected ? 1 : 0,
          ...(s ? { m_msgage_s: Math.floor((now - s.time) / 1000), m_msgtime_s: msgTime(s.time) } : {}),
        });
      }
      case "DELETE:vehicle":
        car.peers.delete(peer);
        return { status: 200, body: "Disconnect OK\n", type: "application/json" };
      case "GET:status":
        return json(statusJson(car.records(), now));
      case "GET:charge":
        return json(chargeJson(car.records(), now));
      case "GET:location":
        return json(locationJson(car.records(), now));
      case "GET:tpms":
        return json(tpmsJson(car.records(), now));
      case "GET:protocol":
        return json(
          [...car.records().values()].map((r) => ({
            m_code: r.code,
            m_msg: r.message,
            m_msgtime: msgTime(r.time),
            m_paranoid: 0,
            m_ptoken: "",
          })),
        );
      default:
        return json([]); // GET /api/historical: no history kept
    }
  }

  /** Sessions die `sessionLifetimeMs` after login, and their peer connections with them. */
  private sweep(): void {
    const lifetime = this.options.sessionLifetimeMs ?? 120_000;
    const now = this.now();
    for (const [id, session] of this.sessions) if (now - session.created >= lifetime) this.endSession(id);
  }

  private endSession(id: string): void {
    this.sessions.delete(id);
    for (const car of this.cars.values()) car.peers.delete(`http:${id}`);
  }
}

function json(value: unknown): Reply {
  return { status: 200, body: canonical(value), type: "application/json" };
}

function msgTime(time: number): string {
  return new Date(time).toISOString().slice(0, 19).replace("T", " ");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
