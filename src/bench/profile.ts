import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AllocationSummary, summariseAllocations } from "./alloc-summary.js";
import type { BenchBroker } from "./broker.js";
import { DIST, SimProcess, sleep } from "./processes.js";
import { FIRST_SERIAL, startPolling } from "./scale.js";
import { fmt, log } from "./settings.js";

// Where the allocation of a poll goes: the daemon at `count` chargers with V8's sampling heap
// profiler (alloc-profile.ts, loaded with --import: the measured runs do without it), sampled
// for `seconds` once the start-up burst is over, divided by the polls the simulator counted.

export interface AllocationProfile extends AllocationSummary {
  count: number;
  seconds: number;
  polls: number;
}

export async function profileRun(
  count: number,
  seconds: number,
  broker: BenchBroker,
): Promise<AllocationProfile> {
  const file = join(mkdtempSync(join(tmpdir(), "ev2mqtt-bench-")), "alloc.heapprofile");
  const sim = await SimProcess.start(count, FIRST_SERIAL);
  try {
    const { daemon, subscriber, startup } = await startPolling(count, sim, broker, `benchprofile${count}`, {
      nodeArgs: [`--import=${join(DIST, "bench/alloc-profile.js")}`],
      env: { EV2MQTT_ALLOC_PROFILE: file },
    });
    startup.end();
    await subscriber.close();
    await sleep(2000);
    daemon.signal("SIGUSR2");
    const since = Date.now();
    await sleep(seconds * 1000);
    daemon.signal("SIGUSR2");
    const until = Date.now();
    const deadline = Date.now() + 20_000;
    while (!existsSync(file) && Date.now() < deadline) await sleep(200);
    await sleep(500); // written in one call, but let it finish
    await daemon.stop();
    const { status } = await sim.count(since, until);
    const summary = summariseAllocations(file);
    log(`  N=${count}: ${fmt(summary.totalBytes / Math.max(1, status) / 1024)} KB allocated per poll`);
    return { ...summary, count, seconds: (until - since) / 1000, polls: status };
  } finally {
    await sim.stop();
  }
}
