import { shown } from "../util/echo.js";
import type { GoeStatus } from "./api.js";
import { MIN_CURRENT, maxCurrentLimit, num } from "./mapping.js";
import { kWh, LMO_AUTOMATIC_STOP, LMO_DEFAULT } from "./mapping-settings.js";
import { chargerTimeText, chargerZone, nextOccurrence, parsePlanTime } from "./timezone.js";
import type { PlanResult } from "./writes.js";

// The evcc-named loadpoint settings beyond mode/maxCurrent/phases: minimum current, energy
// limit, departure plan and PV-surplus thresholds. Each checks its payload against the
// charger's own limits (from its last status) before anything is sent.

/** What a setting needs beyond the payload and the status: the clock and the bridge's memory. */
export interface PlanContext {
  nowMs: number;
  /** The logic mode to return to when a departure plan ends (the one before it began). */
  logicModeAfterPlan(fallback: number): number;
}

export type LoadpointPlanner = (
  payload: string,
  status: GoeStatus | undefined,
  context: PlanContext,
) => PlanResult;

/** Energies a user may set, kWh: enough for any car, small enough to catch a typo in Wh. */
const MAX_ENERGY_KWH = 200;
const VOLTS = 230;

const WHOLE = /^\d+$/;
const SIGNED_WHOLE = /^-?\d+$/;
const DECIMAL = /^\d+(\.\d+)?$/;

/** The most power the charger can draw: its current limit on three phases. */
function maxPower(status: GoeStatus | undefined): number {
  return maxCurrentLimit(status) * 3 * VOLTS;
}

function planMinCurrent(payload: string, status: GoeStatus | undefined): PlanResult {
  const max = maxCurrentLimit(status);
  const amps = Number(payload);
  if (!WHOLE.test(payload) || amps < MIN_CURRENT || amps > max) {
    return {
      error: `minCurrent must be a whole number of amps, ${MIN_CURRENT}..${max} (got ${shown(payload)})`,
    };
  }
  const maxCurrent = num(status?.amp);
  if (maxCurrent !== undefined && amps > maxCurrent) {
    return { error: `minCurrent ${amps} A is above maxCurrent ${maxCurrent} A: raise maxCurrent first` };
  }
  return { params: { mca: amps }, expected: amps, readBack: (s) => num(s.mca) };
}

/** kWh of an energy payload, `none`/0 as 0, or why not. */
function energy(name: string, payload: string): number | { error: string } {
  if (payload.toLowerCase() === "none") return 0;
  const value = Number(payload);
  if (!DECIMAL.test(payload) || value > MAX_ENERGY_KWH) {
    return { error: `${name} must be kWh, 0..${MAX_ENERGY_KWH}, or none (got ${shown(payload)})` };
  }
  return value;
}

function planLimitEnergy(payload: string): PlanResult {
  const value = energy("limitEnergy", payload);
  if (typeof value !== "number") return value;
  const dwo = value === 0 ? null : Math.round(value * 1000);
  return {
    params: { dwo },
    expected: dwo === null ? 0 : kWh(dwo),
    readBack: (s) => {
      if (s.dwo === null) return 0;
      const wh = num(s.dwo);
      return wh === undefined ? undefined : kWh(wh);
    },
  };
}

/** Ends the departure plan: the charger returns to the logic mode it had before. */
function endPlan(context: PlanContext): PlanResult {
  return {
    params: { lmo: context.logicModeAfterPlan(LMO_DEFAULT) },
    expected: "none",
    readBack: (s) => (num(s.lmo) === LMO_AUTOMATIC_STOP ? "active" : "none"),
  };
}

function planActive(s: GoeStatus): boolean {
  return num(s.lmo) === LMO_AUTOMATIC_STOP;
}

/** evcc's `{"time": RFC 3339, "value": kWh}`, or a plain kWh figure. */
function planPlanEnergy(payload: string, status: GoeStatus | undefined, context: PlanContext): PlanResult {
  if (payload.startsWith("{")) return planEnergyAndTime(payload, status, context);
  const value = energy("planEnergy", payload);
  if (typeof value !== "number") return value;
  if (value === 0) return endPlan(context);
  const ate = Math.round(value * 1000);
  return {
    params: { lmo: LMO_AUTOMATIC_STOP, ate },
    expected: kWh(ate),
    readBack: (s) => (planActive(s) && num(s.ate) !== undefined ? kWh(num(s.ate) ?? 0) : 0),
  };
}

