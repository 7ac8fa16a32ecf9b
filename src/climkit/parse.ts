// Climkit payloads → typed rows and lists. Lenient where the service is known to vary
// (list of ids or of objects, `_id`/`id`/`site_id`, MongoDB `{"$oid"}`, numbers as strings,
// timestamps with or without offset); a body of the wrong overall shape is an UpstreamError,
// single unreadable items are skipped. Pure: no I/O, no clock.

import { UpstreamError } from "../upstream/errors.js";
import { isTimeZone, parseTimestamp } from "./time.js";

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
