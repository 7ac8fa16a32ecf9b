import type { Value } from "../source.js";
import { shown } from "../util/echo.js";
import { type GoeStatus, sendableJson } from "./api.js";
import { chargeMode, MIN_CURRENT, maxCurrentLimit, num, phasesConfigured } from "./mapping.js";
import { LOADPOINT_SETTINGS, type PlanContext } from "./writes-loadpoint.js";

// /set payloads → go-e /api/set parameters. Everything is validated here, before anything
// is queued: a refused write never reaches the charger, and since every write is checked on
// its own before it is merged with others, a merged /api/set never carries a bad key.
//
// Names come from users: every table is a Map (or checked with Object.hasOwn), so a name such
// as `constructor` or `__proto__` finds nothing instead of an inherited property.

/** A validated write: what to send, and how to recognise it in the status read back. */
export interface GoePlan {
  params: Record<string, unknown>;
  /** The confirmed value, or undefined while the charger does not report it yet. */
  readBack(status: GoeStatus): Value | undefined;
  /** The value the user asked for, as the read-back must show it. */
  expected: Value;
}

export type PlanResult = GoePlan | { error: string };

/**
 * Keys that would cut the bridge off, endanger the installation, or break the user's own
 * setup. No configuration can open them: `writableKeys` entries naming them are refused.
 */
export const DENIED_KEYS: ReadonlyMap<string, string> = new Map([
  ["cak", "it regenerates the cloud API token and cuts the bridge off"],
  ["cae", "it can switch the cloud API off and cut the bridge off"],
  ["cwe", "it can switch the cloud connection off"],
  ["rst", "it reboots the charger"],
  ["oct", "it starts a firmware update"],
  ["upd", "it touches firmware updates"],
  ["hai", "it can switch the local HTTP API off"],
  ["hla", "it can switch the local HTTP API off"],
  ["wifis", "it changes the WiFi configuration"],
  ["delw", "it erases WiFi configurations"],
  ["wda", "it disables the WiFi access point"],
  ["wen", "it changes the WiFi configuration"],
  ["mce", "it changes the charger's MQTT configuration"],
  ["mcu", "it changes the charger's MQTT configuration"],
  ["mcr", "it changes the charger's MQTT configuration"],
  ["mtp", "it changes the charger's MQTT configuration"],
  ["ocppe", "it changes the OCPP configuration"],
  ["ocppu", "it changes the OCPP configuration"],
  ["nmo", "it disables the ground check (norway mode)"],
  ["ama", "it changes the electrical current limit of the installation"],
  ["la1", "it changes the electrical limits of the installation"],
  ["la3", "it changes the electrical limits of the installation"],
  ["lot", "it changes load balancing"],
  ["loe", "it changes load balancing"],
  ["loty", "it changes load balancing"],
  ["upo", "it changes the cable lock"],
  ["ust", "it changes the cable lock"],
  ["del", "it deletes RFID cards"],
  ["lrn", "it learns RFID cards"],
  ["su", "it simulates unplugging"],
  ["sua", "it simulates unplugging"],
  ["utc", "it sets the charger's clock"],
  ["tse", "it changes time synchronisation"],
  ["tof", "it changes the time zone offset"],
  ["alw", "it is read-only (set frc instead)"],
  ...Array.from({ length: 10 }, (_, n) => [`c${n}i`, "it changes RFID cards"] as [string, string]),
]);

type Check = (value: unknown, status: GoeStatus | undefined) => string | undefined;

const isInt = (value: unknown): value is number => typeof value === "number" && Number.isInteger(value);
const oneOf =
  (...allowed: unknown[]): Check =>
  (value) =>
    allowed.includes(value)
      ? undefined
      : `must be one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`;
const intRange =
  (min: number, max: (status: GoeStatus | undefined) => number, nullable = false): Check =>
  (value, status) => {
    if (nullable && value === null) return undefined;
    const top = max(status);
    return isInt(value) && value >= min && value <= top
      ? undefined
      : `must be a whole number ${min}..${top}${nullable ? " or null" : ""}`;
  };

const IDS_INPUTS = ["pGrid", "pPv", "pAkku"];

