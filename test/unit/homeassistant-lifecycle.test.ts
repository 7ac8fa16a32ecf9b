import { EventEmitter } from "node:events";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import type { BridgeContext, BridgeEvents } from "../../src/extension.js";
import { HomeAssistantDiscovery } from "../../src/homeassistant/discovery.js";
import { currentInstance } from "../../src/instance.js";
import type { MqttConnection } from "../../src/mqtt/connection.js";
import { Publisher } from "../../src/mqtt/publisher.js";
import type { Device, DeviceDescription, Entity } from "../../src/source.js";
import { silentLogger } from "../../src/util/log.js";
import { FakeConnection } from "../helpers/fake-connection.js";

// The discovery extension's life, with a recording stand-in for the broker connection and
// fake timers: what it publishes at start, on description changes, when discovery is off,
// and when Home Assistant restarts.

function device(description: DeviceDescription): Device {
  return { describe: () => description };
}

const POWER: Entity = {
  key: "chargePower",
  name: "Charge power",
  kind: "sensor",
  quantity: "power",
  unit: "W",
};
const MODE: Entity = { key: "mode", name: "Mode", kind: "select", options: ["off", "now", "pv"] };

function charger(entities: Entity[], name = "Garage"): DeviceDescription {
  return {
    id: "goe-000001",
    topic: "loadpoints/1",
    kind: "loadpoint",
    name,
    manufacturer: "go-e",
    model: "go-eCharger",
    entities,
  };
}

let connection: FakeConnection;
let events: EventEmitter<BridgeEvents>;
let devices: Device[];
let extension: HomeAssistantDiscovery;
let publisher: Publisher;

function setup(discovery = true): void {
  connection = new FakeConnection();
  events = new EventEmitter<BridgeEvents>();
  devices = [];
  const mqttConnection = connection as unknown as MqttConnection;
  publisher = new Publisher(mqttConnection, "ev2mqtt", silentLogger());
  const context: BridgeContext = {
    config: parseConfig({ homeassistant: { discovery } }),
    logger: silentLogger(),
    version: "1.0.0",
    connection: mqttConnection,
    publisher,
    events,
    devices: () => devices,
    availability: () => new Map(),
    write: async () => ({ ok: false, error: "this test takes no writes" }),
    instance: currentInstance("ev2mqtt-test"),
    end: () => undefined,
  };
  extension = new HomeAssistantDiscovery(context, { scanMs: 1000, restartDelayMs: 5000, debounceMs: 100 });
}

