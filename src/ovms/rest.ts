import { kindOfStatus, UpstreamError } from "../upstream/errors.js";
import { BODY_LIMITS, bodyExcerpt, describeRequest, httpRequest, parseJson } from "../upstream/http.js";
import { Priority, type UpstreamQueue } from "../upstream/queue.js";
import { addSecret } from "../util/secrets.js";

// The OVMS server's REST API with its cookie session. The cookie comes from
// `GET /api/cookie?username=&password=` and is kept until the server refuses it: 401 on
// current servers, 404 on pre-2021 ones (which answered every refusal with 404). Then one new
// login and one retry. Sessions die a fixed time after login (timeout_api, 120 s in the code,
// 300 s shipped; a 10 s sweep ends them), whatever the activity, and with them the peer
// connections made on them. Once one session has died, the bridge knows how long they live at
// least and logs in again before that instead of waiting for the refusal. A 404 from a fresh
// session is not taken for an expiry (the real server answers `404 not found` when a handler
// dies, e.g. /api/tpms on a V3 car). A 429 (the server held the request 20 s first) pauses
// every request to the server for a minute: its quota refills once a minute.

export interface RestOptions {
  /** Base URL, e.g. https://ovms.dexters-web.de:6869 (may contain a path). */
  url: string;
  username: string;
  password: string;
  timeoutMs: number;
  queue: UpstreamQueue;
  /** No request for this long after a 429 (default a minute: the quota refills once a minute). */
  rateLimitPauseMs?: number;
  /** The server's session sweep period and how young a session is "fresh" (10 s, 60 s), for tests. */
  sessionTiming?: { sweepMs: number; freshMs: number };
}

export interface RestCallOptions {
  method?: "GET" | "DELETE";
  priority?: Priority;
  /**
   * Whether a refused session is renewed and the call retried. Off for a peer disconnect:
   * when the session is gone, so is the peer connection.
   */
  renew?: boolean;
}

/** A session younger than this is not taken for expired on a 404. */
const FRESH_SESSION_MS = 60_000;
/** The server's sweep ends a session up to this long after its lifetime. */
const SWEEP_MS = 10_000;
/** After a 429 no request for this long: the server adds to the quota once a minute. */
const RATE_LIMIT_PAUSE_MS = 60_000;

export class OvmsRest {
  private cookie: string | undefined;
  private loginAt = 0;
  /** When a request last succeeded on the current session. */
  private lastOkAt = 0;
  /** How long sessions surely live, learnt from one that died; renewed before that. */
  private safeLifetimeMs: number | undefined;
  /** A session this old was refused once: one as old is surely gone (they all live as long). */
  private deadAfterMs: number | undefined;
  private pausedUntil = 0;
  /** Counts logins, so a refusal of an already replaced session does not log in again. */
  private generation = 0;
  private login: Promise<void> | undefined;
  private readonly base: string;

  constructor(private readonly options: RestOptions) {
    this.base = options.url.replace(/\/+$/, "");
  }

  /** The current session's number: peer connections belong to one session. */
  get session(): number {
    return this.generation;
  }

  /** GETs a JSON document; for DELETE the body is returned as text. */
  async call(path: string, options: RestCallOptions = {}): Promise<unknown> {
    const priority = options.priority ?? Priority.poll;
    const what = describeRequest(options.method ?? "GET", new URL(`${this.base}${path}`));
    this.checkPause(what);
    const age = performance.now() - this.loginAt;
    const aboutToExpire = age >= Math.min(this.safeLifetimeMs ?? Infinity, this.deadAfterMs ?? Infinity);
    if (!this.cookie || (aboutToExpire && options.renew !== false)) {
      await this.renew(this.generation, priority, true);
    }
    const generation = this.generation;
    let response = await this.send(path, options.method, priority);
    if (options.renew !== false && this.refusedSession(response.status, response.text)) {
      this.learnLifetime();
      await this.renew(generation, priority);
      response = await this.send(path, options.method, priority);
    }
    if (response.status === 200 && generation === this.generation) this.lastOkAt = performance.now();
    if (response.status === 429)
      this.pausedUntil = performance.now() + (this.options.rateLimitPauseMs ?? RATE_LIMIT_PAUSE_MS);
    if (response.status !== 200) throw statusError(what, response.status, response.text);
    if (options.method === "DELETE") return response.text;
    return parseJson(response.text, what);
  }

  /** Forgets the session (the server expires it by itself). */
  reset(): void {
    this.cookie = undefined;
  }

  private get freshMs(): number {
    return this.options.sessionTiming?.freshMs ?? FRESH_SESSION_MS;
  }

  /** How long sessions surely live, once learnt (for tests and the bench). */
  get knownSessionLifetimeMs(): number | undefined {
    return this.safeLifetimeMs;
  }

  private send(path: string, method: "GET" | "DELETE" | undefined, priority: Priority) {
    return this.options.queue.run(() => this.request(path, method), priority);
  }