/** Keys a user may write through `goe/<key>/set`, each with the charger's own rule. */
const ALLOWED: ReadonlyMap<string, Check> = new Map<string, Check>([
  ["amp", intRange(MIN_CURRENT, maxCurrentLimit)],
  ["frc", oneOf(0, 1, 2)],
  ["psm", oneOf(0, 1, 2)],
  ["lmo", oneOf(3, 4, 5)],
  ["fup", oneOf(true, false)],
  ["acs", oneOf(0, 1, 2)],
  ["trx", intRange(0, () => 10, true)],
  ["tcl", intRange(MIN_CURRENT, maxCurrentLimit, true)],
  [
    "dwo",
    (value) =>
      value === null || (typeof value === "number" && Number.isFinite(value) && value >= 0)
        ? undefined
        : "must be Wh ≥ 0 or null",
  ],
  [
    "fna",
    (value) =>
      typeof value === "string" && value.length >= 4 && value.length <= 64
        ? undefined
        : "must be a name of 4..64 characters",
  ],
  [
    "ids",
    (value) => {
      if (!value || typeof value !== "object" || Array.isArray(value))
        return 'must be an object like {"pGrid":-1200,"pPv":3000}';
      const entries = Object.entries(value);
      return entries.length > 0 &&
        entries.every(([key, v]) => IDS_INPUTS.includes(key) && typeof v === "number" && Number.isFinite(v))
        ? undefined
        : "must hold finite numbers under pGrid, pPv, pAkku";
    },
  ],
]);

/**
 * Keys with a rule in ALLOWED that a user must still open in `writableKeys`: free text that
 * comes back on state topics (fna → `title`), which pass the secret scrubber. Open to every
 * client, such a key lets anyone test guesses of a secret (the PIN) by where `***` shows.
 */
const OPT_IN: ReadonlyMap<string, string> = new Map([
  [
    "fna",
    "its text comes back on the title topic through the secret scrubber, which would tell guesses of a secret",
  ],
]);

/** What go-e key names look like; anything else (`__proto__`, `a/b`, ``) is no go-e key. */
const KEY_SHAPE = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;

/** Why a key can't be written, or undefined if it can. */
export function keyRefusal(key: string, extraKeys: ReadonlySet<string>): string | undefined {
  // names are not echoed when they could be anything (see util/echo.ts); the topic names them
  if (!KEY_SHAPE.test(key)) return "this is not a go-e key name (letters, digits and _)";
  const denied = DENIED_KEYS.get(key);
  if (denied) return `go-e key ${key} can never be written: ${denied}`;
  const optIn = OPT_IN.get(key);
  if (optIn && !extraKeys.has(key))
    return `go-e key ${key} is writable only when listed in writableKeys: ${optIn}`;
  if (!ALLOWED.has(key) && !extraKeys.has(key)) {
    return `this go-e key is not writable (allowed: ${[...ALLOWED.keys(), ...extraKeys].join(", ")})`;
  }
  return undefined;
}

/** An evcc-named setting: how its payload becomes go-e parameters. */
type Planner = (payload: string, status: GoeStatus | undefined, context: PlanContext) => PlanResult;

/** The evcc-named settings of a loadpoint (`<loadpoint>/<name>/set`). */
const SETTINGS: ReadonlyMap<string, Planner> = new Map<string, Planner>([
  ["mode", (payload) => planMode(payload)],
  ["maxCurrent", planMaxCurrent],
  ["phases", (payload) => planPhases(payload)],
  ["phasesConfigured", (payload) => planPhases(payload)],
  ...LOADPOINT_SETTINGS,
]);

export function planWrite(
  key: string,
  payload: string,
  status: GoeStatus | undefined,
  extraKeys: ReadonlySet<string> = new Set(),
  context: PlanContext = { nowMs: Date.now(), logicModeAfterPlan: (fallback) => fallback },
): PlanResult {
  const planner = SETTINGS.get(key);
  if (planner) return planner(payload, status, context);
  if (key.startsWith("goe/")) return planRawKey(key.slice(4), payload, status, extraKeys);
  return {
    error: `unknown setting (writable: ${[...SETTINGS.keys()].join(", ")}, goe/<key>)`,
  };
}

