import PQueue from "p-queue";
import { sleep } from "../util/duration.js";

/** Writes jump ahead of read-backs, which jump ahead of polls. */
export const Priority = { poll: 0, readBack: 5, write: 10 } as const;
export type Priority = (typeof Priority)[keyof typeof Priority];

export interface QueueStats {
  name: string;
  waiting: number;
  running: number;
  /** Milliseconds the latest task waited before it started. */
  lastWaitMs: number;
}

const queues = new Set<UpstreamQueue>();
/** Every live queue, for the metrics endpoint. */
export function allQueues(): Iterable<UpstreamQueue> {
  return queues;
}

/**
 * The one path to an upstream host or account: tasks run one at a time, in priority order,
 * and a task starts no sooner than `minSpacingMs` after the previous one ENDED. Upstreams
 * count requests as they arrive: measured from the previous start, a first request slowed
 * by a TLS handshake could arrive less than the spacing before the next (Climkit answers
 * 429 then). Measured from its answer, the server has seen the previous request before the
 * spacing begins. The monotonic clock is used, and no window boundary can let two requests
 * through back to back (p-queue's own interval cap counts per window).
 */
export class UpstreamQueue {
  private readonly queue = new PQueue({ concurrency: 1 });
  private lastEnd = Number.NEGATIVE_INFINITY;
  private lastWait = 0;

  constructor(
    readonly name: string,
    private readonly minSpacingMs: number,
  ) {
    queues.add(this);
  }

  run<T>(task: () => Promise<T>, priority: Priority = Priority.poll): Promise<T> {
    const enqueued = performance.now();
    return this.queue.add(
      async () => {
        const wait = this.lastEnd + this.minSpacingMs - performance.now();
        if (wait > 0) await sleep(wait);
        const started = performance.now();
        this.lastWait = started - enqueued;
        try {
          return await task();
        } finally {
          this.lastEnd = performance.now();
        }
      },
      { priority },
    ) as Promise<T>;
  }

  stats(): QueueStats {
    return {
      name: this.name,
      waiting: this.queue.size,
      running: this.queue.pending,
      lastWaitMs: this.lastWait,
    };
  }

  /** Drops waiting tasks (their promises never settle: callers stop first) and waits for the running one. */
  async close(): Promise<void> {
    this.queue.clear();
    await this.queue.onIdle();
    queues.delete(this);
  }

  /** Resolves when nothing is waiting or running. */
  idle(): Promise<void> {
    return this.queue.onIdle();
  }
}
