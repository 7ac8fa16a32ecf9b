// The v2 commands a simulated car's module carries out (protocol_v2/commands.rst and the v3
// firmware): what each does to the car and what it answers. Imports nothing of the product.

import type { CarState, ChargeMode } from "./car.js";
import { MODE_NUMBERS, text } from "./messages.js";

export interface CommandOutcome {
  result: number;
  text?: string;
}

export function executeCommand(
  code: number,
  params: string[],
  state: CarState,
  range: number,
): CommandOutcome {
  switch (code) {
    case 7:
      return { result: 0, text: shell(params.join(","), state, range) };
    case 10: {
      const mode = (Object.keys(MODE_NUMBERS) as ChargeMode[]).find(
        (m) => MODE_NUMBERS[m] === Number(params[0]),
      );
      if (!mode) return { result: 1, text: "invalid charge mode" };
      state.chargeMode = mode;
      return { result: 0 };
    }
    case 11:
      if (!state.pluggedIn) return { result: 1, text: "not plugged in" };
      state.charging = true;
      state.chargeState = "charging";
      return { result: 0 };
    case 12:
      state.charging = false;
      state.chargeState = "stopped";
      return { result: 0 };
    case 15: {
      const amps = Number(params[0]);
      if (!Number.isInteger(amps) || amps < 1 || amps > 32) return { result: 1, text: "invalid current" };
      state.chargeCurrent = amps;
      return { result: 0 };
    }
    case 18:
      state.awake = true;
      return { result: 0 };
    case 20:
    case 22:
      if (params[0] !== state.pin) return { result: 1, text: "invalid PIN" };
      state.locked = code === 20;
      return { result: 0 };
    default:
      return { result: 2 };
  }
}

function shell(command: string, s: CarState, range: number): string {
  if (command.trim() === "stat") {
    return `${s.chargeState} ${s.chargeMode} SOC: ${text(s.soc)}% Range: ${text(range, 0)}${s.units === "M" ? "mi" : "km"}`;
  }
  return `Unrecognised command: ${command}`;
}
