import type { ClimkitConfig } from "../config/schema.js";
import { kindOfStatus, UpstreamError } from "../upstream/errors.js";
import { BODY_LIMITS, bodyExcerpt, type HttpResponse, httpRequest, parseJson } from "../upstream/http.js";
import { UpstreamQueue } from "../upstream/queue.js";
import { sleep } from "../util/duration.js";
import type { Logger } from "../util/log.js";
import { addSecret } from "../util/secrets.js";
import {
  latestSensorReading,
  type MeterInfo,
  type MeterRow,
  parseInstallationInfo,
  parseInstallations,
  parseMeterRows,
  parseMeters,
  parseSensors,
  parseSiteRows,
  type SensorInfo,
  type SensorReading,
  type SiteInfo,
  type SiteRef,
  type SiteRow,
} from "./parse.js";
import { parseTimestamp, toNaiveUtc } from "./time.js";

export interface ClimkitApiOptions {
  logger: Logger;
  now: () => number;
  /** Climkit allows 1 request/s per account, login included. */
  minSpacingMs: number;
  /** Retries of one request on 429, 5xx, timeouts and resets before the poll fails. */
  retries: number;
  /** First retry delay; doubles per retry (a 429's Retry-After wins when longer). */
  retryDelayMs: number;
  /** Aborts waiting and retrying when the source stops. */
  signal: AbortSignal;
}

/** Without `valid_until` in the login answer: the documented 15 minutes, less a margin. */
const FALLBACK_LIFETIME_MS = 14 * 60_000;
const MAX_RETRY_DELAY_MS = 30_000;

type Method = "GET" | "POST";

/**
 * One Climkit account: its session token and its single rate-limited queue. Every request,
 * login included, runs through the queue. The JWT is kept until shortly before `valid_until`
 * (a minute before, for the 15-minute tokens) and renewed then, or at once after a 401.
 */
export class ClimkitApi {
  private readonly queue: UpstreamQueue;
  private token: string | undefined;
  private renewAt = 0;
  private login: Promise<string> | undefined;

  constructor(
    private readonly config: ClimkitConfig,
    private readonly index: number,
    private readonly options: ClimkitApiOptions,
  ) {
    addSecret(config.password);
    this.queue = new UpstreamQueue(`climkit:${config.username}`, options.minSpacingMs);
  }

  installations(): Promise<SiteRef[]> {
    return this.fetch("GET", "all_installations", undefined, parseInstallations);
  }

  installationInfo(site: string): Promise<SiteInfo> {
    return this.fetch(
      "GET",
      `installation_infos/${encodeURIComponent(site)}`,
      undefined,
      parseInstallationInfo,
    );
  }

  meters(site: string): Promise<MeterInfo[]> {
    return this.fetch("GET", `meter_info/${encodeURIComponent(site)}`, undefined, parseMeters);
  }

  sensors(site: string): Promise<SensorInfo[]> {
    return this.fetch("GET", `${encodeURIComponent(site)}/sensors_list`, undefined, parseSensors);
  }

  /** Electricity rows of the site whose interval starts at or after `from`. */
  siteRows(site: string, from: number): Promise<SiteRow[]> {
    const body = { t_s: toNaiveUtc(from), sampling_frequency: "15T" };
    return this.fetch("POST", `site_data/${encodeURIComponent(site)}/electricity`, body, parseSiteRows);
  }

  meterRows(site: string, meter: string, from: number): Promise<MeterRow[]> {
    const body = { t_s: toNaiveUtc(from), sampling_frequency: "15T" };
    const path = `meter_data/${encodeURIComponent(site)}/${encodeURIComponent(meter)}`;
    return this.fetch("POST", path, body, parseMeterRows);
  }

  sensorReading(site: string, sensor: string): Promise<SensorReading | undefined> {
    const path = `${encodeURIComponent(site)}/sensor_data/${encodeURIComponent(sensor)}`;
    return this.fetch("GET", path, undefined, latestSensorReading);
  }

  /** Drops waiting requests; does not wait long for one in flight. */
  async close(): Promise<void> {
    await Promise.race([this.queue.close(), sleep(1000)]);
  }

  private async fetch<T>(
    method: Method,
    path: string,
    body: object | undefined,
    parse: (json: unknown, what: string) => T,
  ): Promise<T> {
    const what = `Climkit: ${method} ${path}`;
    let { response, token } = await this.exchange(what, method, path, body, true);
    if (response.status === 401) {
      // expired early or revoked: one new login, one retry
      if (this.token === token) this.token = undefined;
      ({ response } = await this.exchange(what, method, path, body, true));
    }
    if (response.status < 200 || response.status > 299) throw statusError(what, response);
    return parse(parseJson(response.text, what), what);
  }

