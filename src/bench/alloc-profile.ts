import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";

// Loaded into the daemon with `node --import …/alloc-profile.js dist/cli.js` by the benchmark
// (never by the product). SIGUSR2 starts V8's sampling heap profiler, counting objects the
// garbage collector has already freed too (the per-poll garbage is what matters, not only what
// survives); the next SIGUSR2 stops it and writes the profile to $EV2MQTT_ALLOC_PROFILE.

const file = process.env.EV2MQTT_ALLOC_PROFILE;
if (file) {
  const session = new Session();
  session.connect();
  let sampling = false;
  process.on("SIGUSR2", () => {
    void (async () => {
      if (!sampling) {
        sampling = true;
        await session.post("HeapProfiler.startSampling", {
          samplingInterval: 16_384,
          includeObjectsCollectedByMajorGC: true,
          includeObjectsCollectedByMinorGC: true,
        });
        return;
      }
      sampling = false;
      const { profile } = await session.post("HeapProfiler.stopSampling");
      writeFileSync(file, JSON.stringify(profile));
    })();
  });
}
