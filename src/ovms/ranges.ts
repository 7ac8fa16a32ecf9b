import type { Values } from "../source.js";

// What a car can plausibly report. A garbled v2 line (`S150,…`, `S1e308,…`) or a server that
// mixes up fields must not become a value: a SoC of 150 % or a range of 1e308 km would land in
// Home Assistant's statistics for good. Values outside are not published (the last good one
// stays), and the vehicle logs which ones it dropped.

const RANGES: Array<[pattern: RegExp, min: number, max: number]> = [
  [/^soc$|^chargeLimitSoc$/, 0, 100],
  [/^range$/, 0, 3000],
  [/^odometer$/, 0, 10_000_000],
  [/^chargePower$/, -1_000_000, 1_000_000],
  [/^chargeCurrent$|^chargeCurrentMeasured$/, -2000, 2000],
  [/^temperatures\/|^tyres\/.*\/temperature$/, -70, 250],
  [/^tyres\/.*\/pressure$/, 0, 1500],
  [/^latitude$/, -90, 90],
  [/^longitude$/, -180, 180],
  [/^messageAge$/, 0, 10 * 365 * 86_400],
];

/** Longest text value taken from the car (charge state and mode are single words). */
const MAX_TEXT = 40;

/** The values within range, and the keys that were not. */
export function withinRange(values: Values): { values: Values; rejected: string[] } {
  const kept: Values = {};
  const rejected: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (plausible(key, value)) kept[key] = value;
    else rejected.push(key);
  }
  // the tracker's position goes with its parts
  if (rejected.includes("latitude") || rejected.includes("longitude")) {
    for (const key of ["latitude", "longitude", "location"]) {
      if (key in kept) rejected.push(key);
      delete kept[key];
    }
  }
  return { values: kept, rejected };
}

function plausible(key: string, value: unknown): boolean {
  if (typeof value === "string") return value.length <= MAX_TEXT || key === "location";
  if (typeof value !== "number") return true;
  if (!Number.isFinite(value)) return false;
  const range = RANGES.find(([pattern]) => pattern.test(key));
  return !range || (value >= range[1] && value <= range[2]);
}
