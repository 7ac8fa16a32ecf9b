// The simulated sites of the Climkit simulator: their meters and sensors, and values that
// follow a plausible day by site-local hour (PV bell curve, household load with a morning and
// an evening peak, a heat pump working harder at night, an evening charging session).
// Deterministic: the same interval always has the same values. Imports nothing of the
// product, so the simulator can stand in for the real service anywhere.

export const QUARTER = 15 * 60_000;

export type SimMeterType =
  | "electricity"
  | "heating"
  | "cooling"
  | "cold_water"
  | "hot_water"
  | "charge_point";

export interface SimMeter {
  id: string;
  type: SimMeterType;
  name: string;
  mode: "consumption" | "production" | "introduction" | "battery";
  /** kWp for PV, typical kW of load (heat for heating), m³ per hour at peak for water. */
  scale?: number;
  /**
   * The meter's energy in [start, end) in kWh, measured elsewhere: replaces the modelled curve
   * (the demo wires its simulated chargers to the building's charge point meter here).
   */
  measured?: (start: number, end: number) => number;
}

export interface SimSensor {
  id: string;
  name: string;
  /** `temperature`, `humidity`, `co2`: picks the curve the values follow. */
  type: string;
  unit: string;
  model?: string;
}

export interface SimSite {
  id: string;
  name: string;
  timezone: string;
  meters: SimMeter[];
  sensors: SimSensor[];
}

export function defaultSite(): SimSite {
  return {
    id: "5f2b1c9e8d7a6b5c4d3e2f10",
    name: "Résidence Les Tilleuls",
    timezone: "Europe/Zurich",
    meters: [
      {
        id: "6a01c0ffee0000000000a001",
        type: "electricity",
        name: "PV toiture",
        mode: "production",
        scale: 24,
      },
      {
        id: "6a01c0ffee0000000000a002",
        type: "electricity",
        name: "Appartement 1",
        mode: "consumption",
        scale: 1,
      },
      {
        id: "6a01c0ffee0000000000a003",
        type: "electricity",
        name: "Appartement 2",
        mode: "consumption",
        scale: 1.4,
      },
      {
        id: "6a01c0ffee0000000000a004",
        type: "heating",
        name: "Pompe à chaleur",
        mode: "consumption",
        scale: 6,
      },
      {
        id: "6a01c0ffee0000000000a005",
        type: "charge_point",
        name: "Borne",
        mode: "consumption",
        scale: 7.4,
      },
    ],
    sensors: [
      { id: "6a01c0ffee0000000000b001", name: "Température extérieure", type: "temperature", unit: "°C" },
      { id: "6a01c0ffee0000000000b002", name: "Humidité cave", type: "humidity", unit: "%" },
    ],
  };
}

/**
 * A site whose ids are not safe as MQTT topic levels, as the service allows: a meter `meter#1`
 * (a wildcard), one with a `/` inside and a `$` in front, and a sensor `temp+out`.
 */
export function hostileSite(): SimSite {
  return {
    id: "5f2b1c9e8d7a6b5c4d3e2f99",
    name: "Site #1 / + test",
    timezone: "Europe/Zurich",
    meters: [
      { id: "meter#1", type: "electricity", name: "PV #1", mode: "production", scale: 10 },
      { id: "$flat/2", type: "electricity", name: "Flat +2", mode: "consumption", scale: 1 },
    ],
    sensors: [{ id: "temp+out", name: "Outside", type: "temperature", unit: "°C" }],
  };
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Local calendar fields of an instant in a zone, and the zone's offset then (minutes). */
export function local(ms: number, zone: string) {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(zone, format);
  }
  const f: Record<string, number> = {};
  for (const part of format.formatToParts(ms)) if (part.type !== "literal") f[part.type] = Number(part.value);
  const [year, month, day, hour, minute, second] = [f.year, f.month, f.day, f.hour, f.minute, f.second].map(
    (n) => n ?? 0,
  ) as [number, number, number, number, number, number];
  const offset = Math.round((Date.UTC(year, month - 1, day, hour, minute, second) - ms) / 60_000);
  return { year, month, day, hour, minute, second, offset };
}

