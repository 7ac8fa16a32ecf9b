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
