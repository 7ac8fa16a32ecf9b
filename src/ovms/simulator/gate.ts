// Request gates of the OVMS server simulator: the per-address rate limit and injected faults.
// Imports nothing of the product.

export interface RateLimit {
  burst?: number;
  perMinute?: number;
  cap?: number;
  holdMs?: number;
  /** The refill timer's period (one minute on the real server; shorter in tests). */
  minuteMs?: number;
  /** An address not seen for this long starts afresh (300 s on the real server). */
  idleResetMs?: number;
}

/**
 * The server's limit per client address (`ApiHttp.pm` 127–178): `burst` requests to start with
 * (the first request is free), +`perMinute` from one global timer each minute up to `cap`, and
 * an address unseen for `idleResetMs` starts afresh. Held requests count too. The clock is the
 * simulator's, so tests can refill by moving it; the global timer is its whole minutes.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; minute: number; seen: number }>();

  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number,
  ) {}

  /** Takes one request from the address's quota; false when it is used up (hold, then 429). */
  take(address: string): boolean {
    const { burst = 120, perMinute = 60, cap = 240, minuteMs = 60_000, idleResetMs = 300_000 } = this.limit;
    const now = this.now();
    const minute = Math.floor(now / minuteMs);
    let bucket = this.buckets.get(address);
    if (!bucket || now - bucket.seen >= idleResetMs) {
      bucket = { tokens: burst, minute, seen: now };
      this.buckets.set(address, bucket);
      return true;
    }
    bucket.seen = now;
    if (minute > bucket.minute) {
      bucket.tokens = Math.min(cap, bucket.tokens + (minute - bucket.minute) * perMinute);
      bucket.minute = minute;
    }
    bucket.tokens -= 1;
    return bucket.tokens >= 0;
  }
}

export interface SimFault {
  /** Only requests whose path contains this (or matches it); default every request. */
  path?: string | RegExp;
  status?: number;
  body?: string;
  /** Hold the request this long before answering (or applying the rest of the fault). */
  delayMs?: number;
  /** Answer as of now, but deliver the answer this long later (a slow network or server). */
  slowAnswerMs?: number;
  /** Close the connection without an answer. */
  reset?: boolean;
  /** Answer 200 with a body that is not JSON. */
  garbage?: boolean;
  /** How many requests it hits; default 1. */
  times?: number;
}

/** Faults waiting for the requests they hit, first added first. */
export class Faults {
  private readonly list: Array<SimFault & { left: number }> = [];

  add(fault: SimFault): void {
    this.list.push({ ...fault, left: fault.times ?? 1 });
  }

  clear(): void {
    this.list.length = 0;
  }

  /** The fault for a request to `path`, if one is left (and counts it). */
  take(path: string): SimFault | undefined {
    const fault = this.list.find((f) => f.left > 0 && matches(f.path, path));
    if (fault) fault.left -= 1;
    return fault;
  }
}

function matches(pattern: string | RegExp | undefined, path: string): boolean {
  if (pattern === undefined) return true;
  return typeof pattern === "string" ? path.includes(pattern) : pattern.test(path);
}
