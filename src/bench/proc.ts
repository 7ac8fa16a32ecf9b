import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

// CPU time and memory of another process, from /proc (Linux): what `ps` and `top` show.

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User + system CPU seconds the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // the command name (field 2) may hold spaces: count fields after its closing parenthesis
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / clockTicks();
}

export interface Rss {
  /** Resident set size in MB. */
  total: number;
  /** Of it, pages of files: mostly the node binary's code and ICU data, shared with other node processes. */
  file: number;
  /** Of it, the process's own memory: V8's heap, buffers, malloc. */
  anon: number;
}

export function rss(pid: number): Rss {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const mb = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, "m").exec(status)?.[1] ?? 0) / 1024;
  return { total: mb("VmRSS"), file: mb("RssFile"), anon: mb("RssAnon") };
}

export interface ProcFigures {
  /** CPU time over the window as a percentage of one core. */
  cpuPercent: number;
  rssMaxMb: number;
  rssAvgMb: number;
  /** The sample with the highest RSS, split into file pages and the process's own memory. */
  rssAtMax: Rss;
}

/** Samples a process over a window: CPU from the difference of its counters, RSS every 500 ms. */
export class ProcWindow {
  private readonly startCpu: number;
  private readonly startTime = performance.now();
  private readonly samples: Rss[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    this.startCpu = cpuSeconds(pid);
    this.samples.push(rss(pid));
    this.timer = setInterval(() => {
      try {
        this.samples.push(rss(pid));
      } catch {
        // the process ended: the window ends with it
      }
    }, 500);
  }

  end(): ProcFigures {
    clearInterval(this.timer);
    const seconds = (performance.now() - this.startTime) / 1000;
    const cpu = cpuSeconds(this.pid) - this.startCpu;
    this.samples.push(rss(this.pid));
    const highest = this.samples.reduce((max, sample) => (sample.total > max.total ? sample : max));
    return {
      cpuPercent: (cpu / seconds) * 100,
      rssMaxMb: highest.total,
      rssAvgMb: this.samples.reduce((sum, sample) => sum + sample.total, 0) / this.samples.length,
      rssAtMax: highest,
    };
  }
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}
