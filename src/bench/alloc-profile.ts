import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";

// Loaded into the daemon with `node --import …/alloc-profile.js dist/cli.js` by the benchmark
// (never by the product). SIGUSR2 starts V8's sampling heap profiler, counting objects the
// garbage collector has already freed too (the per-poll garbage is what matters, not only what
// survives); the next SIGUSR2 stops it and writes the profile to $EV2MQTT_ALLOC_PROFILE.

const file = process.env.EV2MQTT_ALLOC_PROFILE;
const kept = process.env.EV2MQTT_ALLOC_PROFILE_KEPT === "1";
// EV2MQTT_CPU_PROFILE=<file>: the same signals start and stop V8's CPU profiler instead
const cpuFile = process.env.EV2MQTT_CPU_PROFILE;
if (cpuFile) {
  const session = new Session();
  session.connect();
  let running = false;
  process.on("SIGUSR2", () => {
    void (async () => {
      running = !running;
      if (running) {
        await session.post("Profiler.enable");
        await session.post("Profiler.start");
        return;
      }
      const { profile } = await session.post("Profiler.stop");
      writeFileSync(cpuFile, JSON.stringify(profile));
    })();
  });
} else if (file) {
  const session = new Session();
  session.connect();
  let sampling = false;
  process.on("SIGUSR2", () => {
    void (async () => {
      if (!sampling) {
        sampling = true;
        await session.post("HeapProfiler.startSampling", {
          samplingInterval: 16_384,
          // EV2MQTT_ALLOC_PROFILE_KEPT=1: only what is still in the heap when sampling stops
          // (between two full collections, that is what reached the old generation)
          includeObjectsCollectedByMajorGC: !kept,
          includeObjectsCollectedByMinorGC: !kept,
        });
        return;
      }
      sampling = false;
      const { profile } = await session.post("HeapProfiler.stopSampling");
      writeFileSync(file, JSON.stringify(profile));
    })();
  });
}
