import { createRequire } from "node:module";
import type { Dispatcher, Agent as UndiciAgent } from "undici";
import { scrubText } from "../util/secrets.js";
import { networkFailure, timeoutFailure, UpstreamError } from "./errors.js";

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export interface HttpRequest {
  method?: "GET" | "POST" | "PUT" | "DELETE";
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** Largest answer accepted (bytes); a larger one is aborted. Default: BODY_LIMITS.default. */
  maxBodyBytes?: number;
}

const MB = 1024 * 1024;
/**
 * Largest answer body per upstream. Real answers are far smaller (a go-e status ~10 KB, a day
 * of Climkit meter rows ~100 KB, OVMS records a few KB); an answer past the limit comes from a
 * broken or hostile upstream, and reading one whole took the bridge from 109 MB to 727 MB RSS.
 */
export const BODY_LIMITS = { goe: 1 * MB, climkit: 8 * MB, ovms: 2 * MB, default: 4 * MB } as const;

/** The answer of a request past its body limit; the request was aborted. */
function tooLarge(what: string, limit: number, size: string): UpstreamError {
  return new UpstreamError(
    "badResponse",
    `${what}: answer too large (${size}, at most ${limit / MB} MB); the request was aborted. Check that the URL points at the service`,
  );
}

/** What the metrics see of every upstream request. */
export interface HttpEvent {
  host: string;
  method: string;
  status?: number;
  durationMs: number;
  error?: string;
}
const observers = new Set<(event: HttpEvent) => void>();
export function observeHttp(observer: (event: HttpEvent) => void): () => void {
  observers.add(observer);
  return () => observers.delete(observer);
}

// undici's Agent alone: its index loads fetch, WebSocket, caches and mocks too, 110 modules and
// about 9 MB of memory that a bridge never uses (the file is undici's own Agent, also behind
// `import { Agent } from "undici"`)
const Agent = createRequire(import.meta.url)("undici/lib/dispatcher/agent.js") as typeof UndiciAgent;

// One keep-alive pool for the whole process: a charger polled every second would otherwise
// open a TLS connection per poll.
const agent = new Agent({
  keepAliveTimeout: 30_000,
  keepAliveMaxTimeout: 60_000,
  connect: { timeout: 10_000 },
});

/** `GET host/path`, without the query string: queries can hold credentials (OVMS login). */
export function describeRequest(method: string, url: URL): string {
  return `${method} ${url.host}${url.pathname}`;
}

/**
 * One HTTP request with an overall deadline. Transport failures become UpstreamErrors whose
 * message names the request without its query; HTTP statuses are returned, not thrown, since
 * each upstream gives them its own meaning.
 *
 * It goes to undici's dispatcher with a handler that gathers the body, rather than through
 * `request()`: that wraps every answer in a stream and an abort signal, about half of what a
 * poll costs in memory and CPU at 1000 chargers a second.
 */
export function httpRequest(target: string | URL, options: HttpRequest): Promise<HttpResponse> {
  const url = typeof target === "string" ? new URL(target) : target;
  const method = options.method ?? "GET";
  const started = performance.now();
  return new Promise<HttpResponse>((resolve, reject) => {
    let settled = false;
    let controller: Dispatcher.DispatchController | undefined;
    let status = 0;
    let headers: HttpResponse["headers"] = {};
    const chunks: Buffer[] = [];
    let size = 0;
    const limit = options.maxBodyBytes ?? BODY_LIMITS.default;
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      chunks.length = 0;
      const failure =
        error instanceof UpstreamError
          ? error
          : transportError(error, describeRequest(method, url), options.timeoutMs);
      notify({ host: url.host, method, durationMs: performance.now() - started, error: failure.kind });
      reject(failure);
    };
    const deadline = setTimeout(() => {
      const error = new DOMException("deadline passed", "TimeoutError");
      fail(error);
      controller?.abort(error);
    }, options.timeoutMs).unref();
    try {
      agent.dispatch(
        {
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method,
          headers: options.headers,
          body: options.body,
          headersTimeout: options.timeoutMs,
          bodyTimeout: options.timeoutMs,
        },
        {
          onRequestStart(requestController) {
            controller = requestController;
            // the deadline passed while the request waited for a connection
            if (settled) requestController.abort(new DOMException("deadline passed", "TimeoutError"));
          },
          onResponseStart(responseController, statusCode, responseHeaders) {
            status = statusCode;
            headers = responseHeaders;
            const declared = Number(responseHeaders["content-length"]);
            if (Number.isFinite(declared) && declared > limit) {
              const error = tooLarge(
                describeRequest(method, url),
                limit,
                `${(declared / MB).toFixed(1)} MB announced`,
              );
              fail(error);
              responseController.abort(error);
            }
          },
          onResponseData(responseController, chunk) {
            if (settled) return;
            size += chunk.length;
            // nothing past the limit is kept: the connection is dropped, the chunks freed
            if (size > limit) {
              const error = tooLarge(describeRequest(method, url), limit, `more than ${limit / MB} MB`);
              fail(error);
              responseController.abort(error);
              return;
            }
            chunks.push(chunk);
          },
          onResponseEnd() {
            if (settled) return;
            settled = true;
            clearTimeout(deadline);
            const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString("utf8");
            notify({ host: url.host, method, status, durationMs: performance.now() - started });
            resolve({ status, headers, text });
          },
          onResponseError(_controller, error) {
            fail(error);
          },
        },
      );
    } catch (error) {
      fail(error);
    }
  });
}

