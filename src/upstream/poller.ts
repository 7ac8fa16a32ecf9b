import { describeError } from "./errors.js";

export interface PollerOptions {
  /** Normal time between the end of one poll and the start of the next. */
  intervalMs: number;
  /** Upper bound of the back-off after failures; default: 8 intervals, at most 5 minutes. */
  maxBackoffMs?: number;
  /** One poll; throws on failure. */
  poll: () => Promise<void>;
  onSuccess?: () => void;
  onFailure?: (error: unknown, retryInMs: number) => void;
}

/**
 * Polls on a timer, one poll at a time. After a failure the delay doubles up to the cap, and
 * resets on the first success, so a broken upstream is not hammered and recovers by itself.
 */
export class Poller {
  private timer: NodeJS.Timeout | undefined;
  /** The delay `timer` was made with: the same delay again re-arms it instead of making a new one. */
  private timerDelayMs = -1;
  private running: Promise<void> | undefined;
  private stopped = true;
  private failures = 0;
  private intervalMs: number;

  constructor(private readonly options: PollerOptions) {
    this.intervalMs = options.intervalMs;
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /**
   * Stops polling. A poll under way is given `graceMs` to finish (an upstream that hangs
   * until its timeout must not hold up a shutdown that has 5 s in all); a poll still running
   * after that completes on its own and publishes nothing new that matters.
   */
  async stop(graceMs = 1500): Promise<void> {
    this.stopped = true;
    this.cancelTimer();
    const running = this.running;
    if (!running) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([running, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
  }

  /** Changes the interval (OVMS polls faster while a car charges); takes effect at once. */
  setInterval(ms: number): void {
    if (ms === this.intervalMs) return;
    const faster = ms < this.intervalMs;
    this.intervalMs = ms;
    if (faster && !this.running && this.failures === 0 && !this.stopped) this.schedule(ms);
  }

  /** Polls now (after a write, or on demand), or joins the poll already running. */
  pollNow(): Promise<void> {
    if (this.running) return this.running;
    this.cancelTimer();
    return this.tick();
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer && delayMs === this.timerDelayMs) {
      // one timer per poller for its whole life: a new one per poll would be garbage that lives
      // a whole interval, long enough to reach V8's old generation (1000 a second at 1000 chargers)
      this.timer.refresh();
      return;
    }
    this.cancelTimer();
    this.timer = setTimeout(this.onTimer, delayMs);
    this.timerDelayMs = delayMs;
    this.timer.unref?.();
  }

  private readonly onTimer = (): void => void this.tick();

  /** A cleared timer cannot be re-armed: forget it. */
  private cancelTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private tick(): Promise<void> {
    const run = (async () => {
      let next = this.intervalMs;
      try {
        await this.options.poll();
        this.failures = 0;
        this.options.onSuccess?.();
      } catch (error) {
        this.failures += 1;
        next = this.backoff();
        try {
          this.options.onFailure?.(error, next);
        } catch (inner) {
          // a failing error handler must not stop polling
          void describeError(inner);
        }
      } finally {
        this.running = undefined;
      }
      this.schedule(next);
    })();
    this.running = run;
    return run;
  }

  private backoff(): number {
    const cap = this.options.maxBackoffMs ?? Math.min(300_000, this.intervalMs * 8);
    return Math.min(cap, this.intervalMs * 2 ** (this.failures - 1));
  }
}