const two = (n: number) => String(n).padStart(2, "0");

/** `2026-03-22 05:30:00+01:00`: local time with offset and a space, as the real service sends. */
export function formatLocal(ms: number, zone: string): string {
  const t = local(ms, zone);
  const sign = t.offset < 0 ? "-" : "+";
  const off = Math.abs(t.offset);
  return `${t.year}-${two(t.month)}-${two(t.day)} ${two(t.hour)}:${two(t.minute)}:${two(t.second)}${sign}${two(Math.floor(off / 60))}:${two(off % 60)}`;
}

/** Site-local hour of day with fraction, and day of year. */
function clock(ms: number, zone: string): { hour: number; dayOfYear: number } {
  const t = local(ms, zone);
  const dayOfYear =
    Math.floor((Date.UTC(t.year, t.month - 1, t.day) - Date.UTC(t.year, 0, 1)) / 86_400_000) + 1;
  return { hour: t.hour + t.minute / 60, dayOfYear };
}

/** A pseudo-random number in [0, 1) fixed by a text and a slot number. */
function noise(seed: string, slot: number): number {
  let h = 2166136261 ^ slot;
  for (let i = 0; i < seed.length; i += 1) h = Math.imul(h ^ seed.charCodeAt(i), 16777619);
  h = Math.imul(h ^ (h >>> 15), 2246822507);
  h = Math.imul(h ^ (h >>> 13), 3266489909);
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

const bump = (hour: number, center: number, width: number) => Math.exp(-(((hour - center) / width) ** 2));
const round3 = (n: number) => Math.round(n * 1000) / 1000;

/** Household load in kW for scale 1: base load, morning and evening peaks, a smaller noon one. */
function household(hour: number): number {
  return 0.2 + 0.9 * bump(hour, 7.3, 1.1) + 0.5 * bump(hour, 12.2, 0.9) + 1.5 * bump(hour, 19.2, 1.6);
}

/** PV output per kWp: a bell between sunrise and sunset, longer and higher in summer. */
function solar(hour: number, dayOfYear: number): number {
  const season = Math.sin((2 * Math.PI * (dayOfYear - 80)) / 365);
  const halfDay = 6 + 2.2 * season;
  const x = (hour - 13) / halfDay;
  if (Math.abs(x) >= 1) return 0;
  return (0.55 + 0.3 * season) * Math.cos((Math.PI / 2) * x) ** 1.6;
}

export class SiteModel {
  constructor(readonly site: SimSite) {}

  /** Energy of a meter in the interval starting at `start`: kWh, or m³ for water. */
  meterValue(meter: SimMeter, start: number): number {
    if (meter.measured) return round3(meter.measured(start, start + QUARTER));
    const { hour, dayOfYear } = clock(start + QUARTER / 2, this.site.timezone);
    const slot = Math.floor(start / QUARTER);
    const jitter = noise(meter.id, slot);
    const scale = meter.scale ?? 1;
    let kw: number;
    if (meter.mode === "production") {
      kw = scale * solar(hour, dayOfYear) * (0.55 + 0.45 * jitter);
      // the real service sends small negative artefacts at night
      if (kw === 0 && jitter < 0.1) return -0.001;
    } else if (meter.type === "charge_point") {
      kw = hour >= 18.5 && hour < 21 ? scale : 0;
    } else if (meter.type === "heating" || meter.type === "cooling") {
      const winter = 0.5 - 0.5 * Math.sin((2 * Math.PI * (dayOfYear - 80)) / 365);
      kw = scale * (0.15 + 0.85 * winter) * (0.6 + 0.4 * Math.cos((2 * Math.PI * (hour - 4)) / 24));
    } else if (meter.type === "cold_water" || meter.type === "hot_water") {
      kw = (scale * household(hour)) / 2.6;
    } else {
      kw = scale * household(hour) * (0.85 + 0.3 * jitter);
    }
    return round3(kw * (QUARTER / 3_600_000) * (0.97 + 0.06 * noise(`${meter.id}:v`, slot)));
  }

  private electricity(start: number) {
    const meters = this.site.meters.map((meter) => ({ meter, value: this.meterValue(meter, start) }));
    const producers = meters.filter((m) => m.meter.type === "electricity" && m.meter.mode === "production");
    const consumers = meters.filter(
      (m) =>
        (m.meter.type === "electricity" || m.meter.type === "charge_point") && m.meter.mode !== "production",
    );
    const prod = round3(producers.reduce((sum, m) => sum + m.value, 0));
    const conso = round3(consumers.reduce((sum, m) => sum + m.value, 0));
    const self = round3(Math.min(Math.max(prod, 0), conso));
    return { producers, consumers, prod, conso, self };
  }

  /** A `site_data` row without its timestamp. */
  siteRow(type: string, start: number): Record<string, number> {
    if (type !== "electricity") {
      const total = this.site.meters
        .filter((meter) => meter.type === type)
        .reduce((sum, meter) => sum + this.meterValue(meter, start), 0);
      return { conso_total: round3(total) };
    }
    const { producers, consumers, prod, conso, self } = this.electricity(start);
    const row: Record<string, number> = {
      prod_total: prod,
      self,
      from_ext: round3(conso - self),
      to_ext: round3(Math.max(prod, 0) - self),
      conso_total: conso,
      storage_charging_total: 0,
      storage_discharging_total: 0,
    };
    for (const { meter, value } of producers) row[`total_${meter.id}`] = value;
    for (const { meter, value } of consumers) {
      const share = conso > 0 ? round3((self * value) / conso) : 0;
      Object.assign(row, { [`total_${meter.id}`]: value, [`self_${meter.id}`]: share });
      row[`ext_${meter.id}`] = round3(value - share);
    }
    return row;
  }

  /** A `meter_data` row without its timestamp: PV meters carry only `total`. */
  meterRow(meter: SimMeter, start: number): Record<string, number> {
    const total = this.meterValue(meter, start);
    if (meter.mode === "production" || (meter.type !== "electricity" && meter.type !== "charge_point")) {
      return { total };
    }
    const { conso, self } = this.electricity(start);
    const share = conso > 0 ? round3((self * total) / conso) : 0;
    return { ext: round3(total - share), self: share, total };
  }

  /** A `meter_data_raw` row: the differential readings of a physical meter. */
  rawRow(meter: SimMeter, start: number): Record<string, number> {
    const value = Math.max(0, this.meterValue(meter, start));
    if (meter.type === "heating" || meter.type === "cooling") return { heat_energy_kwh: value };
    if (meter.type === "cold_water" || meter.type === "hot_water") return { vol_m3: value };
    return meter.mode === "production" ? { en_im: 0, en_ex: value } : { en_im: value, en_ex: 0 };
  }

  /** A sensor's reading at an instant. */
  sensorValue(sensor: SimSensor, at: number): number {
    const { hour, dayOfYear } = clock(at, this.site.timezone);
    const wave = Math.sin((2 * Math.PI * (hour - 9)) / 24);
    const season = Math.sin((2 * Math.PI * (dayOfYear - 110)) / 365);
    const wobble = noise(sensor.id, Math.floor(at / 300_000)) - 0.5;
    const type = sensor.type.toLowerCase();
    let value: number;
    if (type.includes("temp")) value = 10 + 9 * season + 5 * wave + wobble;
    else if (type.includes("humid")) value = 60 - 10 * wave + 2 * wobble;
    else if (type.includes("co2")) value = 450 + 300 * household(hour) + 20 * wobble;
    else value = 1 + 0.1 * wave;
    return Math.round(value * 10) / 10;
  }
}
