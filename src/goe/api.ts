import { kindOfStatus, UpstreamError } from "../upstream/errors.js";
import { BODY_LIMITS, bodyExcerpt, httpRequest, parseJson } from "../upstream/http.js";
import { markSent } from "../util/request-trail.js";

export type GoeStatus = Record<string, unknown>;

/** How the charger (or the cloud in front of it) answered an `/api/set`. */
export interface GoeSetOutcome {
  /** Keys the charger or cloud said it took (the cloud says so even for read-only keys). */
  accepted: string[];
  /** Keys refused, with the reason given (a Map: key names come from users). */
  rejected: Map<string, string>;
}

export interface GoeApiOptions {
  /** `https://<serial>.api.v3.go-e.io` for the cloud, `http://<ip>` for the local API. */
  baseUrl: string;
  token?: string;
  timeoutMs: number;
  /** `goe[0]`: named in errors so the user knows which entry to fix. */
  configPath: string;
}

/**
 * Whether a value goes over the wire as it is: JSON turns Infinity and NaN into null (which
 * for dwo removes the energy limit) and drops undefined and functions.
 */
export function sendableJson(value: unknown): boolean {
  if (typeof value === "number") return Number.isFinite(value);
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (Array.isArray(value)) return value.every(sendableJson);
  if (typeof value === "object") return Object.values(value).every(sendableJson);
  return false;
}

/**
 * Encodes `/api/set` values the way go-e reads them: JSON, so strings are quoted. A value JSON
 * would change is a bug upstream of here: it throws, and nothing is sent.
 */
export function encodeSetQuery(params: Record<string, unknown>): string {
  return Object.entries(params)
    .map(([key, value]) => {
      if (!sendableJson(value)) throw new Error(`go-e set: ${key} has no exact JSON form; nothing was sent`);
      return `${encodeURIComponent(key)}=${encodeURIComponent(JSON.stringify(value))}`;
    })
    .join("&");
}

/** The go-eCharger HTTP API v2, served by the cloud (v3 hosts) and by the charger itself. */
export class GoeApi {
  readonly cloud: boolean;
  private readonly headers: Record<string, string>;
  /** The URL of the latest status request, by its filter: most polls ask the same keys. */
  private statusUrl: { filter: string; url: URL } | undefined;

  constructor(private readonly options: GoeApiOptions) {
    this.cloud = /\.api\.v3\.go-e\.io$/i.test(new URL(options.baseUrl).hostname) || Boolean(options.token);
    this.headers = { accept: "application/json" };
    if (options.token) this.headers.authorization = `Bearer ${options.token}`;
  }

  async status(keys: readonly string[]): Promise<GoeStatus> {
    // built once for the list the charger is polled with, not parsed again every second
    // (by the filter text: a poll during an RFID session adds keys in a new array every time)
    const filter = keys.join(",");
    if (this.statusUrl?.filter !== filter) {
      this.statusUrl = { filter, url: new URL(`${this.options.baseUrl}/api/status?filter=${filter}`) };
    }
    const response = await this.get(this.statusUrl.url);
    if (response.status !== 200) throw this.failure("status", response.status, response.text);
    const body = parseJson(response.text, "go-e status");
    if (!body || typeof body !== "object" || Array.isArray(body)) {
      throw new UpstreamError("badResponse", "go-e status: the answer is not a JSON object");
    }
    // every status answer carries car (a number, null while booting): without it the body is
    // something else (an error page in JSON, a proxy's answer) and must not count as data
    const car = (body as GoeStatus).car;
    if (car !== null && !(typeof car === "number" || (typeof car === "string" && /^\d+$/.test(car)))) {
      throw new UpstreamError(
        "badResponse",
        `go-e status: unexpected answer shape (car is ${JSON.stringify(car) ?? "missing"})`,
      );
    }
    return body as GoeStatus;
  }

