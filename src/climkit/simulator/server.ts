// A stand-in for the Climkit developer API (https://api.climkit.io/api/v1), for the demo, the
// tests and benchmarks: every endpoint of the API document under `/api/v1`, a JWT that expires
// (401 afterwards), 429 above 1 request/s per client (login included), rows in the real
// service's shapes and time format, only complete 15-minute intervals. Imports nothing of
// the product.

import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { route } from "./api.js";
import { defaultSite, QUARTER, type SimSite, SiteModel } from "./site.js";

export type { SimMeter, SimSensor, SimSite } from "./site.js";
export { defaultSite, hostileSite } from "./site.js";

export interface SimulatorOptions {
  /** Accounts; `sites` restricts what one sees (default: every site). */
  users?: Array<{ username: string; password: string; sites?: string[] }>;
  sites?: SimSite[];
  /** Token lifetime (valid_until − now). Default 15 min. */
  tokenLifetimeMs?: number;
  /** The clock for tokens and data (tests move it); the rate limit uses the real clock. */
  now?: () => number;
  /** Shape of all_installations: a list of ids (2019 doc) or of objects (current doc). */
  listShape?: "ids" | "objects";
  /** How long after its end an interval is served. Default 0. */
  publicationDelayMs?: number;
  /** Least real time between two accepted requests of a client. Default 950: 1 request/s
   * with 50 ms for network jitter. */
  minRequestGapMs?: number;
}

export interface SimFault {
  status?: number;
  /** Body sent with `status` (default: a JSON error). */
  body?: string;
  /** Delay before answering (or before the other effects). */
  delayMs?: number;
  /** Destroys the connection without an answer. */
  reset?: boolean;
  /** Answers 200 with a body that is not JSON. */
  garbage?: boolean;
  /** Applies to this many requests, then clears; default until fault(undefined). */
  times?: number;
  /** Applies only to requests whose path (after /api/v1) contains this text. */
  path?: string;
}

export interface SimRequest {
  /** Real Date.now() at arrival. */
  time: number;
  username: string | undefined;
  method: string;
  path: string;
  /** 0 when the connection was reset. */
  status: number;
}

const BASE = "/api/v1";
const DEFAULT_USER = { username: "api-user", password: "api-secret" };

export class ClimkitSimulator {
  readonly requests: SimRequest[] = [];
  /** Successful logins. */
  logins = 0;
  /** Rows of site_data and meter_data served. */
  rowsServed = 0;
  private readonly server: Server;
  private readonly users: Array<{ username: string; password: string; sites?: string[] }>;
  private readonly models: Map<string, SiteModel>;
  private readonly tokens = new Map<string, { username: string; validUntil: number }>();
  private readonly lastAccepted = new Map<string, number>();
  private readonly now: () => number;
  private currentFault: SimFault | undefined;
  private frozenAt: number | undefined;
  private base = "";

  constructor(private readonly options: SimulatorOptions = {}) {
    this.users = options.users ?? [DEFAULT_USER];
    this.models = new Map((options.sites ?? [defaultSite()]).map((site) => [site.id, new SiteModel(site)]));
    this.now = options.now ?? Date.now;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch(() => send(res, 500, { msg: "internal error" }));
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const { port } = this.server.address() as AddressInfo;
    this.base = `http://127.0.0.1:${port}${BASE}`;
    return this.base;
  }