  private checkPause(what: string): void {
    const left = this.pausedUntil - performance.now();
    if (left <= 0) return;
    const seconds = Math.ceil(left / 1000);
    throw new UpstreamError(
      "rateLimited",
      `${what}: not sent: the server answered 429 (too many requests from this address); next try in ${seconds}s`,
      429,
    );
  }

  /**
   * 401 is an expired session. 404 is one on pre-2021 servers, which refused everything with
   * 404, but also what a current server answers when a handler dies: only a session that is
   * not fresh, or a 404 that names the authentication, is renewed.
   */
  private refusedSession(status: number, body: string): boolean {
    if (status === 401) return true;
    if (status !== 404) return false;
    return /auth/i.test(body) || performance.now() - this.loginAt >= this.freshMs;
  }

  /**
   * A session that was refused lived at least until its last good request, and the server's
   * sweep ends sessions up to 10 s after their lifetime: so sessions surely live that long less
   * 10 s. And one refused at some age tells that sessions that old are gone: with the rare
   * reads of the v2 data path that saves the refused request before each new login.
   */
  private learnLifetime(): void {
    const age = performance.now() - this.loginAt;
    // a young session refused is a server restart or the like, not its lifetime
    if (age >= this.freshMs) this.deadAfterMs = Math.min(this.deadAfterMs ?? Infinity, age);
    if (this.lastOkAt <= this.loginAt) return;
    const lived = this.lastOkAt - this.loginAt - (this.options.sessionTiming?.sweepMs ?? SWEEP_MS);
    if (lived > 0) this.safeLifetimeMs = Math.max(this.safeLifetimeMs ?? 0, lived);
  }

  private request(path: string, method: "GET" | "DELETE" = "GET") {
    const headers: Record<string, string> = {};
    if (this.cookie) headers.cookie = `ovmsapisession=${this.cookie}`;
    return httpRequest(`${this.base}${path}`, {
      method,
      headers,
      timeoutMs: this.options.timeoutMs,
      maxBodyBytes: BODY_LIMITS.ovms,
    });
  }

  /** Logs in unless another call already replaced the session `generation` refers to. */
  private async renew(generation: number, priority: Priority, early = false): Promise<void> {
    if (this.generation !== generation && this.cookie && !early) return;
    if (!this.login) {
      this.login = this.doLogin(priority).finally(() => {
        this.login = undefined;
      });
    }
    await this.login;
  }

  private async doLogin(priority: Priority): Promise<void> {
    this.cookie = undefined;
    const { username, password } = this.options;
    const url = new URL(`${this.base}/api/cookie`);
    url.searchParams.set("username", username);
    url.searchParams.set("password", password);
    // never the URL itself in a message: its query holds the password
    const what = describeRequest("GET", url);
    const response = await this.options.queue.run(
      () => httpRequest(url, { timeoutMs: this.options.timeoutMs, maxBodyBytes: BODY_LIMITS.ovms }),
      priority,
    );
    if (response.status === 429)
      this.pausedUntil = performance.now() + (this.options.rateLimitPauseMs ?? RATE_LIMIT_PAUSE_MS);
    if (response.status !== 200) {
      const reason = loginRefusal(response.status, response.text);
      throw new UpstreamError(kindOfStatus(response.status), `${what}: ${reason}`, response.status);
    }
    const cookie = sessionCookie(response.headers["set-cookie"]);
    if (!cookie) {
      throw new UpstreamError("badResponse", `${what}: login answered without an ovmsapisession cookie`);
    }
    addSecret(cookie);
    this.cookie = cookie;
    this.loginAt = performance.now();
    this.lastOkAt = this.loginAt;
    this.generation += 1;
  }
}

function loginRefusal(status: number, body: string): string {
  const text = bodyExcerpt(body);
  if (status === 401) return "login refused: wrong username or password";
  if (status === 403) {
    return `login refused (403 ${text}): an API token needs the "session" permit; use the account password or such a token`;
  }
  if (status === 404)
    return `login refused (404 ${text}): wrong username or password, or no OVMS API at this URL`;
  if (status === 429) return "login refused: too many requests from this address (429)";
  return `login failed: ${status} ${text}`;
}

function statusError(what: string, status: number, body: string): UpstreamError {
  const text = bodyExcerpt(body);
  let reason = `${status} ${text}`;
  if (status === 401) reason = "401 session refused again right after a new login";
  if (status === 429) reason = "429 too many requests from this address: requests pause for a minute";
  if (status === 502) reason = `502 ${text} (paranoid mode: the server cannot read this car's data)`;
  return new UpstreamError(kindOfStatus(status), `${what}: ${reason}`, status);
}

/** The `ovmsapisession` value of the Set-Cookie header(s). */
export function sessionCookie(header: string | string[] | undefined): string | undefined {
  const headers = Array.isArray(header) ? header : header ? [header] : [];
  for (const line of headers) {
    const match = /(?:^|[;,]\s*)ovmsapisession=([^;,\s]+)/.exec(line);
    if (match?.[1]) return match[1];
  }
  return undefined;
}
