// Climkit payloads → values. Pure functions: no I/O, no clock.
//
// Site values (topic relative to the site device, `site` or `sites/<n>`), from the latest
// complete 15-minute row of `POST site_data/<site>/electricity` (kWh per slot, not kW):
//
// | key                      | unit | from the row                 | meaning                                          |
// | ------------------------ | ---- | ---------------------------- | ------------------------------------------------ |
// | `pvPower`                | W    | prod_total × 4 × 1000        | PV production averaged over the interval (≥ 0)    |
// | `gridPower`              | W    | (from_ext − to_ext) × 4000   | grid: import positive, export negative            |
// | `homePower`              | W    | conso_total × 4 × 1000       | building consumption averaged over the interval   |
// | `pvEnergy`               | kWh  | prod_total                   | PV production in the interval (≥ 0)               |
// | `gridImportEnergy`       | kWh  | from_ext                     | taken from the grid in the interval (≥ 0)         |
// | `gridExportEnergy`       | kWh  | to_ext                       | fed into the grid in the interval (≥ 0)           |
// | `homeEnergy`             | kWh  | conso_total                  | consumed in the interval (≥ 0)                    |
// | `selfEnergy`             | kWh  | self                         | consumed from the site's own PV (≥ 0)             |
// | `<energy>Today`          | kWh  | sum of the above per day     | `pvEnergyToday` … `selfEnergyToday`: the running  |
// |                          |      |                              | total of the site-local day of `intervalEnd`     |
// | `intervalEnd`            | s    | timestamp                    | Unix seconds at which that interval ended         |
// | `title`                  |      | installation_infos.name      | the site's name                                   |
//
// Negative values are measurement artefacts of the service: every energy is clamped at 0
// (production, consumption, import and export cannot be negative); `gridPower` is signed
// because it is import minus export, not because a field may be negative.
// A day total is `null` (erased) while the bridge has not seen that day from its start (it
// started shortly after midnight and the latest interval still belongs to yesterday).
//
// Meter values `meters/<id>/…` from `POST meter_data/<site>/<meter>` rows `{total, self?, ext?}`:
// `type`, `name`, `mode`, `unit`; `energy` (the latest interval, in `unit`), `energyToday`
// (same day rule as the site), `power` (W averaged over the interval). Units assumed per
// type, since the API document gives none: electricity and charge_point kWh (power W);
// heating and cooling kWh of heat (power W of heat); cold_water and hot_water m³ (no power);
// any other type: the number as it comes, `unit` empty, no power.
//
// Sensor values `sensors/<id>/…`: `name`, `type`, `unit` from sensors_list, and `value`, the
// latest reading of `GET <site>/sensor_data/<sensor>`.

import type { Values } from "../source.js";
import { UpstreamError } from "../upstream/errors.js";
import { isTimeZone, parseTimestamp, QUARTER_MS } from "./time.js";

/** kWh in a 15-minute slot → average W over the slot. */
const W_PER_KWH_PER_QUARTER = (60 / (QUARTER_MS / 60_000)) * 1000;