  get url(): string {
    return this.base;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  fault(fault: SimFault | undefined): void {
    this.currentFault = fault ? { ...fault } : undefined;
  }

  /** Stops new intervals from appearing, until resume(): then the missed ones are served late. */
  freeze(): void {
    this.frozenAt ??= this.now();
  }

  resume(): void {
    this.frozenAt = undefined;
  }

  /** End of the latest interval served now. */
  availableUntil(): number {
    const until = Math.min(this.now() - (this.options.publicationDelayMs ?? 0), this.frozenAt ?? Infinity);
    return Math.floor(until / QUARTER) * QUARTER;
  }

  /** Every token issued so far, so tests can prove none leaks. */
  issuedTokens(): string[] {
    return [...this.tokens.keys()];
  }

  /** The model behind a site, so tests can compute what it serves. */
  model(site: string): SiteModel | undefined {
    return this.models.get(site);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://simulator");
    const method = req.method ?? "GET";
    const text = await readBody(req);
    const path = url.pathname.startsWith(BASE) ? url.pathname.slice(BASE.length) : url.pathname;
    const body = parseBody(text);
    const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
    const session = token ? this.tokens.get(token) : undefined;
    const username = path === "/auth" ? stringField(body, "username") : session?.username;
    const entry: SimRequest = { time: Date.now(), username, method, path, status: 0 };
    this.requests.push(entry);
    const reply = (status: number, payload: unknown, raw?: string) => {
      entry.status = status;
      send(res, status, payload, raw);
    };

    const client = username ?? req.socket.remoteAddress ?? "?";
    const previous = this.lastAccepted.get(client);
    const arrived = performance.now();
    if (previous !== undefined && arrived - previous < (this.options.minRequestGapMs ?? 950)) {
      res.setHeader("Retry-After", "1");
      return reply(429, { msg: "Too many requests: 1 per 1 second" });
    }
    this.lastAccepted.set(client, arrived);

    const fault = this.takeFault(path);
    if (fault?.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    if (fault?.reset) {
      req.socket.destroy();
      return;
    }
    if (fault?.garbage) return reply(200, undefined, "<html><body>502 Bad Gateway</body></html>");
    if (fault?.status) return reply(fault.status, { msg: `simulated fault ${fault.status}` }, fault.body);

    if (path === "/auth") {
      if (method !== "POST") return reply(405, { msg: "Method not allowed" });
      const user = this.users.find(
        (u) => u.username === username && u.password === stringField(body, "password"),
      );
      if (!user) return reply(401, { msg: "Bad username or password" });
      const issued = this.issueToken(user.username);
      return reply(200, { access_token: issued.token, valid_until: { $date: issued.validUntil } });
    }
    if (!token) return reply(401, { msg: "Missing Authorization Header" });
    if (!session) return reply(422, { msg: "Signature verification failed" });
    if (this.now() >= session.validUntil) return reply(401, { msg: "Token has expired" });
    const account = this.users.find((u) => u.username === session.username);
    const result = route(method, path, body, url.searchParams, {
      visible: [...this.models.values()].filter((m) => !account?.sites || account.sites.includes(m.site.id)),
      listShape: this.options.listShape ?? "objects",
      now: this.now(),
      availableUntil: this.availableUntil(),
    });
    this.rowsServed += result.rows ?? 0;
    return reply(result.status, result.payload);
  }

  private takeFault(path: string): SimFault | undefined {
    const fault = this.currentFault;
    if (!fault || (fault.path && !path.includes(fault.path))) return undefined;
    if (fault.times !== undefined) {
      fault.times -= 1;
      if (fault.times <= 0) this.currentFault = undefined;
    }
    return fault;
  }

  private issueToken(username: string): { token: string; validUntil: number } {
    const now = this.now();
    const validUntil = now + (this.options.tokenLifetimeMs ?? 15 * 60_000);
    const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const claims = { sub: username, iat: Math.floor(now / 1000), exp: Math.floor(validUntil / 1000) };
    const jti = randomBytes(8).toString("hex");
    const token = `${part({ alg: "HS256", typ: "JWT" })}.${part({ ...claims, jti })}.${randomBytes(32).toString("base64url")}`;
    this.tokens.set(token, { username, validUntil });
    this.logins += 1;
    return { token, validUntil };
  }
}

function parseBody(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return Object.fromEntries(new URLSearchParams(text));
  }
}

function stringField(body: unknown, key: string): string | undefined {
  const value =
    body !== null && typeof body === "object" ? (body as Record<string, unknown>)[key] : undefined;
  return typeof value === "string" ? value : undefined;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 65_536) break;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function send(res: ServerResponse, status: number, payload: unknown, raw?: string): void {
  if (res.headersSent || res.destroyed) return;
  const text = raw ?? JSON.stringify(payload);
  res.writeHead(status, { "Content-Type": raw && !raw.startsWith("{") ? "text/html" : "application/json" });
  res.end(text);
}
