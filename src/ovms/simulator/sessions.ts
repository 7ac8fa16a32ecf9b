// REST API sessions of the OVMS server simulator, as ApiHttpCore.pm keeps them: `sessionused`
// is set at login only and never refreshed, and a sweep every 10 s ends the sessions older than
// `timeout_api`, so a session lives `timeout_api` to `timeout_api` + 10 s however busy it is.
// Ending one drops its peer connections (the car then hears the new app count). Imports nothing
// of the product.

import { randomUUID } from "node:crypto";

export interface SessionTiming {
  /** `timeout_api` (the code's default 120 s). */
  lifetimeMs: number;
  /** Period of the expiry sweep (10 s on the real server). */
  sweepMs: number;
}

export class Sessions {
  private readonly created = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly timing: SessionTiming,
    private readonly now: () => number,
    private readonly onEnd: (id: string) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.sweep(), this.timing.sweepMs);
    this.timer.unref?.();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** A new session (GET /api/cookie); its id goes into the `ovmsapisession` cookie. */
  open(): string {
    const id = randomUUID().toUpperCase();
    this.created.set(id, this.now());
    return id;
  }

  alive(id: string | undefined): boolean {
    return id !== undefined && this.created.has(id);
  }

  end(id: string): void {
    if (!this.created.delete(id)) return;
    this.onEnd(id);
  }

  endAll(): void {
    for (const id of [...this.created.keys()]) this.end(id);
  }

  /** What the 10 s timer does; public for tests that move the clock instead of waiting. */
  sweep(): void {
    const now = this.now();
    for (const [id, created] of this.created) if (now - created > this.timing.lifetimeMs) this.end(id);
  }
}
