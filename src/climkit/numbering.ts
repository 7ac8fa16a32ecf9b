/**
 * Which topic each Climkit site gets (SPEC §3):
 *
 * - `site` when there is exactly one account and it has exactly one site: listed in its
 *   `sites:`, or, without a list, the only installation it discovers;
 * - otherwise `sites/<n>`, n counting from 1 in config order across all accounts (an account's
 *   sites in the order of its `sites:` list, else in the order all_installations gives them).
 *
 * An account with a `sites:` list knows its count at start. One without settles its count at
 * its first successful discovery; the accounts after it wait for that before they publish, so
 * a number never moves while the bridge runs (installations added later appear after a
 * restart). With several accounts, list the sites to make every number known at start.
 */
export class SiteNumbering {
  private readonly counts: Array<number | undefined>;
  private readonly waiters = new Set<() => void>();

  /** `counts[i]`: the length of account i's `sites:` list, undefined when it discovers. */
  constructor(counts: Array<number | undefined>) {
    this.counts = [...counts];
  }

  /** The topics of account `index`, if they are known without any request. */
  known(index: number): string[] | undefined {
    const count = this.counts[index];
    const offset = this.offset(index);
    return count === undefined || offset === undefined ? undefined : this.topics(offset, count);
  }

  /** Settles account `index`'s count; resolves its topics once every earlier count is known. */
  async claim(index: number, count: number, signal: AbortSignal): Promise<string[]> {
    this.counts[index] ??= count;
    for (const wake of [...this.waiters]) wake();
    const settled = this.counts[index] ?? count;
    let offset = this.offset(index);
    while (offset === undefined) {
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          this.waiters.delete(wake);
          signal.removeEventListener("abort", stop);
          resolve();
        };
        const stop = () => {
          this.waiters.delete(wake);
          reject(new Error("Climkit: stopped"));
        };
        if (signal.aborted) return stop();
        this.waiters.add(wake);
        signal.addEventListener("abort", stop, { once: true });
      });
      offset = this.offset(index);
    }
    return this.topics(offset, settled);
  }

  private offset(index: number): number | undefined {
    let offset = 0;
    for (const count of this.counts.slice(0, index)) {
      if (count === undefined) return undefined;
      offset += count;
    }
    return offset;
  }

  private topics(offset: number, count: number): string[] {
    if (this.counts.length === 1 && count === 1) return ["site"];
    return Array.from({ length: count }, (_, i) => `sites/${offset + i + 1}`);
  }
}
