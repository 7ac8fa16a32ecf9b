import { createServer, type Server, type Socket } from "node:net";
import { Aedes } from "aedes";
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BridgeInfo } from "../../src/bridge-info.js";
import { parseConfig } from "../../src/config/load.js";
import { Daemon, defaultSources } from "../../src/daemon.js";
import { GoeSimulator } from "../../src/goe/simulator/server.js";
import { HomeAssistantDiscovery } from "../../src/homeassistant/discovery.js";
import { silentLogger } from "../../src/util/log.js";
import { MqttWatch } from "../helpers/mqtt-watch.js";
import { waitFor } from "../helpers/recording-sink.js";

// The bridge as Home Assistant sees it, over real sockets: an in-process aedes broker (it
// outlives the daemons, so retained configs survive a bridge restart as they do on a real
// broker), the go-e simulator, and the daemon in-process with its discovery extension on short
// timings. Everything HA would do is done with a plain MQTT client: read the retained configs,
// follow their state topics, publish to their command topics, send the `online` birth.

const ROOT = "ev2mqtt";
const PREFIX = "homeassistant";
const TOKEN = "t0ken-Zq9xWv";
const CHARGERS = ["000001", "000002"];

interface HaConfig {
  unique_id: string;
  state_topic?: string;
  command_topic?: string;
  options?: string[];
  min?: number;
  max?: number;
  payload_on?: string;
  payload_press?: string;
  pattern?: string;
  origin?: { name?: string };
}

let server: Server;
const sockets = new Set<Socket>();
let brokerClose: () => Promise<void>;
let url: string;
let sim: GoeSimulator;
let daemon: Daemon | undefined;
let watch: MqttWatch;

function daemonConfig(serials: string[], discovery = true) {
  return parseConfig({
    mqtt: { url, topic: ROOT, protocolVersion: 4, clientId: "ev2mqtt-ha-e2e" },
    log: { level: "silent" },
    homeassistant: { discovery, prefix: PREFIX },
    goe: serials.map((serial, index) => ({
      serial,
      token: TOKEN,
      loadpoint: index + 1,
      interval: "1s",
      url: sim.chargerUrl(serial),
    })),
  });
}

async function startDaemon(serials: string[], discovery = true): Promise<Daemon> {
  const started = new Daemon(daemonConfig(serials, discovery), silentLogger(), defaultSources, (context) => [
    new BridgeInfo(context),
    new HomeAssistantDiscovery(context, { scanMs: 600, restartDelayMs: 300, debounceMs: 50 }),
  ]);
  await started.start();
  return started;
}

/** What a client that subscribes now gets as retained: topic → payload (empty ones are gone). */
async function retained(filter: string, settleMs = 700): Promise<Map<string, string>> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, clean: true });
  const found = new Map<string, string>();
  client.on("message", (topic, payload, packet) => {
    if (packet.retain && payload.length > 0) found.set(topic, payload.toString());
  });
  await client.subscribeAsync(filter, { qos: 1 });
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  await client.endAsync(true);
  return found;
}

async function ownConfigs(): Promise<Map<string, HaConfig>> {
  const all = await retained(`${PREFIX}/+/+/+/config`);
  const own = new Map<string, HaConfig>();
  for (const [topic, payload] of all) {
    if (topic.split("/")[2] !== ROOT) continue;
    const config = JSON.parse(payload) as HaConfig;
    if (config.origin?.name === "ev2mqtt") own.set(topic, config);
  }
  return own;
}

async function publish(topic: string, payload: string, retain = false): Promise<void> {
  await watch.mqtt.publishAsync(topic, payload, { qos: 1, retain });
}

const FOREIGN = `${PREFIX}/sensor/zigbee2mqtt/0x00158d0001_temperature/config`;
const OTHER_BRIDGE = `${PREFIX}/sensor/ev2mqtt-test/goe-000001__chargePower/config`;
const STALE = `${PREFIX}/sensor/${ROOT}/goe-999999__chargePower/config`;
const NOT_OURS_SAME_NODE = `${PREFIX}/sensor/${ROOT}/handmade/config`;