  async set(params: Record<string, unknown>): Promise<GoeSetOutcome> {
    const request = this.get(`/api/set?${encodeSetQuery(params)}`);
    markSent();
    const response = await request;
    const keys = Object.keys(params);
    if (response.status === 422) {
      // all keys refused; the cloud names a reason per key, older answers one for all
      let perKey: GoeSetOutcome | undefined;
      try {
        perKey = readSetOutcome(JSON.parse(response.text), keys);
      } catch {
        perKey = undefined;
      }
      const reason = this.reason(response.text);
      return {
        accepted: [],
        rejected: new Map(keys.map((key) => [key, perKey?.rejected.get(key) ?? reason])),
      };
    }
    // the local API answers 200 (or 500 with a JSON body) per key; the cloud answers 202
    if (response.status === 200 || response.status === 202 || (response.status === 500 && !this.cloud)) {
      const body = parseJson(response.text, "go-e set");
      const outcome = readSetOutcome(body, keys);
      if (outcome) return outcome;
      if (response.status === 500) throw this.failure("set", response.status, response.text);
      throw new UpstreamError("badResponse", "go-e set: unexpected answer shape");
    }
    throw this.failure("set", response.status, response.text);
  }

  private get(target: string | URL) {
    return httpRequest(typeof target === "string" ? `${this.options.baseUrl}${target}` : target, {
      headers: this.headers,
      timeoutMs: this.options.timeoutMs,
      maxBodyBytes: BODY_LIMITS.goe,
    });
  }

  private reason(text: string): string {
    try {
      const body = JSON.parse(text) as Record<string, unknown>;
      const reason = body.reason ?? body.error ?? body.message;
      if (typeof reason === "string") return reason;
    } catch {
      // not JSON: fall through
    }
    return "rejected by the charger";
  }

  private failure(what: string, status: number, text: string): UpstreamError {
    const path = this.options.configPath;
    const where = this.cloud ? "go-e cloud" : "go-e charger";
    switch (status) {
      case 401:
        return new UpstreamError(
          "auth",
          `${where}: API token refused (401): check ${path}.token (app: Internet › Advanced settings)`,
          status,
        );
      case 403:
        return new UpstreamError(
          "forbidden",
          this.cloud
            ? `${where}: charger offline or cloud API disabled (403): enable the cloud API in the app (Internet › Advanced settings)`
            : `${where}: access denied (403)`,
          status,
        );
      case 404: {
        if (this.cloud) {
          const age = /"age"\s*:\s*([\d.]+)/.exec(text)?.[1];
          const ago = age ? `, last data ${Math.round(Number(age))}s ago` : "";
          return new UpstreamError(
            "notFound",
            `${where}: no recent data from the charger (404 Data is outdated${ago}): is it online?`,
            status,
          );
        }
        return new UpstreamError(
          "notFound",
          `${where}: /api/${what} not found (404): needs HTTP API v2 (firmware 051 or newer, enable it in the app)`,
          status,
        );
      }
      case 429:
        return new UpstreamError("rateLimited", `${where}: too many requests (429)`, status);
      default:
        return new UpstreamError(
          kindOfStatus(status),
          `${where}: ${what} failed with HTTP ${status} (${bodyExcerpt(text)})`,
          status,
        );
    }
  }
}

/**
 * Reads both answer shapes: the cloud's `{"succeeded":[…],"failed":[…]}` (elements are keys or
 * `{key: value}` objects) and the local per-key `{"amp":true,"fna":"error text"}`.
 */
export function readSetOutcome(body: unknown, keys: readonly string[]): GoeSetOutcome | undefined {
  if (!body || typeof body !== "object" || Array.isArray(body)) return undefined;
  const record = body as Record<string, unknown>;
  if (Array.isArray(record.succeeded) || Array.isArray(record.failed)) {
    const accepted = listKeys(record.succeeded).map(([key]) => key);
    const rejected = new Map<string, string>();
    for (const [key, detail] of listKeys(record.failed))
      rejected.set(key, detail ?? "rejected by the charger");
    return { accepted, rejected };
  }
  const accepted: string[] = [];
  const rejected = new Map<string, string>();
  for (const key of keys) {
    if (!Object.hasOwn(record, key)) continue;
    const answer = record[key];
    if (answer === true) accepted.push(key);
    else if (typeof answer === "string") rejected.set(key, answer);
    else if (answer !== undefined) rejected.set(key, JSON.stringify(answer) ?? String(answer));
  }
  if (accepted.length === 0 && rejected.size === 0) return undefined;
  return { accepted, rejected };
}

function listKeys(list: unknown): Array<[string, string | undefined]> {
  if (!Array.isArray(list)) return [];
  const entries: Array<[string, string | undefined]> = [];
  for (const item of list) {
    if (typeof item === "string") entries.push([item, undefined]);
    else if (item && typeof item === "object") {
      for (const [key, detail] of Object.entries(item)) {
        entries.push([key, typeof detail === "string" ? detail : undefined]);
      }
    }
  }
  return entries;
}
