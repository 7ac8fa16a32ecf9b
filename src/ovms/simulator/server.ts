// A simulated OVMS server (Open-Vehicle-Server v3) for tests, the demo and the bench: the REST
// API with the real status codes, reason phrases and bodies over HTTP/1.0 (http10.ts), cookie
// sessions that die on a 10 s sweep a fixed time after login (sessions.ts), the per-address rate
// limit (hold 20 s, then a bare 429; gate.ts), and the v2 protocol server that pushes every
// record the car sends to every client of the car (v2.ts). Every timing of the real server has
// a knob, so tests can scale 30 s and 10 s down. Not exact where the files say so, and: the
// `/api/tpms` of a car with a Y record dies (404) only with `tpmsDies` (off by default, so that
// REST-only tests see tyres); the module reports on real timers, judged on the injectable clock.
// Imports nothing of the product.

import { type CarState, SimCar, type SimCarOptions } from "./car.js";
import { Faults, type RateLimit, RateLimiter, type SimFault } from "./gate.js";
import { Http10Server, type Outcome, type RawRequest } from "./http10.js";
import { type Reply, reasonOf, route } from "./routes.js";
import { Sessions } from "./sessions.js";
import { SimV2Server, type V2Timing } from "./v2.js";

export type { CarState, SimCarOptions } from "./car.js";
export type { SimFault } from "./gate.js";

export interface OvmsSimulatorOptions {
  username?: string;
  password?: string;
  /** The account's cars; default one car `DEMO`. */
  vehicles?: SimCarOptions[];
  /** `timeout_api`: sessions end this long after login, used or not (code default 120 s). */
  sessionLifetimeMs?: number;
  /** Period of the session expiry sweep (10 s). */
  sweepMs?: number;
  /** v2 silence limits: `timeout_api` for batch clients (default: sessionLifetimeMs), 30 s checks. */
  v2?: V2Timing;
  /** Idle kept-alive HTTP connections are closed after this long (30 s). */
  keepAliveMs?: number;
  /** A pre-2021 server: every refusal (401, 403, 501, 502) is a 404. */
  oldServer?: boolean;
  /** Per client address: 120 requests, +60 each minute up to 240, then hold 20 s and 429. */
  rateLimit?: RateLimit;
  /** Clock in ms since the epoch (sessions, SoC, message ages, the rate limit); default Date.now. */
  now?: () => number;
  host?: string;
  /** Delay of the car's command replies. */
  replyDelayMs?: number;
  /** Close every v2 login without a word, as servers without the v2 API (or tokens without `v2`) do. */
  refuseV2?: boolean;
}

export interface SimRequest {
  method: string;
  /** Path without the query (the query of a login holds the password). */
  path: string;
  status: number;
  withCookie: boolean;
  /** When it arrived (performance.now()). */
  at: number;
}

export class OvmsSimulator {
  readonly username: string;
  readonly password: string;
  /** Every REST request, in order. */
  readonly requestLog: SimRequest[] = [];
  /** Every v2 command line received (`C11`, `C15,16`, …). */
  readonly commandLog: string[] = [];
  logins = 0;
  private readonly cars = new Map<string, SimCar>();
  private readonly sessions: Sessions;
  private readonly limiter: RateLimiter;
  private readonly faults = new Faults();
  private readonly now: () => number;
  private readonly v2: SimV2Server;
  private readonly http: Http10Server;

  constructor(private readonly options: OvmsSimulatorOptions = {}) {
    this.username = options.username ?? "demo";
    this.password = options.password ?? "demo-password";
    this.now = options.now ?? Date.now;
    this.limiter = new RateLimiter(options.rateLimit ?? {}, this.now);
    for (const car of options.vehicles ?? [{ id: "DEMO" }]) this.cars.set(car.id, new SimCar(car, this.now));
    const lifetimeMs = options.sessionLifetimeMs ?? 120_000;
    this.sessions = new Sessions({ lifetimeMs, sweepMs: options.sweepMs ?? 10_000 }, this.now, (id) => {
      for (const car of this.cars.values()) car.peers.delete(`http:${id}`);
    });
    this.v2 = new SimV2Server(
      {
        authenticate: (u, p) => !options.refuseV2 && u === this.username && p === this.password,
        vehicleIds: (u) => (u === this.username ? [...this.cars.keys()] : []),
        car: (id) => this.cars.get(id),
        now: this.now,
        countCommand: (_id, line) => this.commandLog.push(line),
      },
      { timeoutApiMs: lifetimeMs, ...options.v2 },
    );
    if (options.replyDelayMs !== undefined) this.v2.replyDelayMs = options.replyDelayMs;
    this.http = new Http10Server((request) => this.handle(request), options.keepAliveMs ?? 30_000);
  }

  get requests(): number {
    return this.requestLog.length;
  }

