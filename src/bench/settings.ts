import { percentile } from "./proc.js";

// What a benchmark run measures and for how long, from the environment (see docs/benchmarks.md):
// BENCH_QUICK=1 for a short run while developing, BENCH_PARTS to run only some parts.

export const QUICK = process.env.BENCH_QUICK === "1";
/** Seconds of measurement per scale run. */
export const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? (QUICK ? 8 : 20));
/** The N the CPU and memory targets are set at (docs/benchmarks.md, Targets). */
export const TARGET_N = 1000;
/**
 * Seconds of measurement at `count` chargers: three windows' worth at TARGET_N, where the CPU
 * ratio to the floor is judged. A process at 8 % of a core counts some 160 clock ticks in 20 s,
 * and both sides vary by a tenth from run to run on a shared 2-core machine.
 */
export function windowFor(count: number): number {
  return count === TARGET_N ? WINDOW_S * 3 : WINDOW_S;
}
/**
 * Seconds between the end of the start-up burst and the window: V8 collects the burst's garbage
 * at its next full collection, a few seconds on (the start-up's own peak is reported apart).
 */
export const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? (QUICK ? 5 : 10));
/** N of the extra scale run with Home Assistant discovery off (0: none). */
export const NO_DISCOVERY_N = Number(process.env.BENCH_NO_DISCOVERY_N ?? (QUICK ? 0 : TARGET_N));
/** Chargers polled every second, one scale run each (bridge and floor loop). */
export const SIZES = (process.env.BENCH_SIZES ?? (QUICK ? "10,100,1000" : "10,100,1000,2000"))
  .split(",")
  .map(Number);
/** Writes per latency scenario. */
export const WRITES = Number(process.env.BENCH_WRITES ?? (QUICK ? 200 : 1000));
/** The load the write latency is measured under, besides idle. */
export const LOADS = (process.env.BENCH_LOADS ?? "100,1000").split(",").map(Number);
/** Chargers of the allocation profile, and its seconds of sampling. */
export const PROFILE_N = Number(process.env.BENCH_PROFILE_N ?? TARGET_N);
export const PROFILE_S = Number(process.env.BENCH_PROFILE_S ?? (QUICK ? 5 : 10));

/** Seconds of real time each OVMS scenario runs (its timings are scaled 1/60). */
export const OVMS_WINDOW_S = Number(process.env.BENCH_OVMS_S ?? 40);
/** BENCH_NO_WRITE=1: print the report only, leave docs/benchmarks.md as it is. */
export const NO_WRITE = process.env.BENCH_NO_WRITE === "1";

export type Part = "scale" | "profile" | "latency" | "startup" | "traffic" | "extra";
const PARTS = new Set((process.env.BENCH_PARTS ?? "scale,profile,latency,startup,traffic,extra").split(","));
export function runs(part: Part): boolean {
  return PARTS.has(part);
}

const BENCH_START = performance.now();
/** A progress line with the seconds since the start. */
export function log(text: string): void {
  const seconds = Math.round((performance.now() - BENCH_START) / 1000);
  process.stdout.write(`[${String(seconds).padStart(4)} s] ${text}\n`);
}

/** Config entries of `count` go-e chargers with serials from `first`, loadpoints from 1. */
export function chargers(count: number, first: number, url: (serial: string) => string, interval: string) {
  return Array.from({ length: count }, (_, index) => {
    const serial = String(first + index);
    return { serial, loadpoint: index + 1, url: url(serial), interval };
  });
}

export const fmt = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : "n/a");

export function median(values: number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable between processes. */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}
