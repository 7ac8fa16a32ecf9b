import { inCurrentTrail } from "../util/request-trail.js";

/**
 * Read-backs go first (a user waits on the write they confirm, and one read-back answers
 * every write it covers), then writes, then polls.
 */
export const Priority = { poll: 0, write: 10, readBack: 15 } as const;
export type Priority = (typeof Priority)[keyof typeof Priority];

export interface QueueStats {
  name: string;
  waiting: number;
  running: number;
  /** Milliseconds the latest task waited before it started. */
  lastWaitMs: number;
}

export interface RunOptions {
  /**
   * Starts as soon as the running task is done, without waiting out the spacing (a write the
   * user waits for, and the read-back that confirms it). At most URGENT_IN_A_ROW such tasks
   * follow each other; then the spacing applies again, so a storm of writes cannot hammer
   * the upstream: it gets merged writes about once per spacing.
   */
  urgent?: boolean;
}

/** Urgent tasks that may start one after the other without the spacing: a write and its read-back. */
const URGENT_IN_A_ROW = 2;

/** Thrown by the tasks a closing queue drops, so their callers settle instead of hanging. */
export class QueueClosedError extends Error {
  constructor(name: string) {
    super(`${name}: the bridge is stopping; the request was not sent`);
  }
}

interface Waiting {
  priority: number;
  urgent: boolean;
  /** Order of arrival: among equal priorities the first comes first. */
  order: number;
  enqueued: number;
  start(): Promise<void>;
  drop(error: Error): void;
}

const queues = new Set<UpstreamQueue>();
/** Every live queue, for the metrics endpoint. */
export function allQueues(): Iterable<UpstreamQueue> {
  return queues;
}

/**
 * The one path to an upstream host or account: tasks run one at a time, in priority order,
 * and a task starts no sooner than `minSpacingMs` after the previous one ENDED (urgent tasks
 * excepted, see RunOptions).
 *
 * - From its end, not its start: upstreams count requests as they arrive, and a request slowed
 *   by a TLS handshake could otherwise arrive less than the spacing before the next (Climkit
 *   answers 429 then). From the answer, the server has seen the previous request already.
 * - The next task is picked when it can start, by priority: a write or read-back queued while
 *   a poll waits out the spacing goes first.
 * - Its caller gets the result at once; only the next task waits.
 */
export class UpstreamQueue {
  private readonly waiting: Waiting[] = [];
  private running = false;
  private lastEnd = Number.NEGATIVE_INFINITY;
  private urgentInARow = 0;
  private lastWait = 0;
  private arrivals = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private idle: Array<() => void> = [];

  constructor(
    readonly name: string,
    private readonly minSpacingMs: number,
  ) {
    queues.add(this);
  }

  run<T>(task: () => Promise<T>, priority: Priority = Priority.poll, options: RunOptions = {}): Promise<T> {
    if (this.closed) return Promise.reject(new QueueClosedError(this.name));
    // the task runs in the context of whoever queued it, not of the task that ran before it
    // (util/request-trail.ts follows a write's requests through the queue)
    const queued = inCurrentTrail(task);
    return new Promise<T>((resolve, reject) => {
      const entry: Waiting = {
        priority,
        urgent: options.urgent === true,
        order: this.arrivals++,
        enqueued: performance.now(),
        start: async () => {
          this.lastWait = performance.now() - entry.enqueued;
          try {
            resolve(await queued());
          } catch (error) {
            reject(error);
          }
        },
        drop: reject,
      };
      this.waiting.push(entry);
      this.pump();
    });
  }

  stats(): QueueStats {
    return {
      name: this.name,
      waiting: this.waiting.length,
      running: this.running ? 1 : 0,
      lastWaitMs: this.lastWait,
    };
  }

  /** Drops waiting tasks (they reject with QueueClosedError) and waits for the running one. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    for (const entry of this.waiting.splice(0)) entry.drop(new QueueClosedError(this.name));
    queues.delete(this);
    if (this.running) await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  /** Starts the next task that may start now, or sets a timer for when the spacing has passed. */
  private pump(): void {
    if (this.running || this.closed || this.waiting.length === 0) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    const spacedFrom = this.lastEnd + this.minSpacingMs - performance.now();
    const spaced = spacedFrom <= 0;
    const mayHurry = this.urgentInARow < URGENT_IN_A_ROW;
    let next: Waiting | undefined;
    for (const entry of this.waiting) {
      if (!spaced && !(entry.urgent && mayHurry)) continue;
      if (
        !next ||
        entry.priority > next.priority ||
        (entry.priority === next.priority && entry.order < next.order)
      ) {
        next = entry;
      }
    }
    if (!next) {
      this.timer = setTimeout(() => this.pump(), Math.ceil(spacedFrom));
      return;
    }
    this.waiting.splice(this.waiting.indexOf(next), 1);
    // a task that waited its spacing out ends a run of early ones
    this.urgentInARow = spaced ? 0 : this.urgentInARow + 1;
    this.running = true;
    void next.start().then(() => {
      this.running = false;
      this.lastEnd = performance.now();
      for (const resolve of this.idle.splice(0)) resolve();
      this.pump();
    });
  }
}
