import type { BridgeContext } from "../extension.js";
import type { Value, Values } from "../source.js";

// What `GET /api/state` answers: the bridge's values in the shape of evcc's state, so a client
// written for evcc's REST API reads ev2mqtt too. evcc puts the site's values at the top level
// (`siteTitle`, `pvPower`, `gridPower`, …), the loadpoints in an array (loadpoint 1 first),
// the vehicles in an object keyed by name, and per-phase values as arrays of three. Only what
// the bridge has is there: no tariffs, no sessions, no statistics.

type Json = Value | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/**
 * Sets an own property, whatever its name: key parts come from upstream data (a Climkit meter
 * id), and `node["__proto__"] = …` would reach Object.prototype instead (issue 13.1).
 */
function setOwn(node: JsonObject, key: string, value: Json): void {
  Object.defineProperty(node, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A device's values as evcc's state holds them: `a/b` nested, `x/l1..l3` as an array. */
export function evccObject(values: ReadonlyMap<string, Value>): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of values) {
    const parts = key.split("/");
    let node = out;
    for (const part of parts.slice(0, -1)) {
      const next = Object.hasOwn(node, part) ? node[part] : undefined;
      if (next === undefined || next === null || typeof next !== "object" || Array.isArray(next)) {
        setOwn(node, part, {});
      }
      node = node[part] as JsonObject;
    }
    setOwn(node, parts.at(-1) as string, value);
  }
  for (const [key, value] of Object.entries(out)) out[key] = phasesAsArray(value);
  return out;
}

/** `{l1, l2, l3}` → `[l1, l2, l3]`, evcc's per-phase arrays; deeper objects likewise. */
function phasesAsArray(value: Json): Json {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const keys = Object.keys(value);
  if (keys.length > 0 && keys.every((key) => /^l[123]$/.test(key))) {
    return ["l1", "l2", "l3"].map((line) => value[line] ?? null);
  }
  for (const key of keys) value[key] = phasesAsArray(value[key] as Json);
  return value;
}

/** Follows every device's values through the bridge's events and builds the state on request. */
export class EvccState {
  private readonly devices = new Map<string, Map<string, Value>>();

  constructor(private readonly context: BridgeContext) {}

  start(): void {
    this.context.events.on("values", this.onValues);
    this.context.events.on("availability", this.onAvailability);
  }

  stop(): void {
    this.context.events.off("values", this.onValues);
    this.context.events.off("availability", this.onAvailability);
  }

  private readonly onValues = (topic: string, values: Values): void => {
    const known = this.device(topic);
    for (const key in values) {
      const value = values[key];
      if (value === null) known.delete(key);
      else if (value !== undefined) known.set(key, value);
    }
  };

  private readonly onAvailability = (topic: string, online: boolean, error: string): void => {
    this.onValues(topic, { online, error });
  };

  private device(topic: string): Map<string, Value> {
    let values = this.devices.get(topic);
    if (!values) {
      values = new Map();
      this.devices.set(topic, values);
    }
    return values;
  }

  /** The state as evcc's `/api/state` has it (without the `result` wrapper). */
  build(): JsonObject {
    const { config, version } = this.context;
    const state: JsonObject = { version: `ev2mqtt ${version}` };
    const site = this.devices.get("site");
    if (site) {
      const { title, ...rest } = evccObject(site);
      Object.assign(state, rest);
      if (title !== undefined) state.siteTitle = title;
    }
    const sites: JsonObject = {};
    for (const [topic, values] of this.devices) {
      const match = /^sites\/(\d+)$/.exec(topic);
      if (match) sites[match[1] as string] = evccObject(values);
    }
    if (Object.keys(sites).length > 0) state.sites = sites;

    const vehicles: JsonObject = {};
    for (const [topic, values] of this.devices) {
      const name = /^vehicles\/([^/]+)$/.exec(topic)?.[1];
      if (name) vehicles[name] = { title: name, ...evccObject(values) };
    }
    state.vehicles = vehicles;

    const loadpointCount = Math.max(0, ...config.goe.map((charger) => charger.loadpoint));
    state.loadpoints = Array.from({ length: loadpointCount }, (_, index) => {
      const loadpoint = evccObject(this.devices.get(`loadpoints/${index + 1}`) ?? new Map());
      const vehicle = this.vehicleAt(index + 1);
      if (vehicle) {
        const car = vehicles[vehicle];
        const read = (key: string) =>
          car && typeof car === "object" && !Array.isArray(car) ? car[key] : undefined;
        Object.assign(loadpoint, {
          vehicleName: vehicle,
          vehicleTitle: read("title") ?? vehicle,
          ...(read("soc") !== undefined ? { vehicleSoc: read("soc") as Json } : {}),
          ...(read("range") !== undefined ? { vehicleRange: read("range") as Json } : {}),
          ...(read("odometer") !== undefined ? { vehicleOdometer: read("odometer") as Json } : {}),
        });
      }
      return loadpoint;
    });
    return state;
  }

  /** The name of the vehicle the configuration places at a loadpoint, if any. */
  private vehicleAt(loadpoint: number): string | undefined {
    for (const server of this.context.config.ovms) {
      for (const vehicle of server.vehicles) {
        if (vehicle.loadpoint === loadpoint) return vehicle.name ?? vehicle.id.toLowerCase();
      }
    }
    return undefined;
  }
}
