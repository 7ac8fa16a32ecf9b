import { EventEmitter } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { controlRoute } from "./control.js";
import {
  type ActiveFault,
  type Answer,
  blocks,
  type Endpoint,
  faultAnswer,
  GOE_SIM_BODIES,
  type GoeSimFault,
  JSON_TYPE,
  json,
} from "./faults.js";
import { authorized, send, statusAnswer } from "./http.js";
import { GoeSimCharger, type GoeSimChargerOptions } from "./state.js";

// A stand-in for the go-e Cloud API v3 and the charger's local HTTP API, quirks included, for
// the demo, the end-to-end tests and the benchmarks. Many chargers share one server: the
// charger's base URL is `<server>/<serial>`. It imports nothing from the product on purpose,
// so a bug in the bridge can never make the simulator agree with it.

export type { GoeSimFault } from "./faults.js";
export { GOE_SIM_BODIES, nginxErrorPage, parseFault } from "./faults.js";
export type { GoeSimChargerOptions, GoeSimMode, GoeSimSetResult } from "./state.js";

export interface GoeSimRequest {
  time: number;
  serial: string;
  endpoint: "status" | "set";
  query: Record<string, string>;
  /** 0 when the socket was reset instead of answered. */
  status: number;
  authorized: boolean;
}

export interface GoeSimulatorOptions {
  chargers?: GoeSimChargerOptions[];
  host?: string;
  port?: number;
  /** The clock the charger state follows; tests inject one to make time pass instantly. */
  now?: () => number;
  /** How many requests (and set calls per charger) the log keeps; default 10000. */
  logLimit?: number;
}

export class GoeSimulator extends EventEmitter<{ set: [serial: string, params: Record<string, unknown>] }> {
  private readonly chargers = new Map<string, GoeSimCharger>();
  private readonly faults = new Map<string, ActiveFault>();
  private readonly log: GoeSimRequest[] = [];
  private readonly sets = new Map<string, Array<Record<string, unknown>>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly host: string;
  private readonly port: number;
  private readonly now: () => number;
  private readonly logLimit: number;
  private server: Server | undefined;
  private baseUrl: string | undefined;

  constructor(options: GoeSimulatorOptions = {}) {
    super();
    this.host = options.host ?? "127.0.0.1";
    this.port = options.port ?? 0;
    this.now = options.now ?? Date.now;
    this.logLimit = options.logLimit ?? 10_000;
    for (const charger of options.chargers ?? []) this.addCharger(charger);
  }