  /** `A` pings received on v2 links. */
  get pings(): number {
    return this.v2.pings;
  }

  /** v2 logins accepted, by client type, and batch clients dropped for silence. */
  get v2Stats(): { logins: { A: number; B: number }; idleDrops: number } {
    return { logins: { ...this.v2.logins }, idleDrops: this.v2.idleDrops };
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
    const port = await this.http.listen(host);
    const v2Port = await this.v2.listen(host);
    this.sessions.start();
    return { restUrl: `http://${host}:${port}`, commandsUrl: `tcp://${host}:${v2Port}` };
  }

  async stop(): Promise<void> {
    this.sessions.stop();
    for (const car of this.cars.values()) car.halt();
    await this.v2.close();
    await this.http.close();
  }

  /** Calls `listener` after each report of a car: a change, a command, or its report interval. */
  onReport(listener: (vehicleId: string) => void): void {
    for (const car of this.cars.values()) car.onReport(() => listener(car.id));
  }

  setCarState(patch: Partial<CarState>, vehicleId?: string): void {
    this.car(vehicleId).set(patch);
  }

  carState(vehicleId?: string): CarState {
    return this.car(vehicleId).snapshot();
  }

  /** The car's module (dis)connects from the server: the clients hear `Z1`/`Z0` at once. */
  setCarConnected(connected: boolean, vehicleId?: string): void {
    const car = this.car(vehicleId);
    this.v2.carConnection(car.id, connected);
    car.set({ moduleConnected: connected });
  }

  /** The car's module sends one raw record (`S1e308,K,…`): stored and pushed as it is. */
  carSends(code: string, message: string, vehicleId?: string): void {
    this.car(vehicleId).sendRaw(code, message);
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

  /** Ends every REST session now. */
  expireSessions(): void {
    this.sessions.endAll();
  }

  /** Runs the session expiry sweep now (for tests that move the clock). */
  sweepSessions(): void {
    this.sessions.sweep();
  }

  /** Whether an API session is connected to the car as a peer (GET /api/vehicle/<id>). */
  peerConnected(vehicleId?: string): boolean {
    return [...this.car(vehicleId).peers].some((peer) => peer.startsWith("http:"));
  }

  /** Logged-in v2 clients of a car (type `A` app or `B` batch client). */
  v2Clients(vehicleId?: string, type?: "A" | "B"): number {
    return this.v2.clientCount(this.car(vehicleId).id, type);
  }

  /** Reports the car's module has sent: each is a full set of records over the car's SIM. */
  carReports(vehicleId?: string): number {
    return this.car(vehicleId).reports;
  }

  /** Peers that make the car's module report fast: REST peers and v2 app logins. */
  carPeers(vehicleId?: string): number {
    return this.car(vehicleId).peers.size;
  }

  private car(id?: string): SimCar {
    const car = id ? this.cars.get(id) : this.cars.values().next().value;
    if (!car) throw new Error(`no simulated vehicle ${id}`);
    return car;
  }

  private async handle(req: RawRequest): Promise<Outcome> {
    const url = new URL(req.target, "http://sim");
    const entry: SimRequest = {
      method: req.method,
      path: url.pathname,
      status: 0,
      withCookie: Boolean(req.headers.cookie),
      at: performance.now(),
    };
    this.requestLog.push(entry);
    const answer = (reply: Reply): Outcome => {
      let status = reply.status;
      if (this.options.oldServer && status !== 200 && status !== 429) status = 404;
      entry.status = status;
      return { ...reply, status, reason: reasonOf(status, url.pathname) };
    };
    if (!this.limiter.take(req.remoteAddress)) {
      await sleep(this.options.rateLimit?.holdMs ?? 20_000);
      // a bare answer: no body, no Content-Type
      entry.status = 429;
      return { status: 429, reason: "Too many requests", body: "" };
    }
    const fault = this.faults.take(url.pathname);
    if (fault) {
      if (fault.delayMs) await sleep(fault.delayMs);
      if (fault.reset) {
        entry.status = -1;
        return "reset";
      }
      if (fault.garbage)
        return answer({ status: 200, body: "<html>502 Bad Gateway</html>", type: "application/json" });
      if (fault.status) return answer({ status: fault.status, body: fault.body ?? "", type: "text/plain" });
    }
    const reply = route(
      {
        username: this.username,
        password: this.password,
        cars: this.cars,
        sessions: this.sessions,
        now: this.now,
        batchClients: (id) => this.v2.clientCount(id, "B"),
        loggedIn: () => {
          this.logins += 1;
        },
      },
      req.method,
      url,
      req.headers.cookie,
    );
    if (fault?.slowAnswerMs) {
      const outcome = answer({ type: "text/plain", ...reply });
      await sleep(fault.slowAnswerMs);
      return outcome;
    }
    return answer({ type: "text/plain", ...reply });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
