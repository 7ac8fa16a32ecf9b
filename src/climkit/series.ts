import { localDate, QUARTER_MS, startOfLocalDay } from "./time.js";

/**
 * One 15-minute time series (the site's, or one meter's) as the bridge fetches it
 * incrementally: it knows where the next request starts, keeps the latest row, and sums
 * the energies of the site-local day of that row. No I/O, no clock: `now` is passed in.
 *
 * A row's timestamp is the END of its interval, so the row ending at 00:00 belongs to the
 * previous day. Requests start at the end of the last row the series has; rows the service
 * sends again (if it reads `t_s` as inclusive) are dropped.
 */
export class IntervalSeries<Row extends { end: number }> {
  private last: Row | undefined;
  /** Where the first request started: days that began earlier are only partly known. */
  private coveredFrom: number | undefined;
  private day: string | undefined;
  private dayComplete = false;
  private sums: Record<string, number> = {};

  constructor(private readonly energies: (row: Row) => Record<string, number | undefined>) {}

  get latest(): Row | undefined {
    return this.last;
  }

  /** End of the latest row, or where the series started looking when it has none yet. */
  get since(): number | undefined {
    return this.last?.end ?? this.coveredFrom;
  }

  /**
   * Start of the next request. The first one reaches back to the start of the local day
   * `lookbackMs` before now, so the day totals are whole and a start just after midnight
   * still finds yesterday's latest intervals.
   */
  nextFrom(now: number, timeZone: string, lookbackMs: number): number {
    if (this.last) return this.last.end;
    this.coveredFrom ??= startOfLocalDay(now - lookbackMs, timeZone);
    return this.coveredFrom;
  }

  /** Takes the rows of a reply (in time order); returns how many were new. */
  add(rows: Row[], timeZone: string): number {
    let added = 0;
    for (const row of rows) {
      if (this.last && row.end <= this.last.end) continue;
      const start = row.end - QUARTER_MS;
      const day = localDate(start, timeZone);
      if (day !== this.day) {
        this.day = day;
        this.sums = {};
        this.dayComplete =
          this.coveredFrom !== undefined && startOfLocalDay(start, timeZone) >= this.coveredFrom;
      }
      for (const [key, value] of Object.entries(this.energies(row))) {
        if (value !== undefined) this.sums[key] = (this.sums[key] ?? 0) + value;
      }
      this.last = row;
      added += 1;
    }
    return added;
  }

  /** The day's totals per energy key, or undefined while the day is not known from its start. */
  dayTotals(): Record<string, number> | undefined {
    return this.last && this.dayComplete ? { ...this.sums } : undefined;
  }
}
