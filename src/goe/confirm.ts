import type { Value, WriteResult } from "../source.js";
import { shown } from "../util/echo.js";
import type { GoeStatus } from "./api.js";
import type { GoePlan } from "./writes.js";

// The writes of one charger between their validation and their answer. A 202 from the cloud
// only means "forwarded", so a write counts once a status read that started after its
// /api/set was answered shows the value. Every status read (poll or read-back) is offered to
// every waiting write: one read answers all the writes it confirms, however many a storm sent
// (issue 13.5). A write overtaken by a later write of another value to the same go-e key is
// answered at once: it will never show.

/** Status reads after the set before a write counts as not applied (the cloud forwards asynchronously). */
const READ_BACK_TRIES = 3;

export interface Waiting {
  /** The topic key the user wrote (`maxCurrent`, `goe/amp`), for the answer's words. */
  key: string;
  plan: GoePlan;
  /** Reads numbered below this started before the set was answered: they prove nothing. */
  fromRead: number;
  reads: number;
  seen: Value | undefined;
  answer(result: WriteResult): void;
}

/** A value as a later write's answer names it: numbers and words in full, text as an excerpt. */
function named(value: Value): string {
  return typeof value === "string" ? shown(value) : JSON.stringify(value);
}

export class WriteConfirmations {
  private readonly unanswered = new Set<Waiting>();
  /** Reads started so far; a read's number is this count when it starts. */
  private readsStarted = 0;

  /**
   * Registers a validated write; answers at once every earlier write it overtakes. Returns
   * the write's answer, and the entry to pass to `sent` once its set was answered.
   */
  add(key: string, plan: GoePlan): { answer: Promise<WriteResult>; waiting: Waiting } {
    for (const earlier of this.unanswered) {
      const overtaken = Object.entries(plan.params).some(
        ([param, value]) =>
          Object.hasOwn(earlier.plan.params, param) &&
          JSON.stringify(earlier.plan.params[param]) !== JSON.stringify(value),
      );
      if (overtaken) {
        earlier.answer({
          ok: false,
          error: `superseded by ${named(plan.expected)} (a later write of ${key})`,
        });
      }
    }
    let answer!: (result: WriteResult) => void;
    const promise = new Promise<WriteResult>((resolve) => (answer = resolve));
    const waiting: Waiting = {
      key,
      plan,
      fromRead: Number.POSITIVE_INFINITY,
      reads: 0,
      seen: undefined,
      answer: (result) => {
        if (!this.unanswered.delete(waiting)) return;
        answer(result);
      },
    };
    this.unanswered.add(waiting);
    return { answer: promise, waiting };
  }

  /** Its set was answered: reads numbered from `fromRead` on can prove it. */
  sent(waiting: Waiting, fromRead: number): void {
    waiting.fromRead = fromRead;
  }

  /** Answers every write still waiting (the bridge stops): it was sent, but nobody saw it applied. */
  abandon(): void {
    for (const waiting of this.unanswered) {
      waiting.answer({
        ok: false,
        error: "sent, but not confirmed: the bridge stopped before reading it back",
      });
    }
  }

  /** The number the next read will get: a set answered now is proven by reads from here on. */
  get nextRead(): number {
    return this.readsStarted;
  }

  /** Called when a status read starts; returns its number and the keys the waiting writes need. */
  startRead(): { number: number; keys: string[] } {
    const keys = new Set<string>();
    for (const waiting of this.unanswered)
      for (const param of Object.keys(waiting.plan.params)) keys.add(param);
    return { number: this.readsStarted++, keys: [...keys] };
  }

  /** Offers a status read to every write it can prove; true if some still wait for a read. */
  settle(readNumber: number, status: GoeStatus): boolean {
    for (const waiting of this.unanswered) {
      if (readNumber < waiting.fromRead) continue;
      waiting.seen = waiting.plan.readBack(status);
      if (waiting.seen === waiting.plan.expected) {
        waiting.answer({ ok: true, value: waiting.seen });
        continue;
      }
      waiting.reads += 1;
      if (waiting.reads >= READ_BACK_TRIES) {
        waiting.answer({
          ok: false,
          error: `the charger took the request but still reports ${waiting.key}=${named(waiting.seen ?? null)}`,
        });
      }
    }
    return this.awaitingRead();
  }

  /** A read that failed answers the writes it was to prove. */
  readFailed(readNumber: number, message: string): void {
    for (const waiting of this.unanswered) {
      if (readNumber >= waiting.fromRead) {
        waiting.answer({ ok: false, error: `sent, but the read-back failed: ${message}` });
      }
    }
  }

  /** Whether a sent write waits for a status read. */
  awaitingRead(): boolean {
    for (const waiting of this.unanswered) if (Number.isFinite(waiting.fromRead)) return true;
    return false;
  }
}
