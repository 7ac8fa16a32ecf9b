import { execFile } from "node:child_process";
import mqtt from "mqtt";
import type { BenchBroker } from "./broker.js";
import { percentile } from "./proc.js";
import { DaemonChild, SimProcess, Subscriber, sleep } from "./processes.js";
import { chargers, epochNow, fmt, log, WRITES } from "./settings.js";

// Write latency: an MQTT.js client publishes `<root>/loadpoints/<n>/maxCurrent/set` (QoS 1);
// the go-e simulator (a process of its own) timestamps the `/api/set` it receives, and the
// client the `…/maxCurrent/result` answer. Writes go round-robin over the chargers, so that no
// write waits for an earlier write to the same charger.

export interface Latency {
  label: string;
  /** Chargers polled every second meanwhile (0: idle). */
  load: number;
  /** Whether the chargers written to are among the polled ones. */
  polled: boolean;
  writes: number;
  arrived: number;
  answered: number;
  answeredOk: number;
  p50: number;
  p99: number;
  max: number;
  answerP50: number;
  answerP99: number;
  answerMax: number;
}

export interface LatencyResults {
  runs: Latency[];
  /** `mosquitto_pub -q 1` → `/api/set`, idle, start of the mosquitto_pub process included. */
  cli: number[];
}

interface Plan {
  label: string;
  load: number;
  polled: boolean;
  targets: number[];
  writes: number;
  spacingMs: number;
}

const FIRST = 200_000;
const QUIET = 50;

function summarise(plan: Plan, toSet: number[], answers: Array<{ ms: number; ok: boolean }>): Latency {
  const set = [...toSet].sort((a, b) => a - b);
  const answer = answers.map((entry) => entry.ms).sort((a, b) => a - b);
  return {
    label: plan.label,
    load: plan.load,
    polled: plan.polled,
    writes: plan.writes,
    arrived: set.length,
    answered: answer.length,
    answeredOk: answers.filter((entry) => entry.ok).length,
    p50: percentile(set, 50),
    p99: percentile(set, 99),
    max: set.at(-1) ?? Number.NaN,
    answerP50: percentile(answer, 50),
    answerP99: percentile(answer, 99),
    answerMax: answer.at(-1) ?? Number.NaN,
  };
}

/** Matches each write to the first `/api/set` of its charger after it was published. */
function toSetTimes(writes: Array<[serial: string, at: number]>, sets: Array<[string, number]>): number[] {
  const bySerial = new Map<string, number[]>();
  for (const [serial, at] of sets) {
    const list = bySerial.get(serial) ?? [];
    list.push(at);
    bySerial.set(serial, list);
  }
  const times: number[] = [];
  for (const [serial, published] of writes) {
    const arrivals = bySerial.get(serial) ?? [];
    const index = arrivals.findIndex((at) => at >= published);
    if (index < 0) continue;
    times.push(arrivals[index]! - published);
    arrivals.splice(0, index + 1);
  }
  return times;
}

async function runPlan(
  plan: Plan,
  root: string,
  client: mqtt.MqttClient,
  sim: SimProcess,
  subscriber: Subscriber,
): Promise<Latency> {
  const since = epochNow();
  const writes: Array<[string, number]> = [];
  const pendingAnswer = new Map<string, number>();
  const answers: Array<{ ms: number; ok: boolean }> = [];
  const stopListening = subscriber.on((message) => {
    const loadpoint = /loadpoints\/(\d+)\/maxCurrent\/result$/.exec(message.topic)?.[1];
    if (!loadpoint) return;
    const started = pendingAnswer.get(loadpoint);
    if (started === undefined) return;
    pendingAnswer.delete(loadpoint);
    answers.push({ ms: message.at - started, ok: message.payload.includes('"ok":true') });
  });
  for (let index = 0; index < plan.writes; index++) {
    const loadpoint = plan.targets[index % plan.targets.length]!;
    writes.push([String(FIRST + loadpoint - 1), epochNow()]);
    pendingAnswer.set(String(loadpoint), performance.now());
    client.publish(`${root}/loadpoints/${loadpoint}/maxCurrent/set`, String(6 + (index % 20)), { qos: 1 });
    await sleep(plan.spacingMs);
  }
  const deadline = Date.now() + 10_000;
  while (pendingAnswer.size > 0 && Date.now() < deadline) await sleep(50);
  stopListening();
  const result = summarise(plan, toSetTimes(writes, await sim.sets(since)), answers);
  log(
    `  ${plan.label}: to the charger p50 ${fmt(result.p50)} ms, p99 ${fmt(result.p99)} ms; answer p50 ${fmt(result.answerP50, 0)} ms, p99 ${fmt(result.answerP99, 0)} ms`,
  );
  return result;
}

