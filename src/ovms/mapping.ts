import type { Values } from "../source.js";
import { CHARGE_CURRENT_RANGE, CHARGE_MODES } from "./writes.js";

// Pure decoding of OVMS server records into the bridge's vehicle values (SPEC §3).
// The server splits the car's comma-separated v2 messages into JSON, so measured values are
// JSON strings ("78", "" when the car never sent the field, null when the message was too short),
// bitmask flags are JSON numbers that are 0 or the bit's value (charging 0/16), and a record
// the car never sent is `{}`. Field names changed in Nov 2024 (battcurrent → batt_current):
// lookups ignore underscores and case, so both generations decode the same.

/** One JSON object as the server sends it for /api/status, /api/charge, /api/location, /api/tpms. */
export type OvmsRecord = Record<string, unknown>;

export const KM_PER_MILE = 1.609344;
export const KPA_PER_PSI = 6.894757293168;

/** The records of one vehicle; a record that was not read this time is left out. */
export interface VehicleRecords {
  status?: OvmsRecord;
  charge?: OvmsRecord;
  location?: OvmsRecord;
  tpms?: OvmsRecord;
  /** The vehicle's entry of /api/vehicles or the answer of GET /api/vehicle/<id>. */
  vehicle?: OvmsRecord;
}

export type DistanceUnits = "K" | "M";

/** Which stored message a record comes from, and the field with that message's time. */
const RECORD_TIME_FIELDS: Record<Exclude<keyof VehicleRecords, "vehicle">, string[]> = {
  charge: ["m_msgtime_s"],
  status: ["m_msgtime_d", "m_msgtime_s"],
  location: ["m_msgtime_l"],
  tpms: ["m_msgtime_y", "m_msgtime_w"],
};

/**
 * Keeps only records newer than the last ones applied of their kind, and notes their times.
 * A REST answer can be older than a record the v2 link pushed a moment before (the request
 * was under way when the car reported); applying it would move values backwards. Records
 * without a time (pushed ones carry `now`) are taken as they are.
 */
export function freshRecords(
  records: VehicleRecords,
  applied: Map<string, number>,
  pushedAt?: number,
): VehicleRecords {
  const fresh: VehicleRecords = { ...records };
  for (const [kind, fields] of Object.entries(RECORD_TIME_FIELDS) as Array<
    [keyof typeof RECORD_TIME_FIELDS, string[]]
  >) {
    const record = records[kind];
    if (!record) continue;
    const stamp = fields.map((field) => record[field]).find((value) => typeof value === "string");
    const time =
      pushedAt ?? (typeof stamp === "string" ? Date.parse(`${stamp.replace(" ", "T")}Z`) : Number.NaN);
    if (Number.isNaN(time)) continue;
    // the server's times have whole seconds: a record of the same second as the last is not older
    if (time + 999 < (applied.get(kind) ?? 0)) delete fresh[kind];
    else applied.set(kind, Math.max(time, applied.get(kind) ?? 0));
  }
  return fresh;
}

export interface Decoded {
  values: Values;
  /** The distance units the car reported, for records that carry distances but no units. */
  units?: DistanceUnits;
  /** Whether any record held data (an all-`{}` answer decodes to nothing). */
  empty: boolean;
}

/** Field access that ignores `_` and case: `batt_current` and `battcurrent` are one field. */
class Fields {
  private readonly map = new Map<string, unknown>();
  constructor(record: OvmsRecord | undefined) {
    if (!record || typeof record !== "object" || Array.isArray(record)) return;
    for (const [key, value] of Object.entries(record)) this.map.set(normalise(key), value);
  }
  get size(): number {
    return this.map.size;
  }
  raw(...names: string[]): unknown {
    for (const name of names) {
      const value = this.map.get(normalise(name));
      if (value !== undefined && value !== null && value !== "") return value;
    }
    return undefined;
  }
  num(...names: string[]): number | undefined {
    return toNumber(this.raw(...names));
  }
  str(...names: string[]): string | undefined {
    const value = this.raw(...names);
    if (typeof value === "string") return value.trim() || undefined;
    if (typeof value === "number" && Number.isFinite(value)) return String(value);
    return undefined;
  }
  /** A bitmask flag (0 or the bit value, sometimes "0"/"16" or a boolean): set when non-zero. */
  flag(...names: string[]): boolean | undefined {
    const value = this.raw(...names);
    if (typeof value === "boolean") return value;
    const n = toNumber(value);
    return n === undefined ? undefined : n !== 0;
  }
  keys(): IterableIterator<string> {
    return this.map.keys();
  }
}

