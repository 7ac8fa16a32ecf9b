import type { BenchBroker } from "./broker.js";
import { type ProcFigures, ProcWindow } from "./proc.js";
import { DaemonChild, FloorProcess, SimProcess, Subscriber, sleep } from "./processes.js";
import { chargers, fmt, log, WARMUP_S, windowFor } from "./settings.js";

// N chargers polled every second: the daemon as a user runs it (default node flags, Home
// Assistant discovery on), then the floor loop against the same simulator.

interface Side {
  polls: number;
  pollsPerSecond: number;
  proc: ProcFigures;
  simCpuPercent: number;
  brokerCpuPercent: number | undefined;
}

export interface ScaleResult {
  count: number;
  /** Home Assistant discovery on (as by default). */
  discovery: boolean;
  /** Highest RSS from the spawn to the window (the start-up burst), MB. */
  startupRssMaxMb: number;
  /** Spawn → every charger online. */
  startupSeconds: number;
  /** Spawn → the first-poll and discovery burst is over (no message but `updated` for 3 s). */
  settledSeconds: number;
  bridge: Side & {
    messagesPerSecond: number;
    /** Messages besides the periodic `updated` and `bridge/health`. */
    extraMessages: number;
    extraTopics: string[];
    /** `bridge/health` messages in the window (once a minute). */
    healthMessages: number;
  };
  floor: Side | undefined;
}

export const FIRST_SERIAL = 100_000;

/** CPU and memory of one process (and of the simulator and broker beside it) over a window. */
async function measure(
  pid: number,
  sim: SimProcess,
  broker: BenchBroker,
  seconds: number,
): Promise<{ side: Side; since: number; until: number }> {
  const windows = { own: new ProcWindow(pid), sim: new ProcWindow(sim.pid) };
  const brokerWindow = broker.pid ? new ProcWindow(broker.pid) : undefined;
  const since = Date.now();
  await sleep(seconds * 1000);
  const until = Date.now();
  const proc = windows.own.end();
  const simFigures = windows.sim.end();
  const brokerFigures = brokerWindow?.end();
  const { status } = await sim.count(since, until);
  return {
    since,
    until,
    side: {
      polls: status,
      pollsPerSecond: status / ((until - since) / 1000),
      proc,
      simCpuPercent: simFigures.cpuPercent,
      brokerCpuPercent: brokerFigures?.cpuPercent,
    },
  };
}

/** The daemon polling `count` chargers of a simulator, until every one is online and the start-up burst is over. */
export async function startPolling(
  count: number,
  sim: SimProcess,
  broker: BenchBroker,
  root: string,
  options: { nodeArgs?: string[]; env?: Record<string, string>; discovery?: boolean } = {},
): Promise<{
  daemon: DaemonChild;
  subscriber: Subscriber;
  startupSeconds: number;
  settledSeconds: number;
  startup: ProcWindow;
}> {
  // the bridge's own Home Assistant configs too (its node id is the root): announcing 30 000 of
  // them takes seconds, and the start-up is not over before they are out
  const subscriber = await Subscriber.connect(broker.url, [`${root}/#`, `homeassistant/+/${root}/+/config`]);
  // a subscriber of its own for `online`: in the start-up burst (tens of thousands of messages)
  // mosquitto drops QoS 1 messages to a subscriber that falls more than 1000 behind
  const onlineWatch = await Subscriber.connect(broker.url, `${root}/loadpoints/+/online`);
  const daemon = DaemonChild.start(
    {
      mqtt: { url: broker.url, topic: root, clientId: `ev2mqtt-${root}` },
      log: { level: "warn" },
      ...(options.discovery === false ? { homeassistant: { discovery: false } } : {}),
      goe: chargers(count, FIRST_SERIAL, (serial) => `${sim.url}/${serial}`, "1s"),
    },
    options.nodeArgs,
    options.env,
  );
  const startup = new ProcWindow(daemon.pid);
  const online = () => {
    let n = 0;
    for (let loadpoint = 1; loadpoint <= count; loadpoint++) {
      if (onlineWatch.latest.get(`${root}/loadpoints/${loadpoint}/online`) === "true") n += 1;
    }
    return n;
  };
  try {
    await onlineWatch.waitFor(
      () => online() === count,
      180_000,
      () => `${count} chargers online (${online()} are)`,
    );
  } catch (error) {
    startup.end();
    log(daemon.output.join(""));
    await daemon.stop();
    throw error;
  } finally {
    await onlineWatch.close();
  }
  const startupSeconds = (performance.now() - daemon.spawnedAt) / 1000;
  // the first poll of every charger publishes all its values (and discovery its entities):
  // measure once that burst is over, when only `updated` still comes
  const quiet = () => {
    const last = subscriber.received.findLast((message) => message.topic !== `${root}/updated`);
    return last === undefined || performance.now() - last.at > 3000;
  };
  await subscriber.waitFor(quiet, 90_000, "the start-up burst to end").catch(() => undefined);
  const settledSeconds = (performance.now() - daemon.spawnedAt) / 1000;
  return { daemon, subscriber, startupSeconds, settledSeconds, startup };
}

