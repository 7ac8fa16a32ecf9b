// go-e's `tpa`: the power averaged over the last 30 s. Power is constant between the
// simulator's evaluations, so the average needs only the moment and value of the last change.

const TPA_WINDOW_MS = 30_000;

export class PowerAverage {
  private current = 0;
  private averageAtChange = 0;
  private changedAt: number;

  constructor(now: number) {
    this.changedAt = now - TPA_WINDOW_MS;
  }

  get power(): number {
    return this.current;
  }

  set(power: number, now: number): void {
    if (power === this.current) return;
    this.averageAtChange = this.average(now);
    this.changedAt = now;
    this.current = power;
  }

  /** The 30 s average, assuming the average before the last change held steady. */
  average(now: number): number {
    const since = now - this.changedAt;
    if (since >= TPA_WINDOW_MS) return this.current;
    return (this.averageAtChange * (TPA_WINDOW_MS - since) + this.current * since) / TPA_WINDOW_MS;
  }
}