function notify(event: HttpEvent): void {
  for (const observer of observers) observer(event);
}

function transportError(error: unknown, what: string, timeoutMs: number): UpstreamError {
  // the deadline's DOMException carries a numeric code (23): only string codes are undici's
  const rawCode = (error as { code?: unknown }).code;
  const code = typeof rawCode === "string" ? rawCode : "";
  const name = (error as { name?: unknown }).name;
  if (
    code === "UND_ERR_HEADERS_TIMEOUT" ||
    code === "UND_ERR_BODY_TIMEOUT" ||
    code === "UND_ERR_CONNECT_TIMEOUT" ||
    name === "TimeoutError" ||
    name === "AbortError"
  ) {
    return timeoutFailure(what, timeoutMs);
  }
  const cause = (error as { cause?: { code?: string } }).cause?.code;
  const message = error instanceof Error ? error.message : String(error);
  return networkFailure(what, cause ?? (code || undefined), message);
}

/** Parses a JSON body; a body that is not JSON is an upstream error, not a crash. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UpstreamError("badResponse", `${what}: answer is not JSON (${bodyExcerpt(text)})`);
  }
}

/** Fields of a JSON error answer that carry its message (go-e `error`, Climkit `msg`, …). */
const MESSAGE_FIELDS = ["error", "msg", "message", "detail", "reason", "description"];

/**
 * What an error text may show of an upstream's body. Error pages echo the request (headers,
 * query strings, the password of a login), so a body is never quoted as it is: only a known
 * safe part is shown (the message field of a JSON error, the `<title>` of an HTML page, a
 * short line of plain text),
 * scrubbed BEFORE it is shortened (runs of a secret included: util/secrets.ts).
 */
export function bodyExcerpt(text: string): string {
  const safe = knownSafePart(text);
  if (safe === undefined) return "body not shown";
  const flat = scrubText(safe).replace(/\s+/g, " ").trim();
  return flat.length > 80 ? `${flat.slice(0, 80)}…` : flat;
}

function knownSafePart(text: string): string | undefined {
  const trimmed = text.trim();
  if (trimmed === "") return "";
  if (trimmed.startsWith("{")) {
    let body: unknown;
    try {
      body = JSON.parse(trimmed);
    } catch {
      return undefined;
    }
    return messageOf(body);
  }
  // a short line of plain text is the service's own message (OVMS: `not found`)
  if (trimmed.length <= 80 && !/[<>\n]/.test(trimmed)) return trimmed;
  return /<title>([^<]{1,100})<\/title>/i.exec(trimmed)?.[1];
}

function messageOf(body: unknown): string | undefined {
  if (!body || typeof body !== "object") return undefined;
  for (const field of MESSAGE_FIELDS) {
    const value = (body as Record<string, unknown>)[field];
    if (typeof value === "string") return value;
    if (value && typeof value === "object") {
      const nested = messageOf(value);
      if (nested !== undefined) return nested;
    }
  }
  return undefined;
}
