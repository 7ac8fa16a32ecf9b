// The REST routes of the OVMS server simulator (ApiHttpCore.pm): the answer to one request
// after the rate limit and any injected fault. Imports nothing of the product.

import type { SimCar } from "./car.js";
import { canonical, chargeJson, locationJson, statusJson, tpmsJson } from "./json.js";
import type { Sessions } from "./sessions.js";

export type Reply = { status: number; body: string; type?: string; headers?: Record<string, string> };

export interface RouteContext {
  username: string;
  password: string;
  cars: Map<string, SimCar>;
  sessions: Sessions;
  now(): number;
  /** v2 batch clients of a car (`v_btcs_connected`). */
  batchClients(vehicleId: string): number;
  /** Counts a login. */
  loggedIn(): void;
}

// GET:lock really dies on a typo in the server (`..._locK_get`) and answers 404 (see below)
const STUBS = new Set(
  "PUT:charge DELETE:charge PUT:lock DELETE:lock GET:valet PUT:valet DELETE:valet GET:features PUT:features GET:parameters PUT:parameters PUT:reset PUT:homelink".split(
    " ",
  ),
);
const ROUTES = new Set([
  ..."GET:cookie DELETE:cookie GET:vehicles GET:vehicle DELETE:vehicle GET:protocol GET:status GET:charge GET:location GET:tpms GET:historical GET:lock".split(
    " ",
  ),
  ...STUBS,
]);

/** The reason phrases the server sends with each status (sic). */
export function reasonOf(status: number, path: string): string {
  if (status === 200) return "Ok";
  if (status === 404) return path.startsWith("/api/") ? "Unrecongised API call" : "not found";
  const reasons: Record<number, string> = {
    401: "Unauthorized",
    403: "Forbidden",
    429: "Too many requests",
    501: "Not Implemented",
    502: "Bad Gateway",
  };
  return reasons[status] ?? "Error";
}

/** The handler's "dies" answer: the root handler's 404 (`ApiHttp.pm` 196–204). */
const DIED: Reply = { status: 404, body: "not found\n" };

export function route(ctx: RouteContext, method: string, url: URL, cookie: string | undefined): Reply {
  const segments = url.pathname.split("/");
  if (segments[1] !== "api") return DIED;
  const [fn = "", vehicleId] = segments.slice(2);
  const key = `${method}:${fn}`;
  if (!ROUTES.has(key)) return { status: 404, body: "Unrecognised API call\n" };
  const sessionId = /(?:^|;\s*)ovmsapisession=([^;]+)/.exec(cookie ?? "")?.[1];
  const session = ctx.sessions.alive(sessionId) ? sessionId : undefined;
  const byQuery =
    url.searchParams.get("username") === ctx.username && url.searchParams.get("password") === ctx.password;
  if (!session && !byQuery) return { status: 401, body: "Authentication failed\n" };
  if (STUBS.has(key)) return { status: 501, body: "Not yet implemented\n" };
  if (key === "GET:lock") return DIED;
  if (key === "GET:cookie") {
    if (session) ctx.sessions.end(session);
    ctx.loggedIn();
    return {
      status: 200,
      body: "Login ok\n",
      headers: { "Set-Cookie": `ovmsapisession=${ctx.sessions.open()}` },
    };
  }
  if (key === "DELETE:cookie") {
    if (session) ctx.sessions.end(session);
    return { status: 200, body: "Logout ok\n" };
  }
  if (key === "GET:vehicles") {
    const list = [...ctx.cars.values()].map((car) => ({
      id: car.id,
      v_apps_connected: car.peers.size,
      v_btcs_connected: ctx.batchClients(car.id),
      v_net_connected: car.snapshot().moduleConnected ? 1 : 0,
    }));
    return json(list);
  }
  const car = vehicleId ? ctx.cars.get(vehicleId) : undefined;
  if (!car) return { status: 403, body: "Forbidden\n" };
  const peer = `http:${session ?? "-"}`;
  const now = ctx.now();
  switch (key) {
    case "GET:vehicle": {
      const first = car.addPeer(peer);
      const s = car.records().get("S");
      return json({
        v_apps_connected: car.peers.size,
        v_btcs_connected: ctx.batchClients(car.id),
        v_first_peer: first ? 1 : 0,
        v_net_connected: car.snapshot().moduleConnected ? 1 : 0,
        ...(s ? { m_msgage_s: Math.floor((now - s.time) / 1000), m_msgtime_s: msgTime(s.time) } : {}),
      });
    }
    case "DELETE:vehicle":
      car.peers.delete(peer);
      return { status: 200, body: "Disconnect OK\n", type: "application/json" };
    case "GET:status":
      return json(statusJson(car.records(), now));
    case "GET:charge":
      return json(chargeJson(car.records(), now));
    case "GET:location":
      return json(locationJson(car.records(), now));
    case "GET:tpms":
      // the 'Y' path calls max() without importing it (ApiHttpCore.pm 551): the handler dies
      return car.records().has("Y") && car.tpmsDies ? DIED : json(tpmsJson(car.records(), now));
    case "GET:protocol":
      return json(
        [...car.records().values()].map((r) => ({
          m_code: r.code,
          m_msg: r.message,
          m_msgtime: msgTime(r.time),
          m_paranoid: 0,
          m_ptoken: "",
        })),
      );
    default:
      return json([]); // GET /api/historical: no history kept
  }
}

function json(value: unknown): Reply {
  return { status: 200, body: canonical(value), type: "application/json" };
}

export function msgTime(time: number): string {
  return new Date(time).toISOString().slice(0, 19).replace("T", " ");
}
