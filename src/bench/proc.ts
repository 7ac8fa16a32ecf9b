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

/** Resident set size in MB. */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

export interface ProcFigures {
  /** CPU time over the window as a percentage of one core. */
  cpuPercent: number;
  rssMaxMb: number;
  rssAvgMb: number;
}

/** Samples a process over a window: CPU from the difference of its counters, RSS every 500 ms. */
export class ProcWindow {
  private readonly startCpu: number;
  private readonly startTime = performance.now();
  private readonly rss: number[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    this.startCpu = cpuSeconds(pid);
    this.rss.push(rssMb(pid));
    this.timer = setInterval(() => {
      try {
        this.rss.push(rssMb(pid));
      } catch {
        // the process ended: the window ends with it
      }
    }, 500);
  }

  end(): ProcFigures {
    clearInterval(this.timer);
    const seconds = (performance.now() - this.startTime) / 1000;
    const cpu = cpuSeconds(this.pid) - this.startCpu;
    this.rss.push(rssMb(this.pid));
    return {
      cpuPercent: (cpu / seconds) * 100,
      rssMaxMb: Math.max(...this.rss),
      rssAvgMb: this.rss.reduce((sum, value) => sum + value, 0) / this.rss.length,
    };
  }
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}