function normalise(key: string): string {
  return key.replace(/_/g, "").toLowerCase();
}

/** A number from a JSON number or a numeric string; anything else is unknown. */
export function toNumber(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value !== "string") return undefined;
  const text = value.trim();
  if (text === "" || !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

function round(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}

function unitsOf(...records: Fields[]): DistanceUnits | undefined {
  for (const fields of records) {
    const units = fields.str("units")?.toUpperCase();
    if (units === "M" || units === "K") return units;
  }
  return undefined;
}

const CHARGING_STATES = new Set(["charging", "topoff"]);
const TEMPERATURES: Array<[key: string, field: string, stale: string]> = [
  ["battery", "temperature_battery", "staletemps"],
  ["motor", "temperature_motor", "staletemps"],
  ["charger", "temperature_charger", "staletemps"],
  ["cabin", "temperature_cabin", ""],
  ["ambient", "temperature_ambient", "staleambient"],
];
export const WHEELS = ["fl", "fr", "rl", "rr"] as const;

/**
 * Decodes what the server returned for one vehicle. Only keys with a value are set, so an
 * empty record leaves the last published values alone. `knownUnits` is used for distances
 * when none of the given records names its units (a D record alone carries the odometer);
 * with no units at all the odometer is left out.
 */
export function decodeVehicle(records: VehicleRecords, knownUnits?: DistanceUnits): Decoded {
  const status = new Fields(records.status);
  const charge = new Fields(records.charge);
  const location = new Fields(records.location);
  const tpms = new Fields(records.tpms);
  const vehicle = new Fields(records.vehicle);
  const values: Values = {};
  const units = unitsOf(charge, status) ?? knownUnits;
  const toKm = units === "M" ? KM_PER_MILE : 1;
  // /api/charge and /api/status both carry the S and (part of) the D record
  const s = (name: string) => charge.num(name) ?? status.num(name);
  const text = (name: string) => charge.str(name) ?? status.str(name);
  const flag = (name: string) => charge.flag(name) ?? status.flag(name);

  const soc = s("soc");
  if (soc !== undefined) values.soc = round(soc, 1);
  const range = s("estimatedrange");
  if (range !== undefined) values.range = round(range * toKm, 1);
  // a D record alone has no units: without them a miles odometer would jump (total_increasing!)
  const odometer = status.num("odometer") ?? charge.num("odometer");
  if (odometer !== undefined && units) values.odometer = round((odometer / 10) * toKm, 1);

  const chargeState = text("chargestate");
  if (chargeState !== undefined) values.chargeState = chargeState;
  // a mode the charge-mode select does not offer, or a limit outside the number's range, is
  // published as "no value": Home Assistant would refuse it and keep showing the old one
  const chargeMode = text("mode")?.toLowerCase();
  if (chargeMode !== undefined) values.chargeMode = CHARGE_MODES.has(chargeMode) ? chargeMode : null;
  const chargingFlag = flag("charging");
  if (chargingFlag !== undefined || chargeState !== undefined) {
    values.charging = chargingFlag === true || CHARGING_STATES.has(chargeState?.toLowerCase() ?? "");
  }
  const portOpen = flag("cp_dooropen");
  const pilot = flag("pilotpresent");
  if (portOpen !== undefined || pilot !== undefined) {
    values.pluggedIn = portOpen === true || pilot === true || values.charging === true;
  }
  // the S record's charge power is in kW
  const power = s("chargepower");
  if (power !== undefined) values.chargePower = Math.round(power * 1000);
  // chargeCurrent is the setting (S "chargelimit", what command 15 changes), so that a write
  // reads back as written; the current flowing is chargeCurrentMeasured (S "chargecurrent")
  const setting = s("chargelimit");
  if (setting !== undefined) {
    const { min, max } = CHARGE_CURRENT_RANGE;
    values.chargeCurrent = setting >= min && setting <= max ? round(setting, 1) : null;
  }
  const current = s("chargecurrent");
  if (current !== undefined) values.chargeCurrentMeasured = round(current, 1);
  const limit = s("charge_limit_soc");
  // 0 means "no SoC limit configured"
  if (limit !== undefined) values.chargeLimitSoc = limit > 0 ? limit : null;
  const locked = status.flag("carlocked");
  if (locked !== undefined) values.locked = locked;

  for (const [key, field, stale] of TEMPERATURES) {
    // a stale indicator of -1 means the car has no such sensor: its 0 is not a temperature
    const staleValue = stale ? (status.num(stale) ?? charge.num(stale)) : undefined;
    if (staleValue === -1) continue;
    const value = status.num(field) ?? charge.num(field);
    if (value !== undefined) values[`temperatures/${key}`] = round(value, 1);
  }

  const latitude = location.num("latitude");
  const longitude = location.num("longitude");
  // 0,0 is what a module that never had a GPS fix sends
  if (latitude !== undefined && longitude !== undefined && (latitude !== 0 || longitude !== 0)) {
    values.latitude = round(latitude, 6);
    values.longitude = round(longitude, 6);
    values.location = JSON.stringify({ latitude: values.latitude, longitude: values.longitude });
  }

  Object.assign(values, decodeTyres(tpms));

  const connected = vehicle.num("v_net_connected");
  if (connected !== undefined) values.moduleConnected = connected > 0;
  const age = charge.num("m_msgage_s") ?? status.num("m_msgage_s") ?? vehicle.num("m_msgage_s");
  if (age !== undefined) values.messageAge = Math.max(0, Math.round(age));

  const empty = charge.size + status.size + location.size + tpms.size === 0;
  return { values, ...(units ? { units } : {}), empty };
}

/**
 * Tyres from the V3 'Y' record (`fl_pressure_kpa`, plus `fl_pressure` in psi) or the older 'W'
 * record (`fl_pressure` in psi only). A stale indicator of -1 means the car has no TPMS.
 */
function decodeTyres(tpms: Fields): Values {
  const values: Values = {};
  if (tpms.size === 0 || tpms.num("staletpms") === -1) return values;
  const wheels = new Set<string>(WHEELS);
  for (const key of tpms.keys()) {
    const match = /^([a-z]{2})pressure(kpa)?$/.exec(key);
    if (match?.[1]) wheels.add(match[1]);
  }
  for (const wheel of wheels) {
    const kpa = tpms.num(`${wheel}_pressure_kpa`);
    const psi = tpms.num(`${wheel}_pressure`);
    const pressure = kpa ?? (psi === undefined ? undefined : psi * KPA_PER_PSI);
    if (pressure !== undefined && tpms.num("stale_pressure") !== -1) {
      values[`tyres/${wheel}/pressure`] = round(pressure, 1);
    }
    const temperature = tpms.num(`${wheel}_temperature`);
    if (temperature !== undefined && tpms.num("stale_temperature") !== -1) {
      values[`tyres/${wheel}/temperature`] = round(temperature, 1);
    }
  }
  return values;
}

/** The values a vehicle linked to a loadpoint also publishes there (evcc's vehicle* keys). */
export function loadpointValues(values: Values, name: string): Values {
  const linked: Values = { vehicleName: name };
  if (values.soc !== undefined) linked.vehicleSoc = values.soc;
  if (values.range !== undefined) linked.vehicleRange = values.range;
  if (values.odometer !== undefined) linked.vehicleOdometer = values.odometer;
  return linked;
}

/** The vehicle list entry for an id: ids compare without case, as the server's database does. */
export function findVehicle(list: unknown, id: string): OvmsRecord | undefined {
  if (!Array.isArray(list)) return undefined;
  const wanted = id.toUpperCase();
  for (const entry of list) {
    if (entry && typeof entry === "object" && !Array.isArray(entry)) {
      const record = entry as OvmsRecord;
      if (typeof record.id === "string" && record.id.toUpperCase() === wanted) return record;
    }
  }
  return undefined;
}

/**
 * When the car's S and D records arrived, from /api/charge; undefined when it does not say, or
 * when a record is younger than 2 s: the times have whole seconds, so another report could still
 * arrive within the same second.
 */
export function reportStamp(charge: OvmsRecord): string | undefined {
  const s = charge.m_msgtime_s;
  const d = charge.m_msgtime_d;
  if (typeof s !== "string" && typeof d !== "string") return undefined;
  const ages = [charge.m_msgage_s, charge.m_msgage_d].map(toNumber).filter((age) => age !== undefined);
  if (ages.some((age) => age < 2)) return undefined;
  return `${String(s)}|${String(d)}`;
}