function planEnergyAndTime(payload: string, status: GoeStatus | undefined, context: PlanContext): PlanResult {
  let plan: unknown;
  try {
    plan = JSON.parse(payload);
  } catch {
    plan = undefined;
  }
  const { time, value } = (plan ?? {}) as Record<string, unknown>;
  if (typeof time !== "string" || typeof value !== "number") {
    return { error: 'planEnergy as JSON must be {"time": "<RFC 3339 or HH:MM>", "value": <kWh>}' };
  }
  const kwh = energy("planEnergy", String(value));
  if (typeof kwh !== "number") return kwh;
  if (kwh === 0) return endPlan(context);
  const at = parsePlanTime(time, context.nowMs, chargerZone(status));
  if ("error" in at) return at;
  const ate = Math.round(kwh * 1000);
  return {
    params: { lmo: LMO_AUTOMATIC_STOP, ate, att: at.seconds },
    expected: kWh(ate),
    readBack: (s) => (planActive(s) && num(s.att) === at.seconds ? kWh(num(s.ate) ?? 0) : undefined),
  };
}

function planPlanTime(payload: string, status: GoeStatus | undefined, context: PlanContext): PlanResult {
  if (payload.toLowerCase() === "none") return endPlan(context);
  const zone = chargerZone(status);
  const at = parsePlanTime(payload, context.nowMs, zone);
  if ("error" in at) return at;
  // the answer names the departure as the charger will take it: its next occurrence
  const expected = zone
    ? chargerTimeText(nextOccurrence(at.seconds, context.nowMs, zone), zone)
    : `${String(Math.floor(at.seconds / 3600)).padStart(2, "0")}:${String(Math.floor(at.seconds / 60) % 60).padStart(2, "0")}`;
  return {
    params: { lmo: LMO_AUTOMATIC_STOP, att: at.seconds },
    expected,
    readBack: (s) => (planActive(s) && num(s.att) === at.seconds ? expected : undefined),
  };
}

/** evcc's enableThreshold is grid power (export negative); go-e's fst is the surplus to start at. */
function planEnableThreshold(payload: string, status: GoeStatus | undefined): PlanResult {
  const max = maxPower(status);
  const watts = Number(payload);
  if (!SIGNED_WHOLE.test(payload) || watts > 0 || watts < -max) {
    return {
      error: `enableThreshold must be whole watts of grid power, -${max}..0 (negative = export; go-e starts on surplus only) (got ${shown(payload)})`,
    };
  }
  const fst = watts === 0 ? 0 : -watts;
  return {
    params: { fst },
    expected: watts === 0 ? 0 : watts,
    readBack: (s) => {
      const value = num(s.fst);
      return value === undefined ? undefined : value === 0 ? 0 : -value;
    },
  };
}

/** evcc's disableThreshold (grid import that stops charging) ↔ go-e's stop hysteresis sh. */
function planDisableThreshold(payload: string, status: GoeStatus | undefined): PlanResult {
  const max = maxPower(status);
  const watts = Number(payload);
  if (!WHOLE.test(payload) || watts > max) {
    return {
      error: `disableThreshold must be whole watts of grid import, 0..${max} (go-e's stop hysteresis cannot be negative) (got ${shown(payload)})`,
    };
  }
  return { params: { sh: watts }, expected: watts, readBack: (s) => num(s.sh) };
}

export const LOADPOINT_SETTINGS: ReadonlyMap<string, LoadpointPlanner> = new Map<string, LoadpointPlanner>([
  ["minCurrent", planMinCurrent],
  ["limitEnergy", planLimitEnergy],
  ["planEnergy", planPlanEnergy],
  ["planTime", planPlanTime],
  ["enableThreshold", planEnableThreshold],
  ["disableThreshold", planDisableThreshold],
]);
