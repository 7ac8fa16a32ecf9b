// The charger's wall clock: UTC plus `tof` minutes, plus an hour while daylight saving time is
// in force under the rule `tds` names (0 none, 1 European, 2 US). The go-e docs name the rules
// only; the simulator applies them as the EU and US laws define them:
// - European: from the last Sunday of March to the last Sunday of October, switching at
//   01:00 UTC in every zone;
// - US: from the second Sunday of March at 02:00 standard time to the first Sunday of
//   November at 02:00 daylight time (01:00 standard time).

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Midnight UTC of the `nth` Sunday (1-based; -1 = the last) of a month. */
function sunday(year: number, month: number, nth: number): number {
  if (nth > 0) {
    const first = Date.UTC(year, month, 1);
    const weekday = new Date(first).getUTCDay();
    return first + (((7 - weekday) % 7) + (nth - 1) * 7) * DAY;
  }
  const last = Date.UTC(year, month + 1, 0);
  return last - new Date(last).getUTCDay() * DAY;
}

/** Whether daylight saving time is in force at `utcMs` for a zone `tof` minutes east of UTC. */
export function daylightSaving(utcMs: number, tof: number, tds: number): boolean {
  const year = new Date(utcMs + tof * MINUTE).getUTCFullYear();
  if (tds === 1) {
    return utcMs >= sunday(year, 2, -1) + HOUR && utcMs < sunday(year, 9, -1) + HOUR;
  }
  if (tds === 2) {
    // local standard time → UTC: subtract the standard offset
    const start = sunday(year, 2, 2) + 2 * HOUR - tof * MINUTE;
    const end = sunday(year, 10, 1) + HOUR - tof * MINUTE;
    return utcMs >= start && utcMs < end;
  }
  return false;
}

/** Minutes east of UTC the charger's clock shows at `utcMs`. */
export function localOffset(utcMs: number, tof: number, tds: number): number {
  return tof + (daylightSaving(utcMs, tof, tds) ? 60 : 0);
}

/** Seconds since the charger's local midnight, the unit of `att`. */
export function secondsOfLocalDay(utcMs: number, tof: number, tds: number): number {
  const local = utcMs + localOffset(utcMs, tof, tds) * MINUTE;
  return Math.floor((((local % DAY) + DAY) % DAY) / 1000);
}

/** `loc` as the charger writes it: local time, microseconds after a dot, then the offset. */
export function localTimeText(utcMs: number, tof: number, tds: number): string {
  const offset = localOffset(utcMs, tof, tds);
  const iso = new Date(utcMs + offset * MINUTE).toISOString().slice(0, 23);
  const sign = offset < 0 ? "-" : "+";
  const abs = Math.abs(offset);
  const hh = String(Math.floor(abs / 60)).padStart(2, "0");
  const mm = String(abs % 60).padStart(2, "0");
  return `${iso}.000 ${sign}${hh}:${mm}`;
}