beforeAll(async () => {
  const broker = await Aedes.createBroker();
  server = createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    broker.handle(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  url = `mqtt://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  brokerClose = async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  sim = new GoeSimulator({
    chargers: CHARGERS.map((serial) => ({
      serial,
      token: TOKEN,
      mode: "cloud" as const,
      carConnected: true,
    })),
  });
  await sim.start();
  watch = await MqttWatch.connect(url, [`${ROOT}/#`, `${PREFIX}/#`], 4);
  // what was on the broker before: another integration, another bridge, a config this bridge
  // announced once for a charger that is gone, and a hand-made one under the same node id
  const other = (name: string) =>
    JSON.stringify({ name, state_topic: "x/y", unique_id: name, origin: { name } });
  const ours = (name: string) =>
    JSON.stringify({ name, state_topic: `${ROOT}/x`, unique_id: name, origin: { name: "ev2mqtt" } });
  await publish(FOREIGN, other("zigbee2mqtt"), true);
  await publish(OTHER_BRIDGE, ours("other bridge"), true);
  await publish(STALE, ours("stale"), true);
  await publish(NOT_OURS_SAME_NODE, other("handmade"), true);
  daemon = await startDaemon(CHARGERS);
});

afterAll(async () => {
  await daemon?.stop();
  await watch?.close();
  await sim?.stop();
  await brokerClose?.();
});

/** Waits until both chargers are announced with all their entities. */
async function announced(serials: string[]): Promise<Map<string, HaConfig>> {
  let configs = new Map<string, HaConfig>();
  await waitFor(
    async () => {
      configs = await ownConfigs();
      const ids = [...configs.values()].map((config) => config.unique_id);
      return serials.every((serial) => ids.some((id) => id.includes(`goe-${serial}__maxCurrent`)));
    },
    20_000,
    "discovery configs of every charger",
  );
  return configs;
}

describe("Home Assistant discovery against a real broker", () => {
  let configs: Map<string, HaConfig>;

  it("announces every entity once, and cleans up only its own stale configs", async () => {
    configs = await announced(CHARGERS);
    const ids = [...configs.values()].map((config) => config.unique_id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const config of configs.values()) expect(config).not.toHaveProperty("object_id");
    const all = await retained(`${PREFIX}/+/+/+/config`);
    expect(all.has(STALE)).toBe(false);
    expect(all.has(FOREIGN)).toBe(true);
    expect(all.has(OTHER_BRIDGE)).toBe(true);
    expect(all.has(NOT_OURS_SAME_NODE)).toBe(true);
  });

  it("points every state_topic at a value the bridge really publishes", async () => {
    const stateTopics = [...configs.values()].flatMap((config) =>
      config.state_topic ? [config.state_topic] : [],
    );
    expect(stateTopics.length).toBeGreaterThan(20);
    // the bridge has published every value at least once (an erased, empty one included) ...
    await waitFor(
      () => stateTopics.every((topic) => watch.value(topic) !== undefined),
      20_000,
      `values on ${stateTopics.filter((topic) => watch.value(topic) === undefined).join(", ")}`,
    );
    // ... and whatever is not empty is retained on the broker, for HA to read after a restart
    const values = await retained(`${ROOT}/#`);
    for (const topic of stateTopics) {
      if (watch.value(topic) !== "") expect(values.has(topic), topic).toBe(true);
    }
    expect(values.get(`${ROOT}/status`)).toBe("online");
  });

  it("answers on /result for every command_topic, as HA would publish to it", async () => {
    // the bridge device's controls (restart, log level) are bridge requests, answered on
    // bridge/response and tested with the bridge requests; pressing restart here would restart
    // the daemon under the other tests
    const commands = [...configs.values()].filter(
      (config) => config.command_topic && !config.command_topic.startsWith(`${ROOT}/bridge/request/`),
    );
    expect(commands.length).toBeGreaterThanOrEqual(6);
    // all at once, as a user clicking around would: writes to one charger are merged upstream
    await Promise.all(
      commands.map(async (config) => {
        const commandTopic = config.command_topic!;
        const stateTopic = config.state_topic;
        // write back the current value (or the lowest allowed): valid, and changes nothing
        const current = stateTopic ? watch.value(stateTopic) : undefined;
        const payload =
          config.payload_press ??
          (config.options ? (current ?? config.options[0]!) : undefined) ??
          (config.min !== undefined ? (current ?? String(config.min)) : undefined) ??
          // a text (the departure plan's time) with no value (erased: empty): "none" is always valid
          (config.pattern !== undefined ? current || "none" : undefined) ??
          config.payload_on ??
          "true";
        const since = Date.now();
        await publish(commandTopic, payload);
        const answer = await watch.waitForMessage(`${commandTopic.slice(0, -"/set".length)}/result`, since);
        expect(JSON.parse(answer.payload), `${commandTopic} ← ${payload}`).toMatchObject({ ok: true });
      }),
    );
  });

  it("changes the charger from HA's number and select, and the state follows", async () => {
    const maxCurrent = [...configs.values()].find(
      (c) => c.command_topic === `${ROOT}/loadpoints/1/maxCurrent/set`,
    );
    const mode = [...configs.values()].find((c) => c.command_topic === `${ROOT}/loadpoints/1/mode/set`);
    expect(maxCurrent?.state_topic).toBe(`${ROOT}/loadpoints/1/maxCurrent`);
    expect(mode?.options).toContain("off");
    await publish(maxCurrent!.command_topic!, "10");
    await waitFor(() => sim.status("000001").amp === 10, 10_000, "amp = 10 on the charger");
    await watch.waitForValue(maxCurrent!.state_topic!, "10");
    await publish(mode!.command_topic!, "off");
    await waitFor(() => sim.status("000001").frc === 1, 10_000, "frc = 1 (off) on the charger");
    await watch.waitForValue(mode!.state_topic!, "off");
  });

  it("publishes the state again when Home Assistant comes back online", async () => {
    const topic = `${ROOT}/loadpoints/1/maxCurrent`;
    await publish(topic, "", true); // as if the broker had lost it
    expect((await retained(topic, 300)).has(topic)).toBe(false);
    const since = Date.now();
    await publish(`${PREFIX}/status`, "online");
    const back = await watch.waitForMessage(topic, since);
    expect(back.payload).toBe("10");
    expect((await retained(topic, 300)).get(topic)).toBe("10");
  });

  it("clears the configs of a charger removed from the configuration at the next start", async () => {
    await daemon!.stop();
    daemon = await startDaemon(["000001"]);
    await waitFor(
      async () => {
        const ids = [...(await ownConfigs()).values()].map((config) => config.unique_id);
        return (
          ids.some((id) => id.includes("goe-000001__")) && !ids.some((id) => id.includes("goe-000002__"))
        );
      },
      20_000,
      "only charger 000001 announced",
    );
    // the removal went out as empty retained messages, which is what HA acts on
    const removedTopic = [...configs.keys()].find((topic) => topic.includes("goe-000002__"))!;
    expect(watch.messages.some((m) => m.topic === removedTopic && m.payload === "")).toBe(true);
    const all = await retained(`${PREFIX}/+/+/+/config`);
    expect(all.has(FOREIGN) && all.has(OTHER_BRIDGE) && all.has(NOT_OURS_SAME_NODE)).toBe(true);
  });

  it("removes everything it announced when discovery is turned off, and nothing else", async () => {
    await daemon!.stop();
    daemon = await startDaemon(["000001"], false);
    await waitFor(async () => (await ownConfigs()).size === 0, 20_000, "no config of this bridge left");
    const all = await retained(`${PREFIX}/+/+/+/config`);
    expect([...all.keys()].sort()).toEqual([FOREIGN, NOT_OURS_SAME_NODE, OTHER_BRIDGE].sort());
    // the bridge itself runs on
    await watch.waitForValue(`${ROOT}/loadpoints/1/maxCurrent`, "10");
  });
});