/** The bridge at `count` chargers, then (unless `floor` is false) the floor loop at the same count. */
export async function scaleRun(
  count: number,
  broker: BenchBroker,
  options: { discovery?: boolean; floor?: boolean } = {},
): Promise<ScaleResult> {
  const discovery = options.discovery !== false;
  const root = `bench${count}${discovery ? "" : "nd"}`;
  const sim = await SimProcess.start(count, FIRST_SERIAL);
  try {
    const polling = await startPolling(count, sim, broker, root, { discovery });
    const { daemon, subscriber, startupSeconds, settledSeconds } = polling;
    await sleep(WARMUP_S * 1000);
    const startupRssMaxMb = polling.startup.end().rssMaxMb;
    const { side, since, until } = await measure(daemon.pid, sim, broker, windowFor(count));
    const messages = subscriber.between(since, until);
    // the bridge's own clock-driven messages: `updated` once a second, the health once a minute
    const periodic = new Set([`${root}/updated`, `${root}/bridge/health`]);
    const extra = messages.filter((message) => !periodic.has(message.topic));
    const healthMessages = messages.filter((message) => message.topic === `${root}/bridge/health`).length;
    const extraTopics = [...new Set(extra.map((message) => message.topic.replace(/\/\d+\//, "/<n>/")))].slice(
      0,
      8,
    );
    await daemon.stop();
    await subscriber.close();
    log(
      `  bridge N=${count}${discovery ? "" : " (discovery off)"}: ${fmt(side.pollsPerSecond)} polls/s, CPU ${fmt(side.proc.cpuPercent)} %, RSS ${fmt(side.proc.rssMaxMb, 0)} MB (mean ${fmt(side.proc.rssAvgMb, 0)}; start-up peak ${fmt(startupRssMaxMb, 0)})`,
    );
    const bridge = {
      ...side,
      messagesPerSecond: messages.length / ((until - since) / 1000),
      extraMessages: extra.length,
      extraTopics,
      healthMessages,
    };
    const result = { count, discovery, startupRssMaxMb, startupSeconds, settledSeconds, bridge };
    if (options.floor === false) return { ...result, floor: undefined };

    const floorProcess = await FloorProcess.start(count, sim.url, broker.url, FIRST_SERIAL);
    await sleep(3000);
    const floor = (await measure(floorProcess.pid, sim, broker, windowFor(count))).side;
    await floorProcess.stop();
    log(
      `  floor  N=${count}: ${fmt(floor.pollsPerSecond)} polls/s, CPU ${fmt(floor.proc.cpuPercent)} %, RSS ${fmt(floor.proc.rssMaxMb, 0)} MB`,
    );
    return { ...result, floor };
  } finally {
    await sim.stop();
  }
}
