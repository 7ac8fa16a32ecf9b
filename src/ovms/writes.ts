import type { Value, WriteResult } from "../source.js";
import { shown } from "../util/echo.js";

// Pure: which v2 command a `/set` on a vehicle topic becomes, and what the car's reply means.
// Validation happens here, before anything is sent (SPEC §4).

/** Charge modes as the v2 protocol numbers them (command 10); a Map, as names come from users. */
export const CHARGE_MODES: ReadonlyMap<string, number> = new Map([
  ["standard", 0],
  ["storage", 1],
  ["range", 3],
  ["performance", 4],
]);

/** The charge current a car accepts (command 15), in whole amps. */
export const CHARGE_CURRENT_RANGE = { min: 1, max: 32 } as const;

export const COMMAND = {
  shell: 7,
  chargeMode: 10,
  startCharge: 11,
  stopCharge: 12,
  chargeCurrent: 15,
  wakeup: 18,
  lock: 20,
  unlock: 22,
} as const;

export interface WriteOptions {
  /** `ovms[0]`: named in the "commands are off" answer. */
  configPath: string;
  commandsEnabled: boolean;
  /** Lock/unlock need the vehicle's PIN; without it `locked` is not writable. */
  pin?: string;
  shell: boolean;
}

export interface PlannedCommand {
  code: number;
  params: string[];
  /** The value the result reports when the car confirms. */
  value: Value;
  /** In words, for error texts: "start charge". Never contains the PIN. */
  what: string;
  /** Whether the reply text is the result (shell commands). */
  replyIsValue?: boolean;
  /** The parameters hold a secret (the PIN): never log them. */
  secret?: boolean;
}

export type WritePlan = { ok: true; command: PlannedCommand } | { ok: false; error: string };

function parseBoolean(payload: string): boolean | undefined {
  const text = payload.trim().toLowerCase();
  if (text === "true" || text === "1" || text === "on") return true;
  if (text === "false" || text === "0" || text === "off") return false;
  return undefined;
}

/** The keys a vehicle accepts writes on, given its configuration. */
export function writableKeys(options: WriteOptions): string[] {
  const keys = ["charging", "chargeCurrent", "chargeMode", "wakeup"];
  if (options.pin) keys.push("locked");
  if (options.shell) keys.push("command");
  return keys;
}

export function planWrite(key: string, payload: string, options: WriteOptions): WritePlan {
  const keys = writableKeys(options);
  // the opt-in writes say how to opt in, not just "not writable"
  if (key === "locked" && !options.pin) {
    return {
      ok: false,
      error: `locking is off for this car: set pin: \${OVMS_PIN} (its OVMS module PIN) on the vehicle in ${options.configPath}.vehicles to enable locked/set`,
    };
  }
  if (key === "command" && !options.shell) {
    return {
      ok: false,
      error: `raw shell commands are off for this car: set shell: true on the vehicle in ${options.configPath}.vehicles to enable command/set`,
    };
  }
  if (!keys.includes(key)) {
    // the key is not echoed (the answer's topic names it): see util/echo.ts
    return { ok: false, error: `this value is not writable (writable: ${keys.join(", ")})` };
  }
  if (!options.commandsEnabled) {
    return {
      ok: false,
      error: `commands are off: remove ${options.configPath}.commands: false (or set the v2 endpoint)`,
    };
  }
  return validate(key, payload, options);
}

function validate(key: string, payload: string, options: WriteOptions): WritePlan {
  switch (key) {
    case "charging": {
      const on = parseBoolean(payload);
      if (on === undefined)
        return { ok: false, error: `charging must be true or false (got ${shown(payload)})` };
      return on
        ? { ok: true, command: { code: COMMAND.startCharge, params: [], value: true, what: "start charge" } }
        : { ok: true, command: { code: COMMAND.stopCharge, params: [], value: false, what: "stop charge" } };
    }
    case "chargeCurrent": {
      const text = payload.trim();
      // 16.0 is a whole number too, as Home Assistant and Node-RED may send it
      const amps = /^\d+(\.0+)?$/.test(text) ? Number(text) : Number.NaN;
      const { min, max } = CHARGE_CURRENT_RANGE;
      if (!(amps >= min && amps <= max)) {
        return {
          ok: false,
          error: `chargeCurrent must be a whole number of amps, ${min}..${max} (got ${shown(payload)})`,
        };
      }
      return {
        ok: true,
        command: {
          code: COMMAND.chargeCurrent,
          params: [String(amps)],
          value: amps,
          what: "set charge current",
        },
      };
    }
    case "chargeMode": {
      const mode = payload.trim().toLowerCase();
      const number = CHARGE_MODES.get(mode);
      if (number === undefined) {
        return {
          ok: false,
          error: `chargeMode must be one of ${[...CHARGE_MODES.keys()].join(", ")} (got ${shown(payload)})`,
        };
      }
      return {
        ok: true,
        command: { code: COMMAND.chargeMode, params: [String(number)], value: mode, what: "set charge mode" },
      };
    }
    case "wakeup":
      // the answer says the car was woken; echoing the payload would pass it through the scrubber
      return { ok: true, command: { code: COMMAND.wakeup, params: [], value: true, what: "wake up" } };
    case "locked": {
      const lock = parseBoolean(payload);
      // the PIN is sent with this one: nothing of the payload is echoed
      if (lock === undefined) return { ok: false, error: "locked must be true or false" };
      return {
        ok: true,
        command: {
          code: lock ? COMMAND.lock : COMMAND.unlock,
          params: [options.pin ?? ""],
          value: lock,
          what: lock ? "lock" : "unlock",
          secret: true,
        },
      };
    }
    case "command": {
      const text = payload.trim();
      if (text === "") return { ok: false, error: "command must be a shell command such as: stat" };
      if (/[\r\n]/.test(text)) return { ok: false, error: "command must be a single line" };
      return {
        ok: true,
        command: {
          code: COMMAND.shell,
          params: [text],
          value: text,
          what: "shell command",
          replyIsValue: true,
        },
      };
    }
    default:
      return { ok: false, error: "this value is not writable" };
  }
}

/** A command reply line `c<code>,<result>,<text…>` as the v2 client hands it over. */
export interface CommandReply {
  code: number;
  /** 0 ok, 1 failed, 2 unsupported, 3 unimplemented. */
  result: number;
  /** Everything after the result, commas included (the failure text, or the shell output). */
  text: string;
}

/** What the user is told about the car's reply. */
export function interpretReply(command: PlannedCommand, reply: CommandReply): WriteResult {
  if (reply.result === 0) return { ok: true, value: command.replyIsValue ? reply.text : command.value };
  if (reply.result === 1) {
    return { ok: false, error: `car refused: ${reply.text || `${command.what} failed`}` };
  }
  if (reply.result === 2 || reply.result === 3) {
    return { ok: false, error: `the car's module does not support ${command.what}` };
  }
  return { ok: false, error: `the car answered ${command.what} with unknown result ${reply.result}` };
}
