import type { Value } from "../source.js";
import { currentTrail, type RequestTrail, rideOn } from "../util/request-trail.js";
import type { CommandOutcome } from "./command.js";

// Commands to one car go one at a time: each crosses the OVMS server and the car's modem, and
// a client that may publish /set could otherwise fire a thousand at once (a thousand wake-ups
// of a parked car). A write waiting for its turn is answered at once when a later write of the
// same key takes its place ("superseded by 13"), or shares the later one's answer when both ask
// for the same value. Shell commands are each their own.

interface Waiting {
  value: Value;
  /** The trail the command is sent in: the first waiting write's (util/request-trail.ts). */
  trail: RequestTrail | undefined;
  send: () => Promise<CommandOutcome>;
  answers: Array<(outcome: CommandOutcome) => void>;
}

/** Keys whose every write is carried out, never merged with another. */
const NEVER_MERGED = new Set(["command"]);

export class CarCommands {
  private tail: Promise<unknown> = Promise.resolve();
  private readonly waiting = new Map<string, Waiting>();

  submit(key: string, value: Value, send: () => Promise<CommandOutcome>): Promise<CommandOutcome> {
    return new Promise<CommandOutcome>((resolve) => {
      const earlier = NEVER_MERGED.has(key) ? undefined : this.waiting.get(key);
      if (earlier) {
        if (earlier.value !== value) {
          const superseded: CommandOutcome = {
            result: { ok: false, error: `superseded by ${JSON.stringify(value)} (a later write of ${key})` },
          };
          for (const answer of earlier.answers.splice(0)) answer(superseded);
          earlier.value = value;
          earlier.send = send;
        }
        rideOn(earlier.trail);
        earlier.answers.push(resolve);
        return;
      }
      const entry: Waiting = { value, trail: currentTrail(), send, answers: [resolve] };
      if (!NEVER_MERGED.has(key)) this.waiting.set(key, entry);
      this.tail = this.tail.then(async () => {
        // from here on a later write of this key waits for the next turn
        if (this.waiting.get(key) === entry) this.waiting.delete(key);
        const outcome = await entry.send().catch(
          (error: unknown): CommandOutcome => ({
            result: { ok: false, error: `the command failed: ${(error as Error).message}` },
          }),
        );
        for (const answer of entry.answers.splice(0)) answer(outcome);
      });
    });
  }
}
