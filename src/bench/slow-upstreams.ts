import { ClimkitSimulator } from "../climkit/simulator/server.js";
import { createClimkitSources } from "../climkit/source.js";
import { parseConfig } from "../config/load.js";
import { createOvmsSources, OvmsSimulator } from "../ovms/index.js";
import type { Device, Sink } from "../source.js";
import { silentLogger } from "../util/log.js";
import { sleep } from "./processes.js";

// Requests per hour of the two slow upstreams at their default settings (Climkit every 5 min,
// OVMS every 60 s). Climkit: a simulated hour, the clock moved forward by one interval after
// each poll (the data, the token lifetime and the hourly rediscovery follow that clock), so an
// hour takes seconds. OVMS: its vehicle polling runs on real timers only, so it runs in real
// time for as long as the rest of the benchmark, and the rate is extrapolated.

function sink(onPolled: (topic: string) => void = () => undefined): Sink {
  return {
    device: (_device: Device) => undefined,
    values: () => undefined,
    availability: () => undefined,
    polled: onPolled,
  };
}

export interface ClimkitHour {
  requests: number;
  logins: number;
  polls: number;
  byPath: Record<string, number>;
  realSeconds: number;
}

/** Twelve polls of one account with one site (6 meters and sensors), 5 simulated minutes apart. */
export async function climkitSimulatedHour(): Promise<ClimkitHour> {
  let offset = 0;
  const clock = () => Date.now() + offset;
  const sim = new ClimkitSimulator({ now: clock, minRequestGapMs: 0 });
  const url = await sim.start();
  const [account] = parseConfig({
    climkit: [{ username: "api-user", password: "api-secret", url }],
  }).climkit;
  if (!account) throw new Error("no Climkit account");
  const interval = account.interval;
  const started = performance.now();
  let polls = 0;
  const done = new Promise<void>((resolve) => {
    const [source] = createClimkitSources([{ ...account, interval: 200 }], {
      logger: silentLogger(),
      now: clock,
      minSpacingMs: 10,
    });
    if (!source) throw new Error("no Climkit source");
    void source.start(
      sink(() => {
        polls += 1;
        offset += interval;
        if (polls >= 12) void source.stop().then(resolve);
      }),
    );
  });
  await Promise.race([done, sleep(120_000)]);
  const byPath: Record<string, number> = {};
  for (const request of sim.requests) {
    const kind = request.path.replace(/[0-9a-f]{24}/g, ":id");
    byPath[kind] = (byPath[kind] ?? 0) + 1;
  }
  await sim.stop();
  return {
    requests: sim.requests.length,
    logins: sim.logins,
    polls,
    byPath,
    realSeconds: (performance.now() - started) / 1000,
  };
}

export interface OvmsRun {
  requests: number;
  logins: number;
  minutes: number;
  perHour: number;
  byPath: Record<string, number>;
}

/** One OVMS account with one parked car at the default settings, in real time, until stopped. */
export async function startOvmsRun(): Promise<() => Promise<OvmsRun>> {
  const sim = new OvmsSimulator({ username: "demo", password: "demo-password" });
  // the simulator's v2 port stands where a real server's default (the REST host, 6867) is:
  // without it the derived endpoint is refused and the run would measure REST polling
  const { restUrl, commandsUrl } = await sim.start();
  const [server] = parseConfig({
    ovms: [
      {
        url: restUrl,
        commands: commandsUrl,
        username: "demo",
        password: "demo-password",
        vehicles: [{ id: "DEMO" }],
      },
    ],
  }).ovms;
  if (!server) throw new Error("no OVMS server");
  const sources = createOvmsSources([server], { logger: silentLogger() });
  const started = performance.now();
  for (const source of sources) await source.start(sink());
  return async () => {
    const minutes = (performance.now() - started) / 60_000;
    for (const source of sources) await source.stop();
    const byPath: Record<string, number> = {};
    for (const request of sim.requestLog) {
      const kind = request.path.split("/")[2] ?? request.path;
      byPath[kind] = (byPath[kind] ?? 0) + 1;
    }
    const requests = sim.requestLog.length;
    await sim.stop();
    return { requests, logins: sim.logins, minutes, perHour: (requests / minutes) * 60, byPath };
  };
}
