import { STATUS_CODES } from "node:http";

// How the simulated go-e cloud fails: the faults a test can switch on, and the answers the
// real cloud (and the nginx in front of it) gives in each case.

export interface GoeSimFault {
  status?: number;
  body?: string;
  delayMs?: number;
  reset?: boolean;
  garbage?: boolean;
  wrongShape?: boolean;
  paths?: Array<"status" | "set">;
  times?: number;
}

export interface Answer {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

export interface ActiveFault {
  fault: GoeSimFault;
  remaining: number;
  since: number;
}

export type Endpoint = "status" | "set";
export const JSON_TYPE = "application/json";

/** Bodies of the error answers, for tests that compare them. */
export const GOE_SIM_BODIES = {
  unauthorized: '{"error":"unauthorized"}',
  offline: '{"success":false,"reason":"charger offline or cloud api not enabled"}',
  garbage: "<html><body><h1>go-e cloud</h1><p>Service temporarily unavailable</p></body></html>",
  notFound: "Not Found",
} as const;

/** nginx's own error page, which is what the cloud's front end sends on 502/503/504. */
export function nginxErrorPage(status: number): string {
  const title = `${status} ${STATUS_CODES[status] ?? "Error"}`;
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;
}

export function blocks(fault: GoeSimFault): boolean {
  return (
    fault.reset === true ||
    fault.body !== undefined ||
    fault.garbage === true ||
    fault.wrongShape === true ||
    fault.status !== undefined
  );
}

export function faultAnswer(
  active: ActiveFault,
  endpoint: Endpoint,
  url: URL,
  now: number,
): Answer | "reset" {
  const { fault } = active;
  if (fault.reset) return "reset";
  if (fault.body !== undefined) {
    const type = /^\s*[[{]/.test(fault.body) ? JSON_TYPE : "text/html";
    return { status: fault.status ?? 200, body: fault.body, headers: { "content-type": type } };
  }
  if (fault.garbage)
    return { status: 200, body: GOE_SIM_BODIES.garbage, headers: { "content-type": "text/html" } };
  if (fault.wrongShape) return json(200, endpoint === "status" ? { nrg: "x", car: "y" } : []);
  const status = fault.status ?? 500;
  switch (status) {
    case 401:
      return { status, body: GOE_SIM_BODIES.unauthorized, headers: { "content-type": JSON_TYPE } };
    case 403:
      return { status, body: GOE_SIM_BODIES.offline, headers: { "content-type": JSON_TYPE } };
    case 404:
      // the charger stopped reporting when the fault began, and data older than 30 s is refused
      return json(404, {
        success: false,
        reason: "Data is outdated",
        age: 30.091000080108643 + (now - active.since) / 1000,
      });
    case 422: {
      const keys = [...url.searchParams.keys()].filter((key) => key !== "token");
      return json(422, { succeeded: [], failed: keys.map((key) => ({ [key]: "rejected" })) });
    }
    case 429: {
      const answer = json(429, { success: false, reason: "Too Many Requests" });
      answer.headers = { ...answer.headers, "retry-after": "1" };
      return answer;
    }
  }
  if (status >= 502 && status <= 504)
    return { status, body: nginxErrorPage(status), headers: { "content-type": "text/html" } };
  return json(status, { success: false, reason: STATUS_CODES[status] ?? "Error" });
}

export function json(status: number, body: unknown): Answer {
  return { status, body: JSON.stringify(body), headers: { "content-type": JSON_TYPE } };
}

export function parseObject(value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new Error("expected a JSON object");
  return value as Record<string, unknown>;
}

/** A fault from the control interface: only the known fields, each of its own type. */
export function parseFault(value: unknown): GoeSimFault | undefined {
  if (value === null) return undefined;
  const input = parseObject(value);
  const fault: GoeSimFault = {};
  for (const key of ["status", "delayMs", "times"] as const) {
    const field = input[key];
    if (field !== undefined && (typeof field !== "number" || !Number.isFinite(field))) {
      throw new Error(`fault.${key} must be a number`);
    }
    if (field !== undefined) fault[key] = field;
  }
  for (const key of ["reset", "garbage", "wrongShape"] as const) {
    const field = input[key];
    if (field !== undefined && typeof field !== "boolean")
      throw new Error(`fault.${key} must be true or false`);
    if (field !== undefined) fault[key] = field;
  }
  if (input.body !== undefined) {
    if (typeof input.body !== "string") throw new Error("fault.body must be a string");
    fault.body = input.body;
  }
  if (input.paths !== undefined) {
    const paths = input.paths;
    if (!Array.isArray(paths) || !paths.every((path) => path === "status" || path === "set")) {
      throw new Error('fault.paths must be a list of "status" and "set"');
    }
    fault.paths = paths;
  }
  return fault;
}
