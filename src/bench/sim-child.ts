import { GoeSimulator } from "../goe/simulator/server.js";

// The go-e simulator in a process of its own, so its CPU is not counted as the bridge's.
// argv: <count> <first serial number>. IPC: sends {type:"ready", url}; answers
// {type:"count", since, until} with {type:"count", status, set}, and {type:"sets", since} with
// {type:"sets", sets: [[serial, at]]}: every /api/set since then, `at` in epoch milliseconds
// with sub-millisecond resolution (performance.timeOrigin + performance.now()).

type Request = { type: "count"; since: number; until: number } | { type: "sets"; since: number };

const count = Number(process.argv[2] ?? 10);
const first = Number(process.argv[3] ?? 100000);
const sim = new GoeSimulator({
  chargers: Array.from({ length: count }, (_, index) => ({
    serial: String(first + index),
    mode: "local" as const,
  })),
  logLimit: 2_000_000,
});
const sets: Array<[serial: string, at: number]> = [];
sim.on("set", (serial) => sets.push([serial, performance.timeOrigin + performance.now()]));
const url = await sim.start();
process.send?.({ type: "ready", url, pid: process.pid });
process.on("message", (message: Request) => {
  if (message.type === "sets") {
    process.send?.({ type: "sets", sets: sets.filter(([, at]) => at >= message.since) });
    return;
  }
  if (message.type !== "count") return;
  let status = 0;
  let set = 0;
  for (const request of sim.requests()) {
    if (request.time < message.since || request.time >= message.until) continue;
    if (request.endpoint === "status") status += 1;
    else set += 1;
  }
  process.send?.({ type: "count", status, set });
});
process.on("disconnect", () => {
  void sim.stop().then(() => process.exit(0));
});