  async start(): Promise<string> {
    if (this.baseUrl) return this.baseUrl;
    const server = createServer((req, res) => this.handle(req, res));
    // longer than a 1 Hz poll, so a keep-alive client never races the server closing it
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, this.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.server = server;
    const { port } = server.address() as AddressInfo;
    const host = this.host.includes(":") ? `[${this.host}]` : this.host;
    this.baseUrl = `http://${host}:${port}`;
    return this.baseUrl;
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const server = this.server;
    this.server = undefined;
    this.baseUrl = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  get url(): string {
    if (!this.baseUrl) throw new Error("go-e simulator: not started");
    return this.baseUrl;
  }

  chargerUrl(serial: string): string {
    return `${this.url}/${serial}`;
  }

  addCharger(options: GoeSimChargerOptions): void {
    if (this.chargers.has(options.serial))
      throw new Error(`go-e simulator: charger ${options.serial} exists`);
    this.chargers.set(options.serial, new GoeSimCharger(options, this.now()));
  }

  removeCharger(serial: string): void {
    this.chargers.delete(serial);
    this.faults.delete(serial);
  }

  status(serial: string): Record<string, unknown> {
    return this.charger(serial).status(this.now());
  }

  /** Raw keys, plus the knobs `pvSurplusW`, `carFull`, `carConnected`, `carPhases` (see GoeSimCharger.update). */
  update(serial: string, patch: Record<string, unknown>): void {
    this.charger(serial).update(patch, this.now());
  }

  plugIn(serial: string): void {
    this.charger(serial).plugIn(this.now());
  }

  unplug(serial: string): void {
    this.charger(serial).unplug(this.now());
  }

  /** When the charger took each `ids` reading (simulator clock), oldest first. */
  idsArrivals(serial: string): number[] {
    return this.charger(serial).idsArrivals();
  }

  /** The cloud token now in force (writing `cak` regenerates it, as on the real charger). */
  token(serial: string): string | undefined {
    return this.charger(serial).token;
  }

  fault(serial: string, fault: GoeSimFault | undefined): void {
    this.charger(serial);
    if (!fault || (fault.times !== undefined && fault.times <= 0)) this.faults.delete(serial);
    else
      this.faults.set(serial, {
        fault,
        remaining: fault.times ?? Number.POSITIVE_INFINITY,
        since: this.now(),
      });
  }

  requests(serial?: string): GoeSimRequest[] {
    return serial === undefined ? [...this.log] : this.log.filter((entry) => entry.serial === serial);
  }

  /** Decoded params of every `/api/set` that reached the charger (authorised, not faulted), rejected keys included. */
  setCalls(serial: string): Array<Record<string, unknown>> {
    return [...(this.sets.get(serial) ?? [])];
  }

  clearLog(): void {
    this.log.length = 0;
    this.sets.clear();
  }

  private charger(serial: string): GoeSimCharger {
    const charger = this.chargers.get(serial);
    if (!charger) throw new Error(`go-e simulator: no charger ${serial}`);
    return charger;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    try {
      const url = new URL(req.url ?? "/", "http://simulator");
      const parts = url.pathname.split("/").filter(Boolean);
      if (parts[0] === "_sim") {
        void controlRoute(this, req, res, parts.slice(1));
        return;
      }
      const [serial, api, endpoint] = parts;
      if (
        parts.length !== 3 ||
        serial === undefined ||
        api !== "api" ||
        (endpoint !== "status" && endpoint !== "set") ||
        req.method !== "GET"
      ) {
        send(res, { status: 404, body: GOE_SIM_BODIES.notFound, headers: { "content-type": "text/plain" } });
        return;
      }
      this.api(req, res, serial, endpoint, url);
    } catch (error) {
      send(res, json(500, { success: false, reason: `simulator: ${String(error)}` }));
    }
  }

  private api(req: IncomingMessage, res: ServerResponse, serial: string, endpoint: Endpoint, url: URL): void {
    const now = this.now();
    const entry: GoeSimRequest = {
      time: now,
      serial,
      endpoint,
      query: Object.fromEntries(url.searchParams),
      status: 0,
      authorized: false,
    };
    const charger = this.chargers.get(serial);
    let answer: Answer | "reset";
    let delayMs = 0;
    if (!charger) {
      answer = { status: 403, body: GOE_SIM_BODIES.offline, headers: { "content-type": JSON_TYPE } };
    } else {
      entry.authorized = authorized(charger, req, url);
      const active = this.takeFault(serial, endpoint);
      delayMs = active?.fault.delayMs ?? 0;
      if (active && blocks(active.fault)) answer = faultAnswer(active, endpoint, url, now);
      else if (!entry.authorized) {
        answer = { status: 401, body: GOE_SIM_BODIES.unauthorized, headers: { "content-type": JSON_TYPE } };
      } else if (endpoint === "status") answer = statusAnswer(charger, url, now);
      // a delay alone models a slow answer: the charger has already applied the set
      else answer = this.setAnswer(charger, url, now);
    }
    entry.status = answer === "reset" ? 0 : answer.status;
    this.record(this.log, entry);
    const deliver = () => {
      if (answer === "reset") req.socket.destroy();
      else send(res, answer);
    };
    if (delayMs <= 0) {
      deliver();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      deliver();
    }, delayMs);
    this.timers.add(timer);
  }

  private setAnswer(charger: GoeSimCharger, url: URL, now: number): Answer {
    const params = [...url.searchParams].filter(([key]) => key !== "token");
    const decoded: Record<string, unknown> = {};
    for (const [key, text] of params) {
      try {
        // defined, not assigned: `__proto__` is recorded as the key it was sent as
        Object.defineProperty(decoded, key, {
          value: JSON.parse(text),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } catch {
        // undecodable values are the charger's to reject; they were never valid params
      }
    }
    const calls = this.sets.get(charger.serial) ?? [];
    this.sets.set(charger.serial, calls);
    this.record(calls, decoded);
    this.emit("set", charger.serial, decoded);
    const results = charger.set(params, now);
    if (charger.mode === "local") {
      return json(
        200,
        Object.fromEntries(results.map((result) => [result.key, result.ok ? true : result.error])),
      );
    }
    const succeeded = results.flatMap((result) => (result.ok ? [{ [result.key]: result.value }] : []));
    const failed = results.flatMap((result) => (result.ok ? [] : [{ [result.key]: result.error }]));
    return json(succeeded.length > 0 ? 202 : 422, { succeeded, failed });
  }

  private takeFault(serial: string, endpoint: Endpoint): ActiveFault | undefined {
    const active = this.faults.get(serial);
    if (!active || (active.fault.paths && !active.fault.paths.includes(endpoint))) return undefined;
    active.remaining -= 1;
    if (active.remaining <= 0) this.faults.delete(serial);
    return active;
  }

  private record<T>(list: T[], item: T): void {
    list.push(item);
    // trim in chunks: shifting one entry per request would copy the whole log every time
    if (list.length > this.logLimit * 1.1) list.splice(0, list.length - this.logLimit);
  }

  /** The charger's status and the simulator's own view of it (`GET /_sim/<serial>`). */
  snapshot(serial: string): Record<string, unknown> {
    const charger = this.charger(serial);
    return {
      status: charger.status(this.now()),
      sim: { ...charger.internals(), fault: this.faults.get(serial)?.fault ?? null },
    };
  }

  /** Serials of the chargers it serves. */
  serials(): string[] {
    return [...this.chargers.keys()];
  }
}
