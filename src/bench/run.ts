import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startBroker } from "./broker.js";
import { latencyRuns } from "./latency.js";
import { profileRun } from "./profile.js";
import { type Report, render } from "./report.js";
import { type ScaleResult, scaleRun } from "./scale.js";
import { extraSections } from "./sections.js";
import {
  LOADS,
  log,
  NO_DISCOVERY_N,
  NO_WRITE,
  PROFILE_N,
  PROFILE_S,
  QUICK,
  runs,
  SIZES,
  WINDOW_S,
  WRITES,
} from "./settings.js";
import { climkitSimulatedHour, type OvmsRun, startOvmsRun } from "./slow-upstreams.js";
import { pollBytes, startupRuns } from "./startup.js";

// `npm run bench`: figures, never assertions. Everything on loopback: the go-e simulator, a
// real mosquitto, the built daemon in a child process of its own. Writes docs/benchmarks.md.
// The parts: scale.ts (the bridge and the floor loop at N chargers), profile.ts (where a poll's
// allocation goes), latency.ts (writes), startup.ts, slow-upstreams.ts (Climkit and OVMS
// requests), sections.ts (sections measured elsewhere), report.ts and targets.ts (the file).

const DOCS = join(import.meta.dirname, "../../docs/benchmarks.md");

const failed = (error: unknown) => `not measured (${(error as Error).message})`;

async function main(): Promise<void> {
  const started = performance.now();
  log(
    `ev2mqtt benchmark${QUICK ? " (quick)" : ""}: windows of ${WINDOW_S} s, N = ${SIZES.join(", ")}, ${WRITES} writes`,
  );
  const broker = await startBroker();
  log(`broker: ${broker.kind} at ${broker.url}`);
  let stopOvms: (() => Promise<OvmsRun>) | string | undefined;
  if (runs("traffic")) stopOvms = await startOvmsRun().catch(failed);
  try {
    const report: Report = {
      broker: broker.kind,
      quick: QUICK,
      scale: [],
      profile: undefined,
      latency: undefined,
      startup: undefined,
      bytes: undefined,
      climkit: undefined,
      ovms: undefined,
      extra: [],
      seconds: 0,
    };
    if (runs("traffic")) {
      log("Climkit simulated hour");
      report.climkit = await climkitSimulatedHour().catch(failed);
    }
    if (runs("scale")) {
      log("scale and floor");
      const scale: ScaleResult[] = [];
      for (const count of SIZES) scale.push(await scaleRun(count, broker));
      // what Home Assistant discovery costs: the same without it, the bridge only
      if (NO_DISCOVERY_N > 0) {
        scale.push(await scaleRun(NO_DISCOVERY_N, broker, { discovery: false, floor: false }));
      }
      report.scale = scale;
    }
    if (runs("profile")) {
      log("allocation profile");
      report.profile = await profileRun(PROFILE_N, PROFILE_S, broker).catch(failed);
    }
    if (runs("latency")) {
      log("write latency");
      const noDelayBroker = broker.pid ? await startBroker({ noDelay: true }) : undefined;
      report.latency = await latencyRuns(broker, noDelayBroker, LOADS);
      await noDelayBroker?.stop();
    }
    if (runs("startup")) {
      log("start-up");
      report.startup = await startupRuns(broker);
    }
    if (runs("traffic")) report.bytes = await pollBytes();
    if (runs("extra")) {
      for (const section of extraSections) {
        log(section.title);
        const lines = await section.measure().catch((error: Error) => [failed(error)]);
        report.extra.push({ title: section.title, lines });
      }
    }
    if (typeof stopOvms === "function") report.ovms = await stopOvms();
    else report.ovms = stopOvms;
    report.seconds = (performance.now() - started) / 1000;
    const text = render(report);
    if (NO_WRITE) log("not written (BENCH_NO_WRITE=1)");
    else {
      writeFileSync(DOCS, text);
      log(`written to ${DOCS}`);
    }
    process.stdout.write(`\n${text}\n`);
  } finally {
    await broker.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    process.stderr.write(`bench failed: ${error.stack ?? error.message}\n`);
    process.exit(1);
  },
);
