import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { BridgeContext } from "../extension.js";
import { EvccState } from "./evcc-state.js";

// evcc's REST API on `http.listen`, for what a go-e loadpoint can do: `GET /api/state`,
// `GET /api/health` and the loadpoint writes of evcc's API page. Every write goes through the
// bridge's one write path (the same as `<topic>/set` on MQTT): the same checks, the same
// answer on `<topic>/result`, the same read-back. Paths evcc has and the bridge cannot serve
// answer 501 with the reason; unknown paths 404.

export interface ApiAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** A loadpoint write: the MQTT value name and how to build the payload from the path's values. */
interface LoadpointRoute {
  method: "POST" | "DELETE";
  /** Path below `/api/loadpoints/<id>/`, `:v` standing for a value segment. */
  pattern: string;
  /** The write to carry out (MQTT value name, payload), or why the path's values cannot be one. */
  write: (values: string[]) => [name: string, payload: string] | string;
}

const LOADPOINT_ROUTES: LoadpointRoute[] = [
  { method: "POST", pattern: "mode/:v", write: ([v]) => ["mode", v!] },
  { method: "POST", pattern: "maxcurrent/:v", write: ([v]) => ["maxCurrent", v!] },
  { method: "POST", pattern: "mincurrent/:v", write: ([v]) => ["minCurrent", v!] },
  { method: "POST", pattern: "phases/:v", write: ([v]) => ["phasesConfigured", v!] },
  { method: "POST", pattern: "limitenergy/:v", write: ([v]) => ["limitEnergy", v!] },
  { method: "POST", pattern: "target/energy/:v", write: ([v]) => ["planEnergy", v!] },
  { method: "POST", pattern: "target/time/:v", write: ([v]) => ["planTime", v!] },
  { method: "DELETE", pattern: "target/time", write: () => ["planTime", "none"] },
  // evcc's newer form of the same plan: energy and time in one request, evcc's planEnergy JSON
  {
    method: "POST",
    pattern: "plan/energy/:v/:v",
    write: ([energy, time]) =>
      /^\d+(\.\d+)?$/.test(energy!)
        ? ["planEnergy", JSON.stringify({ time, value: Number(energy) })]
        : `planEnergy must be kWh, a number (got ${JSON.stringify(energy)})`,
  },
  { method: "DELETE", pattern: "plan/energy", write: () => ["planTime", "none"] },
  { method: "POST", pattern: "enable/threshold/:v", write: ([v]) => ["enableThreshold", v!] },
  { method: "POST", pattern: "disable/threshold/:v", write: ([v]) => ["disableThreshold", v!] },
];

/** evcc paths the bridge knows but cannot serve, by their first segments, with the reason. */
const NOT_HERE: Array<[RegExp, string]> = [
  [
    /^loadpoints\/\d+\/(minsoc|limitsoc|target\/soc|plan\/soc)(\/|$)/,
    "a go-e charger does not know the car's state of charge; set the car's charge limit on the car (OVMS vehicles/<name>)",
  ],
  [
    /^loadpoints\/\d+\/(enable|disable)\/delay(\/|$)/,
    "go-e has no start or stop delay for PV-surplus charging; only the thresholds",
  ],
  [
    /^loadpoints\/\d+\/((vehicle|priority|batteryboost|batteryboostlimit|smartcostlimit|smartfeedinprioritylimit)(\/|$)|plan(\/strategy|\/static\/.*)?$)/,
    "the bridge has no such loadpoint setting; see the README's REST API table",
  ],
  [
    /^(buffersoc|bufferstartsoc|prioritysoc|residualpower|batterydischargecontrol|batterygriddischarge|batterygridchargelimit|batterymode|gridexportlimit|smartcostlimit|smartfeedinprioritylimit|solaradjusted)(\/|$)/,
    "the bridge controls no home battery or site: it only reads the site (Climkit)",
  ],
  [/^tariff(\/|$)/, "the bridge knows no tariffs"],
  [
    /^(sessions|session|gridsessions|history)(\/|$)/,
    "the bridge keeps no session history; each loadpoint's sessionEnergy is on MQTT",
  ],
  [/^(telemetry|settings\/telemetry)(\/|$)/, "the bridge sends no telemetry"],
  [
    /^vehicles\//,
    "vehicle settings are not served over REST; OVMS vehicles take writes on MQTT (vehicles/<name>/<key>/set)",
  ],
];

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "::1", "localhost"]);

/** Whether `http.listen` only takes connections from this machine. Only these exact names count. */
export function isLoopback(host: string): boolean {
  return LOOPBACK_HOSTS.has(host.toLowerCase());
}

/**
 * Who may write over REST on a listener at `host`: whoever sends the token when one is set,
 * else only this machine, and nobody on any other address.
 */
