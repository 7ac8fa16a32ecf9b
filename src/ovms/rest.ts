import { kindOfStatus, UpstreamError } from "../upstream/errors.js";
import { bodyExcerpt, describeRequest, httpRequest, parseJson } from "../upstream/http.js";
import { Priority, type UpstreamQueue } from "../upstream/queue.js";
import { addSecret } from "../util/secrets.js";

// The OVMS server's REST API with its cookie session. The cookie comes from
// `GET /api/cookie?username=&password=` and is kept until the server refuses it: 401 on
// current servers, 404 on pre-2021 ones (which answered every refusal with 404). Then one new
// login and one retry. Sessions die a fixed time after login (timeout_api, 120 s in the code,
// 300 s shipped), whatever the activity, and with them the peer connections made on them.

export interface RestOptions {
  /** Base URL, e.g. https://ovms.dexters-web.de:6869 (may contain a path). */
  url: string;
  username: string;
  password: string;
  timeoutMs: number;
  queue: UpstreamQueue;
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

export class OvmsRest {
  private cookie: string | undefined;
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
    if (!this.cookie) await this.renew(this.generation, priority);
    const generation = this.generation;
    let response = await this.options.queue.run(() => this.request(path, options.method), priority);
    if (refusedSession(response.status) && options.renew !== false) {
      await this.renew(generation, priority);
      response = await this.options.queue.run(() => this.request(path, options.method), priority);
    }
    const what = describeRequest(options.method ?? "GET", new URL(`${this.base}${path}`));
    if (response.status !== 200) throw statusError(what, response.status, response.text);
    if (options.method === "DELETE") return response.text;
    return parseJson(response.text, what);
  }

  /** Forgets the session (the server expires it by itself). */
  reset(): void {
    this.cookie = undefined;
  }

  private request(path: string, method: "GET" | "DELETE" = "GET") {
    const headers: Record<string, string> = {};
    if (this.cookie) headers.cookie = `ovmsapisession=${this.cookie}`;
    return httpRequest(`${this.base}${path}`, { method, headers, timeoutMs: this.options.timeoutMs });
  }

  /** Logs in unless another call already replaced the session `generation` refers to. */
  private async renew(generation: number, priority: Priority): Promise<void> {
    if (this.generation !== generation && this.cookie) return;
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
      () => httpRequest(url, { timeoutMs: this.options.timeoutMs }),
      priority,
    );
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
    this.generation += 1;
  }
}

function refusedSession(status: number): boolean {
  return status === 401 || status === 404;
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
  if (status === 429) reason = "429 too many requests from this address: polling backs off";
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
