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
// heating and cooling kWh of heat (power W of heat); cold_water, hot_water and gas m³ (no power);
// any other type: the number as it comes, `unit` empty, no power.
//
// Sensor values `sensors/<id>/…`: `name`, `type`, `unit` from sensors_list, and `value`, the
// latest reading of `GET <site>/sensor_data/<sensor>`.

import type { Values } from "../source.js";
import { topicLevel } from "../util/topic.js";
import type { MeterInfo, MeterRow, SensorInfo, SiteRow } from "./parse.js";
import { QUARTER_MS } from "./time.js";

/** kWh in a 15-minute slot → average W over the slot. */
const W_PER_KWH_PER_QUARTER = (60 / (QUARTER_MS / 60_000)) * 1000;

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
  quantity?: "energy" | "water" | "gas";
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
    // billed by volume like water; without a unit HA would show a bare number
    case "gas":
      return { unit: "m³", power: false, quantity: "gas" };
    default:
      return { unit: "", power: false };
  }
}

export function meterEnergy(row: MeterRow): Record<string, number | undefined> {
  return { energy: clamp(row.total) };
}

/** `meters/<id>/`: the id made topic-safe (meter ids come from the service: `meter#1` exists). */
export function meterBase(id: string): string {
  return `meters/${topicLevel(id)}/`;
}

/** `sensors/<id>/`, the id made topic-safe. */
export function sensorBase(id: string): string {
  return `sensors/${topicLevel(id)}/`;
}

export function meterInfoValues(meter: MeterInfo): Values {
  const base = meterBase(meter.id);
  return {
    [`${base}type`]: meter.type,
    [`${base}name`]: meter.name,
    [`${base}mode`]: meter.mode,
    [`${base}unit`]: meterKind(meter.type).unit,
  };
}

export function meterIntervalValues(meter: MeterInfo, row: MeterRow): Values {
  const energy = meterEnergy(row).energy;
  const base = meterBase(meter.id);
  const values: Values = { [`${base}energy`]: energy ?? null };
  if (meterKind(meter.type).power) values[`${base}power`] = power(energy);
  return values;
}

export function sensorInfoValues(sensor: SensorInfo): Values {
  const base = sensorBase(sensor.id);
  return { [`${base}name`]: sensor.name, [`${base}unit`]: sensor.unit, [`${base}type`]: sensor.type };
}
