import type { Values } from "../source.js";
import type { GoeStatus } from "./api.js";
import { mapSettings, SETTINGS_KEYS } from "./mapping-settings.js";

// go-e status → evcc loadpoint values. Pure, so it can be tested with real payloads.
// The charger's types drift between firmware versions (bac was a bool where the docs say enum,
// tma elements can be strings, psm vanished from the docs but is live), so every key is read
// leniently: a key of the wrong type counts as absent, never as an error.

/** The keys the bridge reads; nothing else is requested (`filter=`). */
export const STATUS_KEYS = [
  "car",
  "amp",
  "frc",
  "psm",
  "alw",
  "acu",
  "nrg",
  "wh",
  "eto",
  "err",
  "lmo",
  "fup",
  "pha",
  "ama",
  "fna",
  "fwv",
  "sse",
  "cbl",
  "tma",
  "modelStatus",
  "var",
  "trx",
  "cus",
] as const;

/** The keys of one poll: the live ones, the settings when due, and any a write must confirm. */
export function pollKeys(
  liveKeys: readonly string[],
  withSettings: boolean,
  extraKeys: readonly string[] = [],
): readonly string[] {
  if (!withSettings && extraKeys.length === 0) return liveKeys;
  return [...new Set([...liveKeys, ...(withSettings ? SETTINGS_KEYS : []), ...extraKeys])];
}

/** Fallbacks when the charger does not report its limits. */
export const MIN_CURRENT = 6;
export const DEFAULT_MAX_CURRENT = 32;

export function num(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value)))
    return Number(value);
  return undefined;
}

function bool(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (value === 0 || value === 1) return value === 1;
  return undefined;
}

/** Readable names of the most common `modelStatus` reasons (go-e API key table). */
const REASONS: Record<number, string> = {
  0: "notChargingNoChargeCtrlData",
  1: "notChargingOvertemperature",
  2: "notChargingAccessControlWait",
  3: "chargingForceStateOn",
  4: "notChargingForceStateOff",
  5: "notChargingScheduler",
  6: "notChargingEnergyLimit",
  7: "chargingAwattarPriceLow",
  12: "chargingPvSurplus",
  13: "chargingFallbackGoEDefault",
  15: "chargingFallbackDefault",
  17: "notChargingPvSurplusTooLow",
  22: "notChargingNotAllowed",
  26: "notChargingError",
  27: "notChargingLoadManagement",
};

export type ChargeMode = "off" | "now" | "pv";

/**
 * frc=1 (off) → off; frc=2 (on) → now; neutral frc=0 leaves it to the charger's logic: with
 * "use PV surplus" (fup) in Eco logic that is pv, otherwise the charger charges as soon as a
 * car is there (or as its departure plan says), which is what evcc calls now.
 */
export function chargeMode(status: GoeStatus): ChargeMode | undefined {
  const frc = num(status.frc);
  if (frc === 1) return "off";
  if (frc === 2) return "now";
  // go-e uses PV surplus only in Eco logic (lmo 4): with Default (3) or a departure plan (5)
  // fup is a setting kept for later, and the charger charges as it would without it
  const lmo = num(status.lmo);
  if (frc === 0) return bool(status.fup) && lmo !== 3 && lmo !== 5 ? "pv" : "now";
  return undefined;
}

/** go-e psm 0/1/2 ↔ evcc phasesConfigured 0 (auto)/1/3. */
export function phasesConfigured(status: GoeStatus): number | undefined {
  const psm = num(status.psm);
  if (psm === 0) return 0;
  if (psm === 1) return 1;
  if (psm === 2) return 3;
  return undefined;
}

/** evcc's charger status: A idle, B connected, C charging, E error. */
export function chargerStatus(car: number | null | undefined, err: number | undefined): string | undefined {
  if (car === undefined) return undefined;
  if ((err !== undefined && err > 0) || car === null || car === 0 || car === 5) return "E";
  if (car === 2) return "C";
  if (car === 3 || car === 4) return "B";
  return "A";
}

/** The highest current `amp` may be set to. */
export function maxCurrentLimit(status: GoeStatus | undefined): number {
  return num(status?.ama) ?? DEFAULT_MAX_CURRENT;
}

export function mapStatus(status: GoeStatus, title?: string, nowMs = Date.now()): Values {
  const car = status.car === null ? null : num(status.car);
  const err = num(status.err);
  const values: Values = {};

  values.title = title ?? (typeof status.fna === "string" ? status.fna : undefined);
  if (car !== undefined) {
    values.connected = car === 2 || car === 3 || car === 4;
    values.charging = car === 2;
  }
  values.chargerStatus = chargerStatus(car, err);
  values.enabled = bool(status.alw);
  values.mode = chargeMode(status);
  values.maxCurrent = num(status.amp);
  values.minCurrent = MIN_CURRENT;
  values.maxCurrentLimit = num(status.ama);
  values.offeredCurrent = status.acu === null ? 0 : num(status.acu);
  values.phasesConfigured = phasesConfigured(status);

  const nrg = Array.isArray(status.nrg) ? status.nrg.map(num) : [];
  if (nrg.length >= 12) {
    values.chargePower = nrg[11];
    values["chargeVoltages/l1"] = nrg[0];
    values["chargeVoltages/l2"] = nrg[1];
    values["chargeVoltages/l3"] = nrg[2];
    values["chargeCurrents/l1"] = nrg[4];
    values["chargeCurrents/l2"] = nrg[5];
    values["chargeCurrents/l3"] = nrg[6];
  }
  values.phasesActive = activePhases(status.pha, nrg, car === 2);

  const wh = num(status.wh);
  if (wh !== undefined) values.sessionEnergy = wh;
  const eto = num(status.eto);
  if (eto !== undefined) values.chargeTotalImport = eto / 1000;

  if (Array.isArray(status.tma)) {
    // a failed sensor reports a string instead of a number (seen in the field): skip it
    const temperatures = status.tma.map(num).filter((t): t is number => t !== undefined);
    values.temperature = temperatures.length > 0 ? Math.max(...temperatures) : null;
  }
  values.cableLimit = status.cbl === null ? null : num(status.cbl);
  // into the same object: a poll maps every key, an object per part would be garbage per poll
  mapSettings(status, nowMs, values);
  values.errorCode = err;
  const reason = num(status.modelStatus);
  if (reason !== undefined) values.chargerStatusReason = REASONS[reason] ?? `modelStatus${reason}`;
  return values;
}

/**
 * pha = [L1, L2, L3 after the contactor, L1, L2, L3 before it]: the phases the car is fed on
 * are the first three. Chargers that don't report pha are judged by their currents.
 */
function activePhases(pha: unknown, nrg: Array<number | undefined>, charging: boolean): number | undefined {
  if (Array.isArray(pha) && pha.length >= 3) {
    const count = pha.slice(0, 3).filter((flag) => flag === true).length;
    return charging || count > 0 ? count : 0;
  }
  if (nrg.length >= 7) return [nrg[4], nrg[5], nrg[6]].filter((current) => (current ?? 0) > 0.5).length;
  return undefined;
}