function announce(description: DeviceDescription): void {
  const announced = device(description);
  devices = [announced];
  events.emit("device", announced);
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(async () => {
  await extension.stop();
  vi.useRealTimers();
});

describe("HomeAssistantDiscovery", () => {
  it("waits for the scan, clears its own stale configs only, then announces", async () => {
    setup();
    await extension.start();
    announce(charger([POWER]));
    connection.goOnline();
    const stale = "homeassistant/sensor/ev2mqtt/goe-000009__chargePower/config";
    const foreign = "homeassistant/sensor/zigbee2mqtt/0x1/config";
    const handmade = "homeassistant/sensor/ev2mqtt/handmade/config";
    const ours = JSON.stringify({ origin: { name: "ev2mqtt" } });
    connection.deliver(stale, ours, true);
    connection.deliver(foreign, ours, true);
    connection.deliver(handmade, JSON.stringify({ origin: { name: "someone" } }), true);
    // a live (not retained) message is someone's publish now, not a leftover
    connection.deliver("homeassistant/sensor/ev2mqtt/goe-000008__x/config", ours, false);
    expect(connection.configs()).toEqual([]);
    await vi.advanceTimersByTimeAsync(1000);
    const topics = connection.configs().map((entry) => entry.topic);
    expect(connection.configs().find((entry) => entry.topic === stale)?.payload).toBe("");
    expect(topics).not.toContain(foreign);
    expect(topics).not.toContain(handmade);
    expect(topics).not.toContain("homeassistant/sensor/ev2mqtt/goe-000008__x/config");
    expect(topics).toContain("homeassistant/sensor/ev2mqtt/goe-000001__chargePower/config");
    expect(topics).toContain("homeassistant/binary_sensor/ev2mqtt/bridge__connection/config");
    expect(connection.configs().every((entry) => entry.retain)).toBe(true);
    // the scan is over: the config filter is no longer subscribed
    expect(connection.handlers.map((entry) => entry.filter)).not.toContain("homeassistant/+/+/+/config");
  });

  it("publishes only what a changed description changes, and clears what went away", async () => {
    setup();
    connection.connected = true;
    await extension.start();
    announce(charger([POWER]));
    await vi.advanceTimersByTimeAsync(1000);
    const powerTopic = "homeassistant/sensor/ev2mqtt/goe-000001__chargePower/config";
    const modeTopic = "homeassistant/select/ev2mqtt/goe-000001__mode/config";
    let since = connection.published.length;

    announce(charger([POWER, MODE]));
    await vi.advanceTimersByTimeAsync(100);
    expect(connection.published.slice(since).map((entry) => entry.topic)).toEqual([modeTopic]);

    since = connection.published.length;
    announce(charger([POWER, MODE]));
    await vi.advanceTimersByTimeAsync(100);
    expect(connection.published.slice(since)).toEqual([]);

    since = connection.published.length;
    announce(charger([MODE], "Carport"));
    await vi.advanceTimersByTimeAsync(100);
    const changes = connection.published.slice(since);
    expect(changes.find((entry) => entry.topic === powerTopic)?.payload).toBe("");
    const mode = JSON.parse(changes.find((entry) => entry.topic === modeTopic)!.payload) as {
      unique_id: string;
      device: { name: string };
    };
    expect(mode.device.name).toBe("Carport");
    expect(mode.unique_id).toBe("ev2mqtt.goe-000001__mode");
    expect(changes).toHaveLength(2);
  });

  it("with discovery off removes its own configs and announces nothing", async () => {
    setup(false);
    connection.connected = true;
    await extension.start();
    announce(charger([POWER]));
    const own = "homeassistant/sensor/ev2mqtt/goe-000001__chargePower/config";
    connection.deliver(own, JSON.stringify({ origin: { name: "ev2mqtt" } }), true);
    connection.deliver(
      "homeassistant/sensor/other/x/config",
      JSON.stringify({ origin: { name: "ev2mqtt" } }),
      true,
    );
    await vi.advanceTimersByTimeAsync(1000);
    expect(connection.configs()).toEqual([{ topic: own, payload: "", retain: true }]);
    announce(charger([POWER, MODE]));
    await vi.advanceTimersByTimeAsync(1000);
    expect(connection.configs()).toHaveLength(1);
    expect(connection.handlers.map((entry) => entry.filter)).not.toContain("homeassistant/status");
  });

  it("republishes the whole state a while after Home Assistant's birth message", async () => {
    setup();
    connection.connected = true;
    await extension.start();
    announce(charger([POWER]));
    await vi.advanceTimersByTimeAsync(1000);
    publisher.set("loadpoints/1/chargePower", 7360);
    const count = () =>
      connection.published.filter((entry) => entry.topic === "ev2mqtt/loadpoints/1/chargePower").length;
    expect(count()).toBe(1);
    connection.deliver("homeassistant/status", "online", true); // retained: not a restart
    connection.deliver("homeassistant/status", "offline", false);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(count()).toBe(1);
    connection.deliver("homeassistant/status", "online", false);
    connection.deliver("homeassistant/status", "online", false); // twice: still one republish
    await vi.advanceTimersByTimeAsync(4900);
    expect(count()).toBe(1);
    await vi.advanceTimersByTimeAsync(200);
    expect(count()).toBe(2);
    expect(
      connection.published.some((entry) => entry.topic === "ev2mqtt/status" && entry.payload === "online"),
    ).toBe(true);
    // discovery configs are part of the state, so a broker that lost them gets them back too
    const configs = connection
      .configs()
      .filter((entry) => entry.topic.endsWith("goe-000001__chargePower/config"));
    expect(configs).toHaveLength(2);
  });

  it("clears an entity's old config before announcing it as another component", async () => {
    setup();
    connection.connected = true;
    await extension.start();
    const LEVEL: Entity = { key: "level", name: "Level", kind: "sensor", unit: "%" };
    announce(charger([LEVEL]));
    await vi.advanceTimersByTimeAsync(1000);
    const since = connection.published.length;
    announce(charger([{ ...LEVEL, kind: "number", min: 0, max: 100 }]));
    await vi.advanceTimersByTimeAsync(100);
    // HA would refuse the new config while the old one still holds its unique_id
    expect(connection.published.slice(since).map(({ topic, payload }) => [topic, payload === ""])).toEqual([
      ["homeassistant/sensor/ev2mqtt/goe-000001__level/config", true],
      ["homeassistant/number/ev2mqtt/goe-000001__level/config", false],
    ]);
  });

  it("hands the broker a batch of configs at a time, not all of a large installation at once", async () => {
    setup();
    connection.connected = true;
    connection.holdAcks = true;
    await extension.start();
    const entities: Entity[] = Array.from({ length: 1000 }, (_, index) => ({
      key: `value${index}`,
      name: `Value ${index}`,
      kind: "sensor",
    }));
    announce(charger(entities));
    await vi.advanceTimersByTimeAsync(1000);
    let most = 0;
    while (connection.configs().length < 1004) {
      most = Math.max(most, connection.inFlight());
      expect(connection.inFlight()).toBeGreaterThan(0);
      connection.ack();
      await vi.advanceTimersByTimeAsync(0);
    }
    expect(most).toBeLessThanOrEqual(256);
    // 4 of the bridge's own device, 1000 of the charger, each once
    expect(new Set(connection.configs().map((entry) => entry.topic)).size).toBe(1004);
  });
});
