// The v2 messages a simulated car's module sends (S, D, L, and Y or W), in the field order of
// the OVMS protocol docs and ApiHttpCore.pm. Part of the simulator: imports nothing of the product.

import type { CarState, ChargeMode } from "./car.js";

export const MODE_NUMBERS: Record<ChargeMode, number> = { standard: 0, storage: 1, range: 3, performance: 4 };
const STATE_NUMBERS: Record<string, number> = {
  charging: 1,
  topoff: 2,
  done: 4,
  prepare: 13,
  heating: 14,
  stopped: 21,
};
const PSI_PER_KPA = 0.14503773773020923;

export function text(value: number, decimals = 1): string {
  const factor = 10 ** decimals;
  return String(Math.round(value * factor) / factor);
}

/** What the car draws now, in W: the station's offer if it makes one, else its own current on one phase. */
export function chargePowerW(state: CarState): number {
  if (!state.charging) return 0;
  const amps = state.supply?.amps ?? state.chargeCurrent;
  return state.lineVoltage * amps * (state.supply?.phases ?? 1);
}

/** The car's messages as [code, message]; `range` is the estimated range in the car's units. */
export function encodeMessages(state: CarState, range: number): Array<[string, string]> {
  const messages: Array<[string, string]> = [
    ["S", sMessage(state, range)],
    ["D", dMessage(state)],
    ["L", lMessage(state)],
  ];
  // a V3 module sends both: the old W record (psi) for old apps, and Y (kPa)
  if (state.tpms === "W" || state.tpms === "both") messages.push(["W", wMessage(state)]);
  if (state.tpms === "Y" || state.tpms === "both") messages.push(["Y", yMessage(state)]);
  return messages;
}

/** The F record a module sends when it connects: firmware, VIN, signal, … (not decoded). */
export function fMessage(): string {
  return "3.3.004-sim/ota_0/main,SIMVIN0000000042,20,1,ZE,ovms-sim,-1,0";
}

function sMessage(s: CarState, range: number): string {
  // the S record's charge power is in kW
  const power = chargePowerW(s) / 1000;
  const flowing = s.supply?.amps ?? s.chargeCurrent;
  const head = [text(s.soc), s.units, s.charging ? s.lineVoltage : 0, s.charging ? flowing : 0];
  const modes = [s.chargeState, s.chargeMode, text(range * 1.1), text(range), s.chargeCurrent, 0, 0, 0, 0];
  const numbers = [STATE_NUMBERS[s.chargeState] ?? 0, MODE_NUMBERS[s.chargeMode], 0, 0, -1, 160];
  // etr full, etr limit, limit range, limit soc, cooldown ×3, estimate, etr range, etr soc
  const acc = [0, 0, 0, s.chargeLimitSoc, 0, 0, 0, 0, 0, 0];
  const tail = [text(s.fullRange * 1.1), 25, text(power, 3), "396.5", 98, text(power * 1.05, 3), 95];
  // the five fields of newer firmware: battery current, range gain speed, grid kWh (session,
  // total), usable capacity (ApiHttpCore.pm 716–720)
  const newer = [s.charging ? text(-power * 2.5, 1) : 0, 0, 0, "1234.5", "52"];
  return [...head, ...modes, ...numbers, ...acc, ...tail, ...newer].join(",");
}

function dMessage(s: CarState): string {
  const t = s.temperatures;
  // door bits as the server decodes them: port 0x04, pilot 0x08, charging 0x10, handbrake 0x40;
  // locked 0x08 in the second byte; awake 0x02 in the third
  const doors1 = 0x20 | 0x40 | (s.pluggedIn ? 0x0c : 0) | (s.charging ? 0x10 : 0);
  const doors2 = s.locked ? 0x08 : 0;
  const doors3 = s.awake ? 0x02 : 0;
  const odometer = Math.round(s.odometer * 10);
  const values = [
    doors1,
    doors2,
    s.locked ? 4 : 5,
    text(t.pem),
    text(t.motor),
    text(t.battery),
    0,
    odometer,
    0,
    0,
  ];
  const rest = [text(t.ambient), doors3, 1, 1, "12.6", 0, "12.4", 0, text(t.charger), "0.5", text(t.cabin)];
  return [...values, ...rest].join(",");
}

function lMessage(s: CarState): string {
  return [text(s.latitude, 6), text(s.longitude, 6), 90, 420, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0].join(",");
}

function yMessage(s: CarState): string {
  const pressures = s.tyresKpa.map((p) => text(p)).join(",");
  return `4,fl,fr,rl,rr,4,${pressures},1,4,20,21,19,20,1,4,0,0,0,0,1,4,0,0,0,0,1`;
}

function wMessage(s: CarState): string {
  const [fl, fr, rl, rr] = s.tyresKpa.map((kpa) => text(kpa * PSI_PER_KPA));
  return [fr, 21, rr, 20, fl, 20, rl, 19, 1].join(",");
}