/** The real command-line client, a few times: its own start-up is part of what it measures. */
async function spotCheck(broker: BenchBroker, root: string, sim: SimProcess): Promise<number[]> {
  const times: number[] = [];
  for (let index = 0; index < 5; index++) {
    const serial = String(FIRST + index);
    const started = epochNow();
    execFile("mosquitto_pub", [
      ...["-h", "127.0.0.1", "-p", String(broker.port), "-q", "1"],
      ...["-t", `${root}/loadpoints/${index + 1}/maxCurrent/set`, "-m", String(20 + index)],
    ]);
    let arrived: number | undefined;
    const deadline = Date.now() + 5000;
    while (arrived === undefined && Date.now() < deadline) {
      await sleep(100);
      arrived = (await sim.sets(started)).find(([got]) => got === serial)?.[1];
    }
    times.push(arrived === undefined ? Number.NaN : arrived - started);
    await sleep(1000);
  }
  return times;
}

/** One daemon: `load` chargers polled every second and QUIET polled hourly; the plans run in turn. */
async function scenario(
  broker: BenchBroker,
  root: string,
  load: number,
  plans: (all: number[], quiet: number[]) => Plan[],
  withSpotCheck = false,
): Promise<{ runs: Latency[]; cli: number[] }> {
  const polled = Math.max(load, 100);
  const sim = await SimProcess.start(polled + QUIET, FIRST);
  const daemon = DaemonChild.start({
    mqtt: { url: broker.url, topic: root, clientId: `ev2mqtt-${root}` },
    log: { level: "warn" },
    homeassistant: { discovery: false },
    goe: [
      ...chargers(polled, FIRST, (serial) => `${sim.url}/${serial}`, load > 0 ? "1s" : "1h"),
      ...chargers(QUIET, FIRST + polled, (serial) => `${sim.url}/${serial}`, "1h").map((charger, index) => ({
        ...charger,
        loadpoint: polled + index + 1,
      })),
    ],
  });
  const subscriber = await Subscriber.connect(
    broker.url,
    [`${root}/loadpoints/+/online`, `${root}/loadpoints/+/maxCurrent/result`],
    true,
  );
  const client = await mqtt.connectAsync(broker.url, { clean: true });
  try {
    await subscriber.waitFor(
      () => [...subscriber.latest.values()].filter((value) => value === "true").length >= polled + QUIET,
      120_000,
      "every charger online",
    );
    await sleep(3000);
    (client.stream as { setNoDelay?: (noDelay: boolean) => void }).setNoDelay?.(true);
    const all = Array.from({ length: polled }, (_, index) => index + 1);
    const quiet = Array.from({ length: QUIET }, (_, index) => polled + index + 1);
    const runs: Latency[] = [];
    for (const plan of plans(all, quiet)) {
      runs.push(await runPlan(plan, root, client, sim, subscriber));
      await sleep(2500);
    }
    const cli = withSpotCheck ? await spotCheck(broker, root, sim) : [];
    return { runs, cli };
  } finally {
    await client.endAsync();
    await subscriber.close();
    await daemon.stop();
    await sim.stop();
  }
}

export async function latencyRuns(
  broker: BenchBroker,
  noDelayBroker: BenchBroker | undefined,
  loads: number[],
): Promise<LatencyResults> {
  log("  idle: 150 chargers polled once an hour");
  const idle = await scenario(
    broker,
    "benchidle",
    0,
    (all) => [{ label: "idle", load: 0, polled: false, targets: all, writes: WRITES, spacingMs: 25 }],
    true,
  );
  const runs = [...idle.runs];
  if (noDelayBroker) {
    log("  idle again, mosquitto with set_tcp_nodelay true");
    const label = "idle, mosquitto set_tcp_nodelay true";
    const writes = Math.round(WRITES / 2);
    const noDelay = await scenario(noDelayBroker, "benchidlenodelay", 0, (all) => [
      { label, load: 0, polled: false, targets: all, writes, spacingMs: 25 },
    ]);
    runs.push(...noDelay.runs);
  }
  for (const load of loads) {
    log(`  under load: ${load} chargers polled every second (+${QUIET} polled hourly)`);
    const loaded = await scenario(broker, `benchload${load}`, load, (all, quiet) => [
      {
        label: `N=${load} load, writes to polled chargers`,
        load,
        polled: true,
        targets: all,
        writes: WRITES,
        spacingMs: 40,
      },
      {
        label: `N=${load} load, writes to chargers not polled`,
        load,
        polled: false,
        targets: quiet,
        writes: Math.round(WRITES / 5),
        spacingMs: 50,
      },
    ]);
    runs.push(...loaded.runs);
  }
  return { runs, cli: idle.cli };
}