  private session(): Promise<string> {
    if (this.token && this.options.now() < this.renewAt) return Promise.resolve(this.token);
    this.login ??= this.logIn().finally(() => {
      this.login = undefined;
    });
    return this.login;
  }

  private async logIn(): Promise<string> {
    const what = "Climkit: POST auth";
    const { username, password } = this.config;
    const { response } = await this.exchange(what, "POST", "auth", { username, password }, false);
    if (response.status === 401 || response.status === 403) {
      throw new UpstreamError(
        "auth",
        `Climkit: login refused (${response.status}): check climkit[${this.index}].username/password`,
        response.status,
      );
    }
    if (response.status < 200 || response.status > 299) throw statusError(what, response);
    const answer = parseJson(response.text, what) as { access_token?: unknown; valid_until?: unknown } | null;
    const token = answer?.access_token;
    if (typeof token !== "string" || token === "") {
      throw new UpstreamError("badResponse", `${what}: the answer holds no access_token`);
    }
    addSecret(token);
    const now = this.options.now();
    const validUntil = parseTimestamp(answer?.valid_until) ?? now + FALLBACK_LIFETIME_MS;
    // renew a minute early (a tenth of a short lifetime), and never later than two request
    // spacings before expiry: a request may wait that long in the queue after taking the token
    const lifetime = Math.max(0, validUntil - now);
    const margin = Math.max(Math.min(60_000, lifetime / 10), 2 * this.options.minSpacingMs);
    this.renewAt = validUntil - Math.min(margin, lifetime / 2);
    this.token = token;
    this.options.logger.debug({ validUntil: new Date(validUntil).toISOString() }, "Climkit: logged in");
    return token;
  }

  /**
   * One request through the queue, retried with back-off on 429, 5xx, timeouts and resets.
   * An authorized request takes the session token per attempt, so a retry after a long
   * back-off does not send a token that expired meanwhile.
   */
  private async exchange(
    what: string,
    method: Method,
    path: string,
    body: object | undefined,
    authorized: boolean,
  ): Promise<{ response: HttpResponse; token?: string }> {
    const { signal, retries, retryDelayMs } = this.options;
    const url = `${this.config.url}/${path}`;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    for (let attempt = 0; ; attempt += 1) {
      let failure: UpstreamError;
      let delay = retryDelayMs * 2 ** attempt;
      const token = authorized ? await this.session() : undefined;
      const headers: Record<string, string> = {
        "Content-Type": "application/json",
        Accept: "application/json",
      };
      if (token) headers.Authorization = `Bearer ${token}`;
      const request = {
        method,
        headers,
        body: payload,
        timeoutMs: this.config.timeout,
        maxBodyBytes: BODY_LIMITS.climkit,
      };
      try {
        const response = await abortable(
          this.queue.run(() => httpRequest(url, request)),
          signal,
        );
        if (response.status !== 429 && response.status < 500) return { response, token };
        failure = statusError(what, response);
        delay = Math.max(delay, retryAfterMs(response));
      } catch (error) {
        if (!(error instanceof UpstreamError) || (error.kind !== "timeout" && error.kind !== "network"))
          throw error;
        failure = new UpstreamError(error.kind, `Climkit: ${error.message}`, error.status);
      }
      if (attempt >= retries) throw failure;
      this.options.logger.debug({ attempt: attempt + 1, delay }, `${failure.message}; retrying`);
      await sleep(Math.min(delay, MAX_RETRY_DELAY_MS), signal);
      if (signal.aborted) throw stopped();
    }
  }
}

function statusError(what: string, response: HttpResponse): UpstreamError {
  const excerpt = bodyExcerpt(response.text);
  const message = `${what} answered ${response.status}${excerpt ? `: ${excerpt}` : ""}`;
  return new UpstreamError(kindOfStatus(response.status), message, response.status);
}

function retryAfterMs(response: HttpResponse): number {
  const header = response.headers["retry-after"];
  const seconds = Number(Array.isArray(header) ? header[0] : header);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0;
}

function stopped(): Error {
  return new Error("Climkit: stopped");
}

/** Settles with the promise, or rejects as soon as the source stops (the request may go on). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(stopped());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(stopped());
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