export function restWrites(token: string | undefined, host: string): "token" | "loopback" | "refused" {
  if (token) return "token";
  return isLoopback(host) ? "loopback" : "refused";
}

export class EvccApi {
  readonly state: EvccState;

  constructor(
    private readonly context: BridgeContext,
    /** The host `http.listen` binds to: writes there need no token only if it is loopback. */
    private readonly host: string,
    private readonly healthy: () => boolean,
  ) {
    this.state = new EvccState(context);
  }

  start(): void {
    this.state.start();
  }

  stop(): void {
    this.state.stop();
  }

  /** Answers a request below `/api/`; `path` is the pathname without `/api/`. */
  async handle(req: IncomingMessage, path: string): Promise<ApiAnswer> {
    const method = req.method ?? "GET";
    const clean = path.replace(/\/+$/, "");
    if (method === "GET" || method === "HEAD") {
      if (clean === "state") return { status: 200, body: { result: this.state.build() } };
      if (clean === "health") {
        return this.healthy() ? { status: 200, body: "OK" } : { status: 500, body: "not healthy" };
      }
    }
    if (clean === "state" || clean === "health")
      return { ...fail(405, "use GET"), headers: { allow: "GET, HEAD" } };
    for (const [pattern, reason] of NOT_HERE) {
      if (pattern.test(clean)) return fail(501, `not supported by ev2mqtt: ${reason}`);
    }
    const loadpoint = /^loadpoints\/([^/]+)\/(.+)$/.exec(clean);
    if (!loadpoint) return fail(404, `unknown path /api/${clean}: see the README's REST API section`);
    const [, id, rest] = loadpoint as unknown as [string, string, string];
    const segments = rest.split("/");
    const candidates = LOADPOINT_ROUTES.filter((route) => matches(route.pattern, segments));
    if (candidates.length === 0) return fail(404, `unknown loadpoint path /api/loadpoints/${id}/${rest}`);
    const route = candidates.find((candidate) => candidate.method === method);
    if (!route) {
      const allow = [...new Set(candidates.map((candidate) => candidate.method))].join(", ");
      return { ...fail(405, `use ${allow}`), headers: { allow } };
    }
    const refusal = this.authorise(req);
    if (refusal) return refusal;
    if (!/^[1-9]\d{0,3}$/.test(id) || !this.hasLoadpoint(Number(id))) {
      return fail(404, `no loadpoint ${id}`);
    }
    let values: string[];
    try {
      values = route.pattern
        .split("/")
        .flatMap((part, index) => (part === ":v" ? [decodeURIComponent(segments[index]!)] : []));
    } catch {
      return fail(400, "the value in the path is not valid percent-encoding");
    }
    const write = route.write(values);
    if (typeof write === "string") return fail(400, write);
    // the bridge's one write path: the same checks, /result and read-back as an MQTT /set
    const [name, payload] = write;
    const result = await this.context.write(`loadpoints/${id}/${name}`, payload, { via: "rest" });
    if (result.ok) return { status: 200, body: { result: result.value } };
    // a refusal is the user's to fix (400, as evcc answers); a charger the bridge cannot reach
    // is not, and a client may retry later
    const offline = this.context.availability().get(`loadpoints/${id}`)?.online === false;
    return fail(offline ? 502 : 400, result.error);
  }

  private hasLoadpoint(id: number): boolean {
    return this.context.config.goe.some((charger) => charger.loadpoint === id);
  }

  /**
   * Writes need `Authorization: Bearer <http.token>` when a token is configured; without one
   * they are taken only on a loopback listener, and never from a web page (a browser sends
   * `Origin`), so a site the user visits cannot switch the charger.
   */
  private authorise(req: IncomingMessage): ApiAnswer | undefined {
    const token = this.context.config.http.token;
    const writes = restWrites(token, this.host);
    if (token) {
      const given = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "")?.[1] ?? "";
      if (!sameSecret(given, token)) {
        return {
          ...fail(401, "this write needs the header Authorization: Bearer <http.token>"),
          headers: { "www-authenticate": 'Bearer realm="ev2mqtt"' },
        };
      }
      return undefined;
    }
    if (writes === "refused") {
      return fail(
        403,
        `writes over HTTP on ${this.host} need a token: set http.token in the configuration and send Authorization: Bearer <token>`,
      );
    }
    if (req.headers.origin !== undefined) {
      return fail(403, "writes from a web page need http.token (Authorization: Bearer <token>)");
    }
    return undefined;
  }
}

function matches(pattern: string, segments: string[]): boolean {
  const parts = pattern.split("/");
  return (
    parts.length === segments.length &&
    parts.every((part, index) =>
      part === ":v" ? segments[index] !== "" : part === segments[index]?.toLowerCase(),
    )
  );
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function fail(status: number, error: string): ApiAnswer {
  return { status, body: { error } };
}
