// Time as Climkit speaks it. Requests take tz-naive UTC ISO strings (`2026-03-22T04:30:00`);
// rows come back in the site's local time with an offset and a space separator
// (`2026-03-22 05:30:00+01:00`), sometimes naive (then UTC) or with a `T`; sensor rows carry
// integer timestamps, and MongoDB-style `{"$date": <epoch ms>}` objects appear in /auth.
// Days are the site's local days, computed with Intl (no time-zone dependency).

export const QUARTER_MS = 15 * 60_000;

const STAMP =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** Epoch milliseconds of a Climkit timestamp, or undefined for anything unreadable. */
export function parseTimestamp(input: unknown): number | undefined {
  if (typeof input === "number") {
    if (!Number.isFinite(input) || input <= 0) return undefined;
    // integer timestamps: seconds unless they are clearly milliseconds
    return input < 1e11 ? input * 1000 : input;
  }
  if (input !== null && typeof input === "object" && "$date" in input) {
    return parseTimestamp((input as { $date: unknown }).$date);
  }
  if (typeof input !== "string") return undefined;
  const match = STAMP.exec(input.trim());
  if (!match) return undefined;
  const [, y, mo, d, h = "0", mi = "0", s = "0", fraction = "", zone] = match;
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return undefined;
  }
  const millis = fraction ? Math.round(Number(`0.${fraction}`) * 1000) : 0;
  const utc = Date.UTC(Number(y), month - 1, day, hour, minute, second, millis);
  return utc - zoneOffsetOf(zone);
}

function zoneOffsetOf(zone: string | undefined): number {
  if (!zone || zone.toUpperCase() === "Z") return 0;
  const sign = zone.startsWith("-") ? -1 : 1;
  const digits = zone.slice(1).replace(":", "");
  const hours = Number(digits.slice(0, 2));
  const minutes = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
  return sign * (hours * 60 + minutes) * 60_000;
}

/** `2026-03-22T04:30:00`: the tz-naive UTC form Climkit's `t_s`/`t_e` expect. */
export function toNaiveUtc(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(timeZone, format);
  }
  return format;
}

/** Whether Intl knows the zone name (a site may report something odd). */
export function isTimeZone(name: unknown): name is string {
  if (typeof name !== "string" || name === "") return false;
  try {
    formatter(name);
    return true;
  } catch {
    return false;
  }
}

interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function localParts(ms: number, timeZone: string): LocalParts {
  const parts: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(ms)) {
    if (part.type !== "literal") parts[part.type] = Number(part.value);
  }
  return {
    year: parts.year ?? 1970,
    month: parts.month ?? 1,
    day: parts.day ?? 1,
    hour: parts.hour ?? 0,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
  };
}

function offsetAt(ms: number, timeZone: string): number {
  const p = localParts(ms, timeZone);
  const wholeSecond = Math.floor(ms / 1000) * 1000;
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - wholeSecond;
}

/** The instant the site's local day containing `ms` began (23 or 25 hours long on DST days). */
export function startOfLocalDay(ms: number, timeZone: string): number {
  const p = localParts(ms, timeZone);
  const midnightAsUtc = Date.UTC(p.year, p.month - 1, p.day);
  const guess = midnightAsUtc - offsetAt(ms, timeZone);
  // the offset at midnight can differ from the offset at `ms` on a DST day: look again
  return midnightAsUtc - offsetAt(guess, timeZone);
}

/** `2026-03-22`: the site-local date of an instant. */
export function localDate(ms: number, timeZone: string): string {
  const p = localParts(ms, timeZone);
  return `${p.year}-${pad(p.month)}-${pad(p.day)}`;
}

/** `10:45`, or `2026-03-21 10:45` when `ms` is not on the local day of `today`. */
export function localClock(ms: number, timeZone: string, today: number): string {
  const p = localParts(ms, timeZone);
  const clock = `${pad(p.hour)}:${pad(p.minute)}`;
  return localDate(ms, timeZone) === localDate(today, timeZone)
    ? clock
    : `${localDate(ms, timeZone)} ${clock}`;
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}
