import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DaemonProcess } from "../helpers/daemon-process.js";
import { type Config, EXPECTED_BINARY_CLASSES, problems } from "../helpers/ha-rules.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { MqttWatch } from "../helpers/mqtt-watch.js";
import { waitFor } from "../helpers/recording-sink.js";

// Every discovery config the demo announces (`ev2mqtt --demo`, the built CLI, on a real
// mosquitto), and the value on each one's state topic, through the rules Home Assistant's own
// code applies (test/helpers/ha-rules.ts): what HA would refuse, log as an error, or book wrong.

const PREFIX = "homeassistant";
// the demo runs on its own root, so it never mixes with a real bridge on the same broker
const ROOT = "ev2mqtt-demo";
const DEVICE_TOPICS = ["loadpoints/1", "loadpoints/2", "site", "vehicles/car"];

let broker: Mosquitto;
let demo: DaemonProcess;
let watch: MqttWatch;
const configs = new Map<string, Config>();

beforeAll(async () => {
  broker = await Mosquitto.start();
  watch = await MqttWatch.connect(broker.url, [`${PREFIX}/#`, `${ROOT}/#`]);
  demo = DaemonProcess.start({ mqtt: { url: broker.url }, log: { level: "warn" } }, {}, ["--demo"]);
  // every device is announced and online, and its configs are on the broker
  await waitFor(
    () => {
      for (const [topic, payload] of watch.latest) {
        if (topic.startsWith(`${PREFIX}/`) && topic.endsWith("/config") && payload)
          configs.set(topic, JSON.parse(payload) as Config);
      }
      const stateTopics = [...configs.values()].map((config) => String(config.state_topic ?? ""));
      return DEVICE_TOPICS.every(
        (device) =>
          watch.value(`${ROOT}/${device}/online`) === "true" &&
          stateTopics.some((topic) => topic.startsWith(`${ROOT}/${device}/`)),
      );
    },
    40_000,
    `every demo device online and announced (output: ${demo?.text.slice(-2000)})`,
  );
  // the car's first report and the charger's first poll are in; values are retained anyway
  await watch.waitForValue(`${ROOT}/vehicles/car/soc`, (soc) => soc !== "");
  await watch.waitForValue(`${ROOT}/loadpoints/1/chargePower`, (power) => power !== "");
}, 60_000);

afterAll(async () => {
  await demo?.stop();
  await watch?.close();
  await broker?.stop();
});

const stateOf = (config: Config): string | undefined => {
  const topic = config.state_topic ?? config.json_attributes_topic;
  return typeof topic === "string" ? watch.value(topic) : undefined;
};

const byKey = (device: string, key: string): [string, Config] | undefined =>
  [...configs].find(
    ([, config]) =>
      config.state_topic === `${ROOT}/${device}/${key}` ||
      config.json_attributes_topic === `${ROOT}/${device}/${key}`,
  );

describe("the demo's discovery, as Home Assistant's code reads it", () => {
  it("announces plenty, and HA has no complaint about any config or any published value", () => {
    expect(configs.size).toBeGreaterThan(80);
    const found = [...configs].flatMap(([topic, config]) => problems(topic, config, stateOf(config)));
    expect(found).toEqual([]);
  });

  it("the rules do catch what issue 12 found (they are not vacuous)", () => {
    const [topic, power] = byKey("loadpoints/1", "sessionEnergy") ?? ["", {}];
    expect(problems(topic, { ...power, state_class: "total" }, "120")).toEqual([
      expect.stringContaining("negative"),
    ]);
    const [numberTopic, current] = byKey("loadpoints/1", "maxCurrent") ?? ["", {}];
    expect(problems(numberTopic, current, "33")).toEqual([expect.stringContaining("outside 6..")]);
    const [selectTopic, mode] = byKey("vehicles/car", "chargeMode") ?? ["", {}];
    expect(problems(selectTopic, mode, "eco")).toEqual([expect.stringContaining("not among the options")]);
    expect(problems(selectTopic.replace("/select/", "/fan/"), mode, "")).toEqual([
      expect.stringContaining("component fan"),
      expect.stringContaining("default_entity_id"),
    ]);
  });

  it("the car's lock is an MQTT lock, never a switch that 'all switches off' would unlock (item 3)", () => {
    const [topic, lock] = byKey("vehicles/car", "locked") ?? [""];
    expect(topic.split("/")[1]).toBe("lock");
    expect(lock).toMatchObject({ command_topic: `${ROOT}/vehicles/car/locked/set`, payload_unlock: "false" });
    expect([...configs.keys()].filter((key) => key.includes("__locked"))).toEqual([topic]);
  });

  it("session energy counts up per session; Last poll is off by default (items 1, 2)", () => {
    expect(byKey("loadpoints/1", "sessionEnergy")?.[1]).toMatchObject({
      state_class: "total_increasing",
      device_class: "energy",
    });
    expect(
      byKey("", "updated")?.[1] ?? [...configs.values()].find((c) => c.state_topic === `${ROOT}/updated`),
    ).toMatchObject({ enabled_by_default: false, device_class: "timestamp" });
  });

  it("plugs, charging and connectivity carry their binary device classes (item 7)", () => {
    const seen: Record<string, string> = {};
    for (const [topic, config] of configs) {
      const key =
        String(config.state_topic ?? "")
          .split("/")
          .pop() ?? "";
      if (topic.split("/")[1] === "binary_sensor" && key in EXPECTED_BINARY_CLASSES)
        seen[`${String(config.state_topic)}`] = String(config.device_class);
    }
    expect(seen).toEqual({
      [`${ROOT}/loadpoints/1/connected`]: "plug",
      [`${ROOT}/loadpoints/2/connected`]: "plug",
      [`${ROOT}/loadpoints/1/charging`]: "battery_charging",
      [`${ROOT}/loadpoints/2/charging`]: "battery_charging",
      [`${ROOT}/vehicles/car/pluggedIn`]: "plug",
      [`${ROOT}/vehicles/car/moduleConnected`]: "connectivity",
    });
  });

  it("the phases select offers auto, 1, 3 and shows the charger's 0 as auto (item 7)", () => {
    const [, phases] = byKey("loadpoints/1", "phasesConfigured") ?? ["", {}];
    expect(phases.options).toEqual(["auto", "1", "3"]);
    expect(watch.value(`${ROOT}/loadpoints/1/phasesConfigured`)).toMatch(/^[013]$/);
  });

  it("names the support URL when package.json has one (item 7)", () => {
    const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { homepage?: string };
    const origin = [...configs.values()][0]?.origin as { support_url?: string };
    expect(origin.support_url).toBe(pkg.homepage);
  });
});
