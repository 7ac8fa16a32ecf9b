import type { GoeSimCharger } from "./state.js";

// What the simulated charger accepts on `/api/set`, key by key. Error texts follow what the
// charger answers where it is known (fna, read-only keys, bad JSON).

export interface Setter {
  check(value: unknown, charger: GoeSimCharger): string | undefined;
  apply?(value: unknown, charger: GoeSimCharger, now: number): void;
  /** Write-only keys (ids, cak) do not show up in the status afterwards. */
  writeOnly?: boolean;
}

export const MIN_AMPS = 6;

export function describe(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

/** A limit that is either fixed or read from the charger (amp's upper limit is ama). */
type Bound = number | ((charger: GoeSimCharger) => number);

export function int(min: Bound, max: Bound) {
  return (value: unknown, charger: GoeSimCharger): string | undefined => {
    if (typeof value !== "number" || !Number.isInteger(value))
      return `Expected integer, got ${describe(value)}`;
    const low = typeof min === "number" ? min : min(charger);
    const high = typeof max === "number" ? max : max(charger);
    if (value < low || value > high) return `Value ${value} exceeds range ${low} to ${high}`;
    return undefined;
  };
}

export function nullable(check: Setter["check"]): Setter["check"] {
  return (value, charger) => (value === null ? undefined : check(value, charger));
}

function number(min: number, max = Number.POSITIVE_INFINITY): Setter["check"] {
  return (value) => {
    if (typeof value !== "number" || !Number.isFinite(value))
      return `Expected number, got ${describe(value)}`;
    if (value < min || value > max) return `Value ${value} exceeds range ${min} to ${max}`;
    return undefined;
  };
}

export const SETTERS: ReadonlyMap<string, Setter> = new Map<string, Setter>([
  ["amp", { check: int(MIN_AMPS, (charger) => charger.number("ama", 32)) }],
  ["ama", { check: int(MIN_AMPS, 32) }],
  ["mca", { check: int(MIN_AMPS, (charger) => charger.number("ama", 32)) }],
  ["ate", { check: number(0) }],
  ["att", { check: int(0, 86_399) }],
  ["tof", { check: int(-720, 840) }],
  ["tds", { check: int(0, 2) }],
  ["fst", { check: number(0) }],
  ["sh", { check: number(0) }],
  [
    "acp",
    { check: (value) => (typeof value === "boolean" ? undefined : `Expected bool, got ${describe(value)}`) },
  ],
  ["frc", { check: int(0, 2) }],
  ["psm", { check: int(0, 2) }],
  ["lmo", { check: int(3, 5) }],
  ["acs", { check: int(0, 2) }],
  ["ust", { check: int(0, 2) }],
  [
    "fup",
    {
      check: (value) => (typeof value === "boolean" ? undefined : `Expected bool, got ${describe(value)}`),
    },
  ],
  [
    "dwo",
    {
      check: nullable((value) =>
        typeof value === "number" && Number.isFinite(value) && value >= 0
          ? undefined
          : `Expected null or a number >= 0, got ${describe(value)}`,
      ),
    },
  ],
  ["trx", { check: nullable(int(0, 10)) }],
  [
    "tcl",
    {
      check: nullable(int(MIN_AMPS, 32)),
      apply: (value, charger, now) => charger.setTemporaryLimit(value, now),
    },
  ],
  [
    "fna",
    {
      check: (value) => {
        if (typeof value !== "string") return `Expected string, got ${describe(value)}`;
        if (value.length < 4 || value.length > 64)
          return `String length ${value.length} exceeds range 4 to 64`;
        return undefined;
      },
    },
  ],
  [
    "ids",
    {
      check: (value) =>
        value !== null && typeof value === "object" && !Array.isArray(value)
          ? undefined
          : `Expected object, got ${describe(value)}`,
      apply: (value, charger, now) => charger.applyIds(value as Record<string, unknown>, now),
      writeOnly: true,
    },
  ],
  // any value makes the charger generate a new cloud token: the old one stops working
  ["cak", { check: () => undefined, apply: (_value, charger) => charger.regenerateToken(), writeOnly: true }],
]);