const MODES: ReadonlyMap<string, Record<string, unknown>> = new Map<string, Record<string, unknown>>([
  ["off", { frc: 1 }],
  ["now", { frc: 2 }],
  // go-e charges from surplus only in Eco logic with "use PV surplus", and may pause only
  // with "allow charge pause" (go-eCharger-API-v2#226): without acp it would keep drawing
  // the minimum current from the grid
  ["pv", { frc: 0, lmo: 4, fup: true, acp: true }],
]);

/**
 * evcc's minpv (at least minCurrent from the grid, more from surplus) has no exact go-e
 * counterpart: with charge pause disallowed (acp false) the charger keeps drawing its lowest
 * power, but may drop to one phase and, depending on firmware, starts without surplus or
 * stops after a minute (go-eCharger-API-v2#171, #226, #273).
 */
const MINPV_REFUSAL =
  "mode minpv is refused: go-e has no exact equivalent (without charge pause it may switch to one phase and firmware differs); use pv (alias smart) with minCurrent, or now with maxCurrent";

function planMode(payload: string): PlanResult {
  const asked = payload.toLowerCase();
  if (asked === "minpv") return { error: MINPV_REFUSAL };
  // evcc renamed pv to smart (evcc#32490): both are the same go-e settings, published as pv
  const mode = asked === "smart" ? "pv" : asked;
  const chosen = MODES.get(mode);
  if (!chosen) return { error: `mode must be off, now, pv or smart (got ${shown(payload)})` };
  return { params: { ...chosen }, expected: mode, readBack: (status) => chargeMode(status) };
}

function planMaxCurrent(payload: string, status: GoeStatus | undefined): PlanResult {
  const max = maxCurrentLimit(status);
  const amps = Number(payload);
  // 16.0 is a whole number too (Home Assistant and Node-RED send numbers that way); 16.5 is not
  if (!/^\d+(\.0+)?$/.test(payload) || !Number.isInteger(amps) || amps < MIN_CURRENT || amps > max) {
    return {
      error: `maxCurrent must be a whole number of amps, ${MIN_CURRENT}..${max} (got ${shown(payload)})`,
    };
  }
  const minCurrent = num(status?.mca);
  if (minCurrent !== undefined && amps < minCurrent) {
    return { error: `maxCurrent ${amps} A is below minCurrent ${minCurrent} A: lower minCurrent first` };
  }
  return { params: { amp: amps }, expected: amps, readBack: (s) => num(s.amp) };
}

/** evcc's phases → go-e's phase switch mode (psm). */
const PHASE_MODES: ReadonlyMap<string, number> = new Map([
  ["0", 0],
  ["1", 1],
  ["3", 2],
]);

function planPhases(payload: string): PlanResult {
  const value = PHASE_MODES.get(payload);
  if (value === undefined) return { error: `phases must be 0 (auto), 1 or 3 (got ${shown(payload)})` };
  return { params: { psm: value }, expected: Number(payload), readBack: (s) => phasesConfigured(s) };
}

function planRawKey(
  key: string,
  payload: string,
  status: GoeStatus | undefined,
  extraKeys: ReadonlySet<string>,
): PlanResult {
  const refusal = keyRefusal(key, extraKeys);
  if (refusal) return { error: refusal };
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    // a bare word is taken as a string, so `-m Garage` works as well as `-m '"Garage"'`
    if (/^[^{}[\]"]*$/.test(payload) && !/^(true|false|null|-?\d)/.test(payload)) value = payload;
    else return { error: `goe/${key}: payload is not valid JSON (got ${shown(payload)})` };
  }
  // JSON.parse reads 1e400 as Infinity, which would go out as null
  if (!sendableJson(value)) return { error: `goe/${key}: numbers must be finite (got ${shown(payload)})` };
  const problem = ALLOWED.get(key)?.(value, status);
  if (problem) return { error: `goe/${key} ${problem}` };
  const expected: Value =
    value !== null && typeof value === "object" ? JSON.stringify(value) : (value as Value);
  // ids (PV input) is write-only: the charger never reports it, so its acceptance is the answer
  if (key === "ids") return { params: { ids: value }, expected, readBack: () => expected };
  return {
    params: { [key]: value },
    expected,
    readBack: (s) => {
      if (!Object.hasOwn(s, key)) return undefined;
      const current = s[key];
      if (current === undefined) return undefined;
      return current !== null && typeof current === "object" ? JSON.stringify(current) : (current as Value);
    },
  };
}
