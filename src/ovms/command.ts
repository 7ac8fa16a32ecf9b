import type { OvmsVehicleConfig } from "../config/schema.js";
import type { WriteResult } from "../source.js";
import { describeError } from "../upstream/errors.js";
import { scrub } from "../util/secrets.js";
import type { CarCommands } from "./car-commands.js";
import { CommandError, type OvmsV2Client } from "./v2client.js";
import { interpretReply, planWrite } from "./writes.js";

export interface CommandOutcome {
  result: WriteResult;
  /** What was sent, in words ("stop charge"); undefined when nothing was sent. */
  what?: string;
}

/**
 * Carries out one write on a vehicle: validates it (nothing is sent for a bad payload or an
 * unknown key), sends the v2 command and turns the car's reply, or its silence, into the answer.
 */
export async function runCommand(
  v2: OvmsV2Client | undefined,
  vehicle: OvmsVehicleConfig,
  configPath: string,
  key: string,
  payload: string,
  /** The car's command line: one command at a time, waiting ones superseded (car-commands.ts). */
  commands: CarCommands,
): Promise<CommandOutcome> {
  const plan = planWrite(key, payload, {
    configPath,
    commandsEnabled: v2 !== undefined,
    ...(vehicle.pin ? { pin: vehicle.pin } : {}),
    shell: vehicle.shell,
  });
  if (!plan.ok || !v2) return { result: plan.ok ? { ok: false, error: "commands are disabled" } : plan };
  const { command } = plan;
  const send = async (): Promise<CommandOutcome> => {
    try {
      const reply = await v2.command(vehicle.id, command.code, command.params);
      return { result: interpretReply(command, reply), what: command.what };
    } catch (error) {
      const message = error instanceof CommandError ? error.message : describeError(error);
      return { result: { ok: false, error: scrub(message) }, what: command.what };
    }
  };
  return commands.submit(key, command.value, send);
}
