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
 * and a task starts no sooner than `minSpacingMs` after the previous one ENDED.
 *
 * - From its end, not its start: upstreams count requests as they arrive, and a request slowed
 *   by a TLS handshake could otherwise arrive less than the spacing before the next (Climkit
 *   answers 429 then). From the answer, the server has seen the previous request already.
 * - The finished task keeps the slot for the spacing, and only then does the queue pick the
 *   next task, by priority. A task that waited out the spacing itself would already have been
 *   picked, and a write or read-back queued meanwhile would wait behind that poll.
 * - Its caller gets the result at once; only the next task waits.
 */
export class UpstreamQueue {
  private readonly queue = new PQueue({ concurrency: 1 });
  private lastWait = 0;
  private readonly closing = new AbortController();

  constructor(
    readonly name: string,
    private readonly minSpacingMs: number,
  ) {
    queues.add(this);
  }

  run<T>(task: () => Promise<T>, priority: Priority = Priority.poll): Promise<T> {
    const enqueued = performance.now();
    return new Promise<T>((resolve, reject) => {
      void this.queue.add(
        async () => {
          this.lastWait = performance.now() - enqueued;
          try {
            resolve(await task());
          } catch (error) {
            reject(error);
          }
          await sleep(this.minSpacingMs, this.closing.signal);
        },
        { priority },
      );
    });
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
    this.closing.abort();
    await this.queue.onIdle();
    queues.delete(this);
  }
}