export interface SiteRef {
  id: string;
  name?: string;
}
export interface SiteInfo {
  name?: string;
  timezone?: string;
  ref?: string;
}
export interface MeterInfo {
  id: string;
  type: string;
  name: string;
  mode: string;
}
export interface SensorInfo {
  id: string;
  name: string;
  type: string;
  unit: string;
}
export interface SiteRow {
  end: number;
  pv?: number;
  self?: number;
  fromExt?: number;
  toExt?: number;
  conso?: number;
}
export interface MeterRow {
  end: number;
  total?: number;
}
export interface SensorReading {
  time: number;
  value: number;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function listOf(body: unknown, what: string): unknown[] {
  if (Array.isArray(body)) return body;
  // lenient: some APIs wrap lists as {"data": [...]}
  if (isObject(body)) {
    for (const key of ["data", "installations", "sites", "result"]) {
      const inner = body[key];
      if (Array.isArray(inner)) return inner;
    }
  }
  throw new UpstreamError("badResponse", `${what}: expected a list, got ${shapeOf(body)}`);
}

function shapeOf(body: unknown): string {
  if (body === null) return "null";
  if (Array.isArray(body)) return "a list";
  return typeof body === "object" ? "an object" : typeof body;
}

/** An id as Climkit may send it: a string, a number, or a MongoDB `{"$oid": "…"}`. */
function idOf(value: unknown): string | undefined {
  if (typeof value === "string") return value.trim() || undefined;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (isObject(value)) return idOf(value.$oid);
  return undefined;
}

function firstId(item: Json, keys: string[]): string | undefined {
  for (const key of keys) {
    const id = idOf(item[key]);
    if (id) return id;
  }
  return undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

/** A finite number from a number or a numeric string. */
function num(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value === "string" && value.trim() !== "") {
    const parsed = Number(value);
    return Number.isFinite(parsed) ? parsed : undefined;
  }
  return undefined;
}

/** `all_installations`: a list of ids (2019 doc) or of objects with `_id`/`id`/`site_id`. */
export function parseInstallations(body: unknown, what: string): SiteRef[] {
  const sites = new Map<string, SiteRef>();
  for (const item of listOf(body, what)) {
    const id = isObject(item)
      ? firstId(item, ["_id", "id", "site_id", "siteId", "installation_id"])
      : idOf(item);
    if (!id || sites.has(id)) continue;
    const name = isObject(item) ? text(item.name) : undefined;
    sites.set(id, name ? { id, name } : { id });
  }
  return [...sites.values()];
}

export function parseInstallationInfo(body: unknown, what: string): SiteInfo {
  if (!isObject(body))
    throw new UpstreamError("badResponse", `${what}: expected an object, got ${shapeOf(body)}`);
  return {
    name: text(body.name),
    timezone: isTimeZone(body.timezone) ? body.timezone : undefined,
    ref: idOf(body.site_ref),
  };
}

export function parseMeters(body: unknown, what: string): MeterInfo[] {
  const meters: MeterInfo[] = [];
  for (const item of listOf(body, what)) {
    if (!isObject(item)) continue;
    const id = firstId(item, ["id", "_id", "meter_id"]);
    if (!id || meters.some((meter) => meter.id === id)) continue;
    meters.push({
      id,
      type: text(item.type) ?? "electricity",
      name: text(item.name) ?? id,
      mode: text(item.mode) ?? "",
    });
  }
  return meters;
}

export function parseSensors(body: unknown, what: string): SensorInfo[] {
  const sensors: SensorInfo[] = [];
  for (const item of listOf(body, what)) {
    if (!isObject(item)) continue;
    const id = firstId(item, ["id", "_id", "sensor_id"]);
    if (!id || sensors.some((sensor) => sensor.id === id)) continue;
    sensors.push({
      id,
      name: text(item.name) ?? id,
      type: text(item.type) ?? "",
      unit: text(item.unit) ?? "",
    });
  }
  return sensors;
}

/** Rows in time order; rows without a readable timestamp are dropped. */
function rowsOf<R extends { end: number }>(
  body: unknown,
  what: string,
  read: (row: Json, end: number) => R,
): R[] {
  const rows: R[] = [];
  for (const item of listOf(body, what)) {
    if (!isObject(item)) continue;
    const end = parseTimestamp(item.timestamp);
    if (end !== undefined) rows.push(read(item, end));
  }
  return rows.sort((a, b) => a.end - b.end);
}

export function parseSiteRows(body: unknown, what: string): SiteRow[] {
  return rowsOf(body, what, (row, end) => ({
    end,
    pv: num(row.prod_total),
    self: num(row.self),
    fromExt: num(row.from_ext),
    toExt: num(row.to_ext),
    conso: num(row.conso_total),
  }));
}

export function parseMeterRows(body: unknown, what: string): MeterRow[] {
  return rowsOf(body, what, (row, end) => ({ end, total: num(row.total) }));
}

/** The newest reading of a `sensor_data` reply (its order is not promised). */
export function latestSensorReading(body: unknown, what: string): SensorReading | undefined {
  let latest: SensorReading | undefined;
  for (const item of listOf(body, what)) {
    if (!isObject(item)) continue;
    const time = parseTimestamp(item.timestamp);
    const value = num(item.value);
    if (time !== undefined && value !== undefined && (!latest || time >= latest.time))
      latest = { time, value };
  }
  return latest;
}

function clamp(value: number | undefined): number | undefined {
  return value === undefined ? undefined : Math.max(0, value);
}

/** The energies of a site row in kWh, artefacts clamped; the keys of the day totals. */
export function siteEnergies(row: SiteRow): Record<string, number | undefined> {
  return {
    pvEnergy: clamp(row.pv),
    gridImportEnergy: clamp(row.fromExt),
    gridExportEnergy: clamp(row.toExt),
    homeEnergy: clamp(row.conso),
    selfEnergy: clamp(row.self),
  };
}

export const SITE_ENERGY_KEYS = [
  "pvEnergy",
  "gridImportEnergy",
  "gridExportEnergy",
  "homeEnergy",
  "selfEnergy",
];

function power(kWh: number | undefined): number | null {
  return kWh === undefined ? null : kWh * W_PER_KWH_PER_QUARTER;
}

export function siteIntervalValues(row: SiteRow): Values {
  const energies = siteEnergies(row);
  const { gridImportEnergy: imported, gridExportEnergy: exported } = energies;
  const grid =
    imported === undefined && exported === undefined ? undefined : (imported ?? 0) - (exported ?? 0);
  const values: Values = {
    pvPower: power(energies.pvEnergy),
    gridPower: power(grid),
    homePower: power(energies.homeEnergy),
    intervalEnd: Math.round(row.end / 1000),
  };
  for (const key of SITE_ENERGY_KEYS) values[key] = energies[key] ?? null;
  return values;
}

/** `<key>Today` for each energy; null when the day is not known from its start. */
export function dayValues(keys: string[], totals: Record<string, number> | undefined, prefix = ""): Values {
  const values: Values = {};
  for (const key of keys) values[`${prefix}${key}Today`] = totals?.[key] ?? null;
  return values;
}

export interface MeterKind {
  unit: string;
  /** Whether an average power over the interval means something (energy meters). */
  power: boolean;
  quantity?: "energy" | "water";
}

export function meterKind(type: string): MeterKind {
  switch (type) {
    case "electricity":
    case "charge_point":
    case "heating":
    case "cooling":
      return { unit: "kWh", power: true, quantity: "energy" };
    case "cold_water":
    case "hot_water":
      return { unit: "m³", power: false, quantity: "water" };
    default:
      return { unit: "", power: false };
  }
}

export function meterEnergy(row: MeterRow): Record<string, number | undefined> {
  return { energy: clamp(row.total) };
}

export function meterInfoValues(meter: MeterInfo): Values {
  const base = `meters/${meter.id}/`;
  return {
    [`${base}type`]: meter.type,
    [`${base}name`]: meter.name,
    [`${base}mode`]: meter.mode,
    [`${base}unit`]: meterKind(meter.type).unit,
  };
}

export function meterIntervalValues(meter: MeterInfo, row: MeterRow): Values {
  const energy = meterEnergy(row).energy;
  const values: Values = { [`meters/${meter.id}/energy`]: energy ?? null };
  if (meterKind(meter.type).power) values[`meters/${meter.id}/power`] = power(energy);
  return values;
}

export function sensorInfoValues(sensor: SensorInfo): Values {
  const base = `sensors/${sensor.id}/`;
  return { [`${base}name`]: sensor.name, [`${base}unit`]: sensor.unit, [`${base}type`]: sensor.type };
}
