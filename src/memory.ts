import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

// How much memory V8 may take, set by the daemon itself so that no user has to remember node
// flags. Two of V8's sizing rules cost a bridge far more than what it holds:
//
// - The young generation (where a poll's short-lived objects go) starts at 1 MB per half and
//   doubles, up to 16 MB, whenever much survives a collection, which the start-up (modules,
//   config, the first poll of every charger) always does; it does not shrink while the process
//   is busy. Both halves stay resident: 30 MB for a bridge that allocates a few KB per poll.
//   So it may not grow at first; once the configuration is read, a large installation lets it
//   grow again, to 8 MB per half: a young generation of 1 MB would pass most of a poll's
//   objects on to the old one, and the 16 MB V8 would go on to cost 16 MB more resident memory
//   for little less garbage in the old generation.
// - After a full collection V8 lets the old generation grow to up to four times what was live
//   before it collects again: after the start-up burst of a large installation that is several
//   hundred MB of garbage. The daemon lets it grow by 40 % (25 % saved some 10 MB more at 1000
//   chargers, for about 8 % more CPU in full collections).
// - Until its first full collection after the start V8 lets the old generation grow to an
//   initial limit sized from the machine's memory, not from what the bridge holds: a bridge
//   with 100 chargers carried some 30 MB of start-up garbage for good. One full collection once
//   the start-up is over (and one more later) puts the rule above in force.
//
// These are rules of the collector, not limits: the heap still grows as far as the live data
// needs, and nothing runs out of memory earlier than without them.
//
// And a small installation runs without TurboFan, V8's optimising compiler: its code and working
// memory are some 10 MB, where a few polls a second cost a fraction of a per cent of a core
// either way. From OPTIMISE_FROM devices on, the daemon turns it on again.

/** Devices from which the optimising compiler runs. */
const OPTIMISE_FROM = 50;
/** Devices from which the young generation may grow (10 polls a second need no more than 1 MB). */
const LARGE_INSTALLATION = 200;
/** How far the old generation may grow over what is live after a full collection. */
const HEAP_GROWING_PERCENT = 40;
/** The young generation of a large installation: MB per half. */
const LARGE_SEMI_SPACE_MB = 8;

// at import, before the other modules of the daemon load: cli.ts imports this module alone first
setFlagsFromString("--semi-space-growth-factor=1");
setFlagsFromString("--no-turbofan");

/** Seconds after the start at which the start-up's garbage is collected. */
const COLLECT_AFTER_START_S = [15, 60];

/** Sizes V8's heap for the configured number of devices; call before the daemon starts. */
export function sizeHeapFor(devices: number): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  // the collector as a function, without --expose-gc on the command line
  setFlagsFromString("--expose-gc");
  const collect = runInNewContext("gc") as () => void;
  for (const seconds of COLLECT_AFTER_START_S) setTimeout(collect, seconds * 1000).unref();
  if (devices >= OPTIMISE_FROM) setFlagsFromString("--turbofan");
  if (devices >= LARGE_INSTALLATION) growYoungGenerationTo(LARGE_SEMI_SPACE_MB);
}

/** Lets V8 double the young generation until it reaches `mb` per half (it would go on to 16). */
function growYoungGenerationTo(mb: number): void {
  setFlagsFromString("--semi-space-growth-factor=2");
  // an installation that polls slowly may never allocate enough to get there: the watch ends
  // with the start-up's last collection either way
  const until = Date.now() + Math.max(...COLLECT_AFTER_START_S) * 1000;
  const watch = setInterval(() => {
    const young = getHeapSpaceStatistics().find((space) => space.space_name === "new_space");
    // space_size counts both halves
    if (young && young.space_size < 2 * mb * 2 ** 20 && Date.now() < until) return;
    setFlagsFromString("--semi-space-growth-factor=1");
    clearInterval(watch);
  }, 100);
  watch.unref();
}
