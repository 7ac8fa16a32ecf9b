/** Why an upstream call failed, in the terms a user and the metrics care about. */
export type ErrorKind =
  | "auth" // 401: credentials refused or session expired
  | "forbidden" // 403
  | "notFound" // 404
  | "rejected" // 4xx other than the above: the upstream refused the request itself
  | "rateLimited" // 429
  | "server" // 5xx
  | "timeout"
  | "network" // connection refused, reset, DNS
  | "badResponse"; // a body that is not JSON or not of the expected shape

export class UpstreamError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = "UpstreamError";
  }
}

export function kindOfStatus(status: number): ErrorKind {
  if (status === 401) return "auth";
  if (status === 403) return "forbidden";
  if (status === 404) return "notFound";
  if (status === 429) return "rateLimited";
  if (status >= 500) return "server";
  return "rejected";
}

/** The message of any thrown value, for `<device>/error` and logs. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

export function errorKind(error: unknown): ErrorKind {
  return error instanceof UpstreamError ? error.kind : "network";
}

/** Transport failures by their system or TLS code: what most likely happened, and what to do. */
const NETWORK_FAILURES: Record<string, string> = {
  ECONNREFUSED:
    "connection refused: the host is up but nothing listens on that port; check the url's port and that the service runs there",
  ENOTFOUND:
    "host not found: the name does not resolve; check the spelling of the url's host, or use its IP address",
  EAI_AGAIN:
    "name lookup failed: this machine's DNS does not answer; check its network and resolver (retrying)",
  EHOSTUNREACH:
    "host unreachable: nothing answers at that address; check the device is powered and on the network, and its IP address (DHCP may have given it a new one)",
  ENETUNREACH:
    "network unreachable: this machine has no route there; check its network connection and gateway",
  EHOSTDOWN: "host down: check that the device is powered and connected",
  ECONNRESET:
    "connection reset by the other side: the service restarted, or a proxy or firewall cut it (retrying)",
  UND_ERR_SOCKET:
    "connection reset: closed by the other side before it answered; the service restarted or a proxy cut it (retrying)",
  EPIPE: "connection reset: closed by the other side while sending (retrying)",
  ETIMEDOUT:
    "connection timed out: no answer from that address; check the device is on and the IP address is right, or a firewall",
  EPROTO:
    "TLS handshake failed: the url probably says https:// for a service that speaks plain http:// (or the reverse)",
  ERR_SSL_WRONG_VERSION_NUMBER:
    "TLS handshake failed: the url says https:// but the service speaks plain http://; write http://",
  CERT_HAS_EXPIRED: "the server's TLS certificate has expired: renew it on the server",
  DEPTH_ZERO_SELF_SIGNED_CERT:
    "the server's TLS certificate is self-signed and not trusted: use a trusted certificate or http:// on a local network",
  SELF_SIGNED_CERT_IN_CHAIN:
    "the server's TLS certificate chain is not trusted (self-signed root): use a trusted certificate",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    "the server's TLS certificate cannot be verified (missing intermediate certificate): fix the server's chain",
  ERR_TLS_CERT_ALTNAME_INVALID:
    "the server's TLS certificate is for another name: use the host name the certificate names",
};

/** What a transport error code means and what to do about it, if it is a known one. */
export function networkAdvice(code: unknown): string | undefined {
  return typeof code === "string" && Object.hasOwn(NETWORK_FAILURES, code)
    ? NETWORK_FAILURES[code]
    : undefined;
}

/**
 * The error for a request that failed below HTTP, by its code (`ECONNREFUSED`, a TLS code):
 * what happened in words, the likely cause and the next step, never a bare code.
 */
export function networkFailure(what: string, code: string | undefined, fallback: string): UpstreamError {
  const known = networkAdvice(code);
  if (known) return new UpstreamError("network", `${what}: ${known}`);
  return new UpstreamError(
    "network",
    `${what}: ${fallback}${code && !fallback.includes(code) ? ` (${code})` : ""}; check the url and this machine's network`,
  );
}

/** The error for a request with no answer in time. */
export function timeoutFailure(what: string, timeoutMs: number): UpstreamError {
  return new UpstreamError(
    "timeout",
    `${what}: no answer within ${timeoutMs / 1000}s: the host is off, overloaded or unreachable; check it answers, or raise this device's timeout`,
  );
}
