import { MIN_AMPS } from "./setters.js";
import type { SurplusDecision } from "./surplus.js";

// The charger's decision, from its settings and the car, of whether and how much to charge,
// with the reason it reports as `modelStatus`. Pure: the charger state calls it after every
// change and every elapsed interval.

export const VOLTS = 230;

/** What the decision depends on; `number` reads a numeric setting of the status (amp, frc, …). */
export interface LogicInput {
  number(key: string, fallback: number): number;
  optionalNumber(key: string): number | undefined;
  setting(key: string): unknown;
  connected: boolean;
  carPhases: 1 | 3;
  carFull: boolean;
  /** A surplus a test sets directly; counts only while no `ids` reading is fresh. */
  pvSurplusW: number;
  /** What the charger decided from the latest fresh `ids` reading. */
  surplus: SurplusDecision | undefined;
  cableAmps: number;
  /** Wh charged in this session, as `wh` shows it. */
  wh: number;
  /** Seconds since the charger's local midnight, the clock `att` counts in. */
  localSecondsOfDay: number;
}

export interface Evaluation {
  car: number;
  alw: boolean;
  acu: number | null;
  modelStatus: number;
  /** Amps per phase actually flowing, 0 when not charging. */
  current: number;
  phases: number;
}

export function evaluate(input: LogicInput): Evaluation {
  const frc = input.number("frc", 0);
  const psm = input.number("psm", 0);
  const phases = Math.min(input.carPhases, psm === 1 ? 1 : 3);
  // mca is a floor under amp, but never above the installation's, the cable's or a temporary limit
  const limit = Math.min(
    Math.max(input.number("amp", 16), input.number("mca", MIN_AMPS)),
    input.number("ama", 32),
    input.cableAmps,
    input.optionalNumber("tcl") ?? Number.POSITIVE_INFINITY,
  );
  if (!input.connected) {
    return { car: 1, alw: false, acu: null, modelStatus: modelStatusOfForce(frc), current: 0, phases: 0 };
  }
  let allowed = true;
  let current = limit;
  let modelStatus = 15;
  let limitReached = false;
  const dwo = input.optionalNumber("dwo");
  const ate = automaticStopTarget(input);
  if (frc === 1) {
    allowed = false;
    modelStatus = 4;
  } else if (input.number("acs", 0) === 1 && input.setting("trx") === null) {
    // access control: waits for an RFID card or an app authorisation (trx)
    allowed = false;
    modelStatus = 2;
  } else if (dwo !== undefined && input.wh >= dwo) {
    allowed = false;
    limitReached = true;
    modelStatus = 6;
  } else if (frc === 2) {
    modelStatus = 3;
  } else if (input.number("lmo", 3) === 4 && input.setting("fup") === true) {
    if (input.surplus) {
      allowed = input.surplus.charging;
      current = Math.min(input.surplus.amps, limit);
      modelStatus = allowed ? 12 : 17;
    } else {
      const surplusAmps = Math.floor(input.pvSurplusW / (phases * VOLTS));
      allowed = surplusAmps >= Math.max(MIN_AMPS, input.number("mca", MIN_AMPS));
      current = Math.min(surplusAmps, limit);
      modelStatus = allowed ? 12 : 15;
    }
  } else if (ate !== undefined) {
    if (input.wh >= ate) {
      allowed = false;
      limitReached = true;
      modelStatus = 18;
    } else {
      // charges at once (the simulator knows no prices to wait for); 9 says att comes too soon
      const hoursNeeded = (ate - input.wh) / (current * phases * VOLTS);
      const secondsLeft = (input.number("att", 0) - input.localSecondsOfDay + 86_400) % 86_400 || 86_400;
      modelStatus = hoursNeeded * 3600 > secondsLeft ? 9 : 10;
    }
  }
  const charging = allowed && !input.carFull;
  return {
    car: charging ? 2 : (allowed && input.carFull) || limitReached ? 4 : 3,
    alw: allowed,
    acu: allowed ? current : 0,
    modelStatus,
    current: charging ? current : 0,
    phases: charging ? phases : 0,
  };
}

/** `nrg` and `pha` as the charger reports them for a decision: 230 V, a power factor of 100 %. */
export function electricKeys(evaluation: Evaluation): { nrg: number[]; pha: boolean[] } {
  const { current, phases } = evaluation;
  const amps = [0, 1, 2].map((phase) => (phase < phases ? current : 0));
  const watts = amps.map((amp) => amp * VOLTS);
  const pf = amps.map((amp) => (amp > 0 ? 100 : 0));
  const total = watts.reduce((sum, watt) => sum + watt, 0);
  return {
    nrg: [VOLTS, VOLTS, VOLTS, 0, ...amps, ...watts, 0, total, ...pf, 0],
    pha: [...amps.map((amp) => amp > 0), true, true, true],
  };
}

/** The energy (Wh of `wh`) automatic-stop mode charges to, when that mode is in charge. */
export function automaticStopTarget(input: LogicInput): number | undefined {
  if (input.number("lmo", 3) !== 5 || input.number("frc", 0) !== 0) return undefined;
  return input.optionalNumber("ate") ?? 0;
}

function modelStatusOfForce(frc: number): number {
  if (frc === 1) return 4;
  if (frc === 2) return 3;
  return 15;
}
