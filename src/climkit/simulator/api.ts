// The endpoints of the Climkit simulator once a request is authenticated: what each one
// answers, in the shapes and time formats of the real service. Imports nothing of the product.

import { formatLocal, local, QUARTER, type SimSite, type SiteModel } from "./site.js";

export interface RouteContext {
  /** The sites the caller's account may see. */
  visible: SiteModel[];
  listShape: "ids" | "objects";
  now: number;
  /** End of the latest interval that is complete and published. */
  availableUntil: number;
}

export interface RouteResult {
  status: number;
  payload: unknown;
  /** Rows of site_data or meter_data in the answer. */
  rows?: number;
}

type Row = Record<string, number | string>;

const METER_TYPES = ["electricity", "heating", "cooling", "cold_water", "hot_water", "charge_point"];
const FREQUENCIES = ["15T", "H", "D", "M", "Y"];
const MAX_QUARTERS = 31 * 96;
const DAY = 86_400_000;
const NOT_FOUND: RouteResult = { status: 404, payload: { msg: "Not found" } };

export function route(
  method: string,
  path: string,
  body: unknown,
  query: URLSearchParams,
  ctx: RouteContext,
) {
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const [first, second, third] = parts;
  const find = (id: string | undefined) => ctx.visible.find((model) => model.site.id === id);
  const ok = (payload: unknown): RouteResult => ({ status: 200, payload });

  if (method === "GET" && parts.length === 1 && first === "all_installations") {
    return ok(
      ctx.visible.map(({ site }) => (ctx.listShape === "ids" ? site.id : { _id: site.id, name: site.name })),
    );
  }
  if (method === "GET" && parts.length === 2 && first === "installation_infos") {
    const model = find(second);
    return model ? ok(infos(model.site)) : NOT_FOUND;
  }
  if (method === "GET" && parts.length === 2 && first === "meter_info") {
    const model = find(second);
    if (!model) return NOT_FOUND;
    return ok(
      model.site.meters.map(({ scale: _, ...meter }, i) => ({
        ...meter,
        prim_ad: String(10 + i),
        is_rule_meter: false,
      })),
    );
  }
  if (method === "GET" && parts.length === 2 && second === "sensors_list") {
    const model = find(first);
    return model
      ? ok(model.site.sensors.map((sensor) => ({ model: "LoRa multisensor", ...sensor })))
      : NOT_FOUND;
  }
  if (method === "GET" && parts.length === 3 && second === "sensor_data") {
    const model = find(first);
    const sensor = model?.site.sensors.find((s) => s.id === third);
    if (!model || !sensor) return NOT_FOUND;
    // readings every 5 minutes with Unix-second timestamps; without t_s: the latest hour
    const to = Math.min(instant(query.get("t_e")) ?? ctx.now, ctx.now);
    const from = Math.max(instant(query.get("t_s")) ?? to - 3_600_000, to - 7 * DAY);
    const rows = [];
    for (let at = Math.ceil(from / 300_000) * 300_000; at <= to; at += 300_000) {
      rows.push({ timestamp: Math.floor(at / 1000), value: model.sensorValue(sensor, at) });
    }
    return ok(rows);
  }
  if (method === "POST" && parts.length === 3 && (first === "site_data" || first?.startsWith("meter_data"))) {
    const model = find(second);
    if (!model) return NOT_FOUND;
    const params = body !== null && typeof body === "object" ? (body as Record<string, unknown>) : {};
    const frequency = first === "meter_data_raw" ? "15T" : (params.sampling_frequency ?? "15T");
    const from = instant(params.t_s);
    const to = instant(params.t_e);
    if (from === null || to === null)
      return { status: 400, payload: { msg: "t_s/t_e: not an isoformat datetime" } };
    if (typeof frequency !== "string" || !FREQUENCIES.includes(frequency)) {
      return { status: 400, payload: { msg: "sampling_frequency must be one of 15T, H, D, M, Y" } };
    }
    let makeRow: (start: number) => Record<string, number>;
    if (first === "site_data") {
      const type = third ?? "";
      if (!METER_TYPES.includes(type)) return { status: 400, payload: { msg: `unknown meter type ${type}` } };
      makeRow = (start) => model.siteRow(type, start);
    } else {
      const meter = model.site.meters.find((m) => m.id === third);
      if (!meter) return NOT_FOUND;
      makeRow = (start) =>
        first === "meter_data" ? model.meterRow(meter, start) : model.rawRow(meter, start);
    }
    const until = Math.min(ctx.availableUntil, to ?? Number.POSITIVE_INFINITY);
    const rows = series(model.site.timezone, from ?? until - DAY, until, frequency, makeRow);
    return { status: 200, payload: rows, rows: first === "meter_data_raw" ? 0 : rows.length };
  }
  return NOT_FOUND;
}

/**
 * Rows of the complete intervals that start at or after `from` and end by `until`. 15T rows
 * carry the END of their interval, aggregated rows the start of their local period (as the
 * API document says), values summed.
 */
function series(
  zone: string,
  from: number,
  until: number,
  frequency: string,
  makeRow: (start: number) => Record<string, number>,
): Row[] {
  const earliest = until - (frequency === "15T" ? MAX_QUARTERS * QUARTER : 400 * DAY);
  const rows: Row[] = [];
  let bucket: { key: string; row: Row } | undefined;
  for (
    let start = Math.max(Math.ceil(from / QUARTER) * QUARTER, earliest);
    start + QUARTER <= until;
    start += QUARTER
  ) {
    const values = makeRow(start);
    if (frequency === "15T") {
      rows.push({ ...values, timestamp: formatLocal(start + QUARTER, zone) });
      continue;
    }
    const t = local(start, zone);
    const depth = { Y: 1, M: 2, D: 3 }[frequency] ?? 4;
    const key = [t.year, t.month, t.day, t.hour].slice(0, depth).join("-");
    if (bucket?.key !== key) {
      bucket = { key, row: { timestamp: formatLocal(start, zone) } };
      rows.push(bucket.row);
    }
    for (const [name, value] of Object.entries(values)) {
      bucket.row[name] = Math.round(((Number(bucket.row[name]) || 0) + value) * 1000) / 1000;
    }
  }
  return rows;
}

function infos(site: SimSite) {
  return {
    site_ref: `CK-${site.id.slice(-6).toUpperCase()}`,
    name: site.name,
    address: { street_name: "Chemin des Tilleuls", street_number: "12", city: "Lausanne", postal_code: 1004 },
    creation_date: "2021-04-12T09:30:00",
    latitude: 46.52,
    longitude: 6.63,
    timezone: site.timezone,
  };
}

/** A `t_s`/`t_e` value: tz-naive means UTC. undefined when absent, null when unreadable. */
function instant(value: unknown): number | undefined | null {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") return null;
  const zoned = /([zZ]|[+-]\d{2}:?\d{2})$/.test(value) ? value : `${value}Z`;
  const ms = Date.parse(zoned.replace(" ", "T"));
  return Number.isFinite(ms) ? ms : null;
}
