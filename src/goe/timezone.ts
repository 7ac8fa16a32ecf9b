// The go-e charger keeps its own wall clock: `tof` minutes east of UTC, plus one hour while
// the daylight-saving rule `tds` says so (0 none, 1 European, 2 US). Its departure time `att`
// counts seconds from that clock's midnight, so a planTime is converted with the charger's zone,
// never the host's. The rules, as EU and US law define them:
// - European: last Sunday of March 01:00 UTC until last Sunday of October 01:00 UTC;
// - US: second Sunday of March 02:00 standard time until first Sunday of November 02:00
//   daylight time.

const MINUTE_MS = 60_000;
const DAY_S = 86_400;

export interface ChargerZone {
  /** Standard offset in minutes east of UTC (`tof`). */
  tof: number;
  /** Daylight-saving rule (`tds`). */
  tds: number;
}

/** The charger's zone from its status, when it reports a usable one. */
export function chargerZone(status: Record<string, unknown> | undefined): ChargerZone | undefined {
  const tof = status?.tof;
  const tds = status?.tds;
  if (typeof tof !== "number" || !Number.isFinite(tof)) return undefined;
  return { tof, tds: typeof tds === "number" ? tds : 0 };
}

/** Day of month of a Sunday, by the weekday formula valid for 1900..2099. */
function sundayOf(year: number, base: number, shift: number): number {
  return base - ((Math.floor((5 * year) / 4) + shift) % 7);
}

function daylightSavingAt(utcMs: number, zone: ChargerZone): boolean {
  const standard = utcMs + zone.tof * MINUTE_MS;
  const year = new Date(standard).getUTCFullYear();
  if (zone.tds === 1) {
    const begins = Date.UTC(year, 2, sundayOf(year, 31, 4), 1);
    const ends = Date.UTC(year, 9, sundayOf(year, 31, 1), 1);
    return utcMs >= begins && utcMs < ends;
  }
  if (zone.tds === 2) {
    // compared in local standard time: 02:00 in March, 01:00 (= 02:00 daylight) in November
    const begins = Date.UTC(year, 2, sundayOf(year, 14, 1), 2);
    const ends = Date.UTC(year, 10, sundayOf(year, 7, 1), 1);
    return standard >= begins && standard < ends;
  }
  return false;
}

/** Minutes east of UTC that the charger's clock shows at the instant `utcMs`. */
export function offsetAt(utcMs: number, zone: ChargerZone): number {
  return zone.tof + (daylightSavingAt(utcMs, zone) ? 60 : 0);
}

/** Seconds since the charger's midnight at the instant `utcMs`. */
export function chargerSecondsOfDay(utcMs: number, zone: ChargerZone): number {
  const local = Math.floor((utcMs + offsetAt(utcMs, zone) * MINUTE_MS) / 1000);
  return ((local % DAY_S) + DAY_S) % DAY_S;
}

/** The next instant (after `nowMs`) at which the charger's clock shows `seconds` after midnight. */
export function nextOccurrence(seconds: number, nowMs: number, zone: ChargerZone): number {
  const ahead = (seconds - chargerSecondsOfDay(nowMs, zone) + DAY_S) % DAY_S || DAY_S;
  let candidate = Math.floor(nowMs / 1000) * 1000 + ahead * 1000;
  // a DST change in between moves the wall clock: correct by the difference once
  candidate -= (offsetAt(candidate, zone) - offsetAt(nowMs, zone)) * MINUTE_MS;
  return candidate;
}

/** RFC 3339 in the charger's own offset: `2026-03-29T07:30:00+02:00`. */
export function chargerTimeText(utcMs: number, zone: ChargerZone): string {
  const offset = offsetAt(utcMs, zone);
  const wall = new Date(utcMs + offset * MINUTE_MS).toISOString().slice(0, 19);
  const sign = offset < 0 ? "-" : "+";
  const hours = String(Math.floor(Math.abs(offset) / 60)).padStart(2, "0");
  const minutes = String(Math.abs(offset) % 60).padStart(2, "0");
  return `${wall}${sign}${hours}:${minutes}`;
}

const CLOCK_TIME = /^([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * A departure time as `att` (seconds after the charger's midnight): `HH:MM` is the charger's
 * own clock; an RFC 3339 instant is converted with the charger's zone and must lie within the
 * next 24 hours, since the charger's departure time is a time of day, not a date.
 */
export function parsePlanTime(
  text: string,
  nowMs: number,
  zone: ChargerZone | undefined,
): { seconds: number } | { error: string } {
  const clock = CLOCK_TIME.exec(text);
  if (clock) {
    return { seconds: Number(clock[1]) * 3600 + Number(clock[2]) * 60 + Number(clock[3] ?? 0) };
  }
  if (!RFC3339.test(text)) {
    return { error: "planTime must be HH:MM (the charger's clock), an RFC 3339 time or none" };
  }
  const instant = Date.parse(text);
  if (!Number.isFinite(instant)) return { error: "planTime is not a valid date and time" };
  if (!zone) return { error: "the charger has not reported its time zone (tof) yet: use HH:MM or retry" };
  if (instant <= nowMs) return { error: "planTime lies in the past" };
  if (instant > nowMs + DAY_S * 1000) {
    return { error: "planTime is more than 24 h ahead: the charger plans by time of day, not by date" };
  }
  return { seconds: chargerSecondsOfDay(instant, zone) };
}
