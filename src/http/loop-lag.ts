/**
 * Event-loop lag from a timer: a tick planned every `intervalMs` that fires late shows how
 * long the loop was busy. A stall still under way counts too (the time since the last tick),
 * so a request answered right after a long block sees it even before the timer fires.
 */
export class LoopLag {
  private timer: NodeJS.Timeout | undefined;
  private lastTick = 0;
  private lastLag = 0;

  constructor(private readonly intervalMs = 250) {}

  start(): void {
    this.lastTick = performance.now();
    this.lastLag = 0;
    this.schedule();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The current lag in milliseconds: the latest sample or the stall under way, whichever is longer. */
  lagMs(now = performance.now()): number {
    if (!this.timer) return 0;
    const ongoing = now - this.lastTick - this.intervalMs;
    return Math.max(0, this.lastLag, ongoing);
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      const now = performance.now();
      this.lastLag = Math.max(0, now - this.lastTick - this.intervalMs);
      this.lastTick = now;
      this.schedule();
    }, this.intervalMs);
    this.timer.unref();
  }
}
