import { describe, expect, it } from "vitest";
import { loadpointEntities } from "../../src/goe/entities.js";
import {
  buildDiscovery,
  type DiscoveryConfig,
  type DiscoveryOptions,
  type Json,
  type JsonObject,
} from "../../src/homeassistant/config.js";
import { esc, escId, isOwnTopic, slug } from "../../src/homeassistant/ids.js";
import type { DeviceDescription } from "../../src/source.js";

// What Home Assistant's MQTT discovery accepts, written down from its documentation
// (home-assistant.io/integrations/<component>.mqtt and /integrations/mqtt#mqtt-discovery) and,
// for the device class tables, from homeassistant/components/sensor/const.py
// (DEVICE_CLASS_UNITS, DEVICE_CLASS_STATE_CLASSES).
//
// Every component (MQTT entity common schema), all optional:
//   name, unique_id (required for `device` to take effect), default_entity_id
//   (`<component>.<object>`, replaces the deprecated object_id: HA 2025.10, removed 2026.4),
//   device {identifiers | connections (one required), name, manufacturer, model, model_id,
//   serial_number, sw_version, hw_version, configuration_url (http/https only), suggested_area,
//   via_device}, origin {name (required), sw_version, support_url}, availability
//   [{topic (required), payload_available, payload_not_available, value_template}],
//   availability_mode (all | any | latest), availability_topic (not with availability),
//   entity_category (config | diagnostic), enabled_by_default, encoding, icon, qos,
//   json_attributes_topic, json_attributes_template.
// sensor:         state_topic REQUIRED; device_class, state_class, unit_of_measurement,
//                 value_template, expire_after, force_update, suggested_display_precision,
//                 options (enum), last_reset_value_template. entity_category may NOT be config.
// binary_sensor:  state_topic REQUIRED; payload_on (default "ON"), payload_off (default "OFF"),
//                 device_class, value_template, expire_after, force_update, off_delay.
// number:         command_topic REQUIRED; state_topic, min (default 1), max (default 100),
//                 step (default 1, at least 0.001), mode (auto | box | slider),
//                 unit_of_measurement, device_class, command_template, value_template,
//                 payload_reset (default "None"), optimistic, retain.
// select:         command_topic REQUIRED, options REQUIRED (non-empty list); state_topic,
//                 command_template, value_template, optimistic, retain.
// switch:         command_topic (required to switch); state_topic, payload_on/payload_off
//                 (default "ON"/"OFF": what is sent), state_on/state_off (what is read,
//                 default payload_on/payload_off), device_class (outlet | switch),
//                 value_template, command_template, optimistic, retain.
// text:           command_topic REQUIRED; state_topic, min (default 0), max (default 255),
//                 mode (text | password), pattern, value_template, command_template, retain.
// button:         command_topic REQUIRED; payload_press (default "PRESS"), device_class,
//                 command_template, retain. It has no state_topic.
// device_tracker: state_topic optional when json_attributes_topic carries latitude/longitude
//                 (then HA places the tracker by GPS); source_type (gps | router | bluetooth |
//                 bluetooth_le), payload_home, payload_not_home, payload_reset, value_template.

const COMMON = [
  "name",
  "unique_id",
  "default_entity_id",
  "device",
  "origin",
  "availability",
  "availability_mode",
  "entity_category",
  "enabled_by_default",
  "encoding",
  "icon",
  "qos",
  "json_attributes_topic",
  "json_attributes_template",
];

const SCHEMA: Record<string, { required: string[]; allowed: string[] }> = {
  sensor: {
    required: ["state_topic"],
    allowed: [
      "state_topic",
      "device_class",
      "state_class",
      "unit_of_measurement",
      "value_template",
      "expire_after",
      "force_update",
      "suggested_display_precision",
      "options",
      "last_reset_value_template",
    ],
  },
  binary_sensor: {
    required: ["state_topic"],
    allowed: [
      "state_topic",
      "payload_on",
      "payload_off",
      "device_class",
      "value_template",
      "expire_after",
      "force_update",
      "off_delay",
    ],
  },
  number: {
    required: ["command_topic"],
    allowed: [
      "command_topic",
      "state_topic",
      "min",
      "max",
      "step",
      "mode",
      "unit_of_measurement",
      "device_class",
      "command_template",
      "value_template",
      "payload_reset",
      "optimistic",
      "retain",
    ],
  },
  select: {
    required: ["command_topic", "options"],
    allowed: [
      "command_topic",
      "options",
      "state_topic",
      "command_template",
      "value_template",
      "optimistic",
      "retain",
    ],
  },
  switch: {
    required: ["command_topic"],
    allowed: [
      "command_topic",
      "state_topic",
      "payload_on",
      "payload_off",
      "state_on",
      "state_off",
      "device_class",
      "value_template",
      "command_template",
      "optimistic",
      "retain",
    ],
  },
  text: {
    required: ["command_topic"],
    allowed: [
      "command_topic",
      "state_topic",
      "min",
      "max",
      "mode",
      "pattern",
      "value_template",
      "command_template",
      "retain",
    ],
  },
  button: {
    required: ["command_topic"],
    allowed: ["command_topic", "payload_press", "device_class", "command_template", "retain"],
  },
  device_tracker: {
    required: [],
    allowed: [
      "state_topic",
      "source_type",
      "payload_home",
      "payload_not_home",
      "payload_reset",
      "value_template",
    ],
  },
};

// Device class → the units HA accepts (those the fixtures use, and more) and the state classes it
// allows; timestamp takes no unit and no state class.
const SENSOR_CLASSES: Record<string, { units: string[]; stateClasses: string[] }> = {
  power: { units: ["W", "kW", "MW"], stateClasses: ["measurement"] },
  energy: { units: ["Wh", "kWh", "MWh"], stateClasses: ["total", "total_increasing"] },
  current: { units: ["A", "mA"], stateClasses: ["measurement"] },
  voltage: { units: ["V", "mV", "kV"], stateClasses: ["measurement"] },
  battery: { units: ["%"], stateClasses: ["measurement"] },
  distance: { units: ["km", "m", "mi"], stateClasses: ["measurement", "total", "total_increasing"] },
  temperature: { units: ["°C", "°F", "K"], stateClasses: ["measurement"] },
  pressure: { units: ["kPa", "bar", "psi", "hPa", "mbar"], stateClasses: ["measurement"] },
  duration: { units: ["s", "min", "h", "d"], stateClasses: ["measurement", "total", "total_increasing"] },
  water: { units: ["L", "m³", "gal"], stateClasses: ["total", "total_increasing"] },
  timestamp: { units: [], stateClasses: [] },
};

const OPTIONS: DiscoveryOptions = { prefix: "homeassistant", root: "ev2mqtt", version: "1.2.3" };

const loadpoint: DeviceDescription = {
  id: "goe-000001",
  topic: "loadpoints/1",
  kind: "loadpoint",
  name: "Garage",
  manufacturer: "go-e",
  model: "go-eCharger HOMEfix 11kW",
  serial: "000001",
  swVersion: "56.2",
  configurationUrl: "http://192.168.1.50",
  entities: loadpointEntities(32),
};

const site: DeviceDescription = {
  id: "climkit-5f2b0c",
  topic: "site",
  kind: "site",
  name: "Sonnenhof",
  manufacturer: "Climkit",
  model: "Climkit site",
  entities: [
    {
      key: "pvPower",
      name: "PV power",
      kind: "sensor",
      quantity: "power",
      unit: "W",
      stateClass: "measurement",
    },
    {
      key: "gridPower",
      name: "Grid power",
      kind: "sensor",
      quantity: "power",
      unit: "W",
      stateClass: "measurement",
    },
    {
      key: "pvEnergyToday",
      name: "PV energy today",
      kind: "sensor",
      quantity: "energy",
      unit: "kWh",
      stateClass: "total_increasing",
    },
    { key: "pvEnergy", name: "PV energy (15 min)", kind: "sensor", quantity: "energy", unit: "kWh" },
    { key: "intervalEnd", name: "Interval end", kind: "sensor", quantity: "timestamp", diagnostic: true },
    { key: "meters/ab12/energy", name: "Water (15 min)", kind: "sensor", quantity: "water", unit: "m3" },
    {
      key: "sensors/x-1/value",
      name: "Cellar temperature",
      kind: "sensor",
      quantity: "temperature",
      unit: "°C",
      stateClass: "measurement",
    },
    // combinations HA would refuse: the builder must repair them
    {
      key: "odd/powerInKwh",
      name: "Odd power",
      kind: "sensor",
      quantity: "power",
      unit: "kWh",
      stateClass: "measurement",
    },
    {
      key: "odd/energyMeasured",
      name: "Odd energy",
      kind: "sensor",
      quantity: "energy",
      unit: "kWh",
      stateClass: "measurement",
    },
    { key: "odd/noUnit", name: "Odd current", kind: "sensor", quantity: "current" },
  ],
};

const vehicle: DeviceDescription = {
  id: "ovms-DEMO",
  topic: "vehicles/car",
  kind: "vehicle",
  name: "Car",
  manufacturer: "OVMS",
  model: "Renault Zoe",
  swVersion: "3.3.004",
  entities: [
    {
      key: "soc",
      name: "State of charge",
      kind: "sensor",
      quantity: "battery",
      unit: "%",
      stateClass: "measurement",
    },
    {
      key: "range",
      name: "Range",
      kind: "sensor",
      quantity: "distance",
      unit: "km",
      stateClass: "measurement",
    },
    {
      key: "odometer",
      name: "Odometer",
      kind: "sensor",
      quantity: "distance",
      unit: "km",
      stateClass: "total_increasing",
    },
    { key: "charging", name: "Charging", kind: "switch", icon: "mdi:ev-station" },
    { key: "pluggedIn", name: "Plugged in", kind: "binary" },
    {
      key: "chargeMode",
      name: "Charge mode",
      kind: "select",
      options: ["standard", "storage", "range", "performance"],
    },
    {
      key: "chargeCurrent",
      name: "Charge current",
      kind: "number",
      quantity: "current",
      unit: "A",
      min: 1,
      max: 32,
      step: 1,
    },
    {
      key: "messageAge",
      name: "Message age",
      kind: "sensor",
      quantity: "duration",
      unit: "s",
      stateClass: "measurement",
      diagnostic: true,
    },
    {
      key: "tpms/fl/pressure",
      name: "Tyre pressure FL",
      kind: "sensor",
      quantity: "pressure",
      unit: "kPa",
      stateClass: "measurement",
    },
    { key: "location", name: "Location", kind: "tracker" },
    { key: "wakeup", name: "Wake up", kind: "button", icon: "mdi:sleep-off" },
  ],
};

const DEVICES = [loadpoint, site, vehicle];

function plan(options = OPTIONS, devices = DEVICES): DiscoveryConfig[] {
  return buildDiscovery(options, devices).configs;
}

function obj(value: Json | undefined): JsonObject {
  expect(value).toBeTypeOf("object");
  expect(Array.isArray(value)).toBe(false);
  return value as JsonObject;
}

function configFor(configs: DiscoveryConfig[], stateOrCommandTopic: string): DiscoveryConfig {
  const found = configs.find(
    (config) =>
      config.payload.state_topic === stateOrCommandTopic ||
      config.payload.command_topic === stateOrCommandTopic ||
      config.payload.json_attributes_topic === stateOrCommandTopic,
  );
  if (!found) throw new Error(`no config for ${stateOrCommandTopic}`);
  return found;
}

describe("Home Assistant discovery configs", () => {
  const configs = plan();

  it("builds one config per entity, plus the bridge's own", () => {
    const entities = DEVICES.reduce((sum, device) => sum + device.entities.length, 0);
    // the bridge's own: connection, last poll, restart button, log level select
    expect(configs.length).toBe(entities + 4);
    expect(buildDiscovery(OPTIONS, DEVICES).problems).toEqual([]);
  });

  it("gives every config the fields its component requires, and only fields HA knows", () => {
    for (const config of configs) {
      const schema = SCHEMA[config.component];
      expect(schema, config.component).toBeDefined();
      for (const field of schema!.required)
        expect(config.payload, `${config.topic} ${field}`).toHaveProperty(field);
      for (const field of Object.keys(config.payload)) {
        expect([...COMMON, ...schema!.allowed], `${config.topic}: ${field}`).toContain(field);
      }
      expect(config.payload).not.toHaveProperty("object_id");
      expect(config.topic).toMatch(
        new RegExp(`^homeassistant/${config.component}/[a-zA-Z0-9_-]+/[a-zA-Z0-9_-]+/config$`),
      );
      expect(JSON.parse(JSON.stringify(config.payload))).toEqual(config.payload);
    }
  });

  it("has unique ids and topics, with default_entity_id in the component's domain", () => {
    const ids = configs.map((config) => config.uniqueId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(configs.map((config) => config.topic)).size).toBe(configs.length);
    const entityIds = configs.map((config) => config.payload.default_entity_id);
    expect(new Set(entityIds).size).toBe(entityIds.length);
    for (const config of configs) {
      expect(config.payload.unique_id).toBe(config.uniqueId);
      // HA's entity id rule: lower-case slug, no leading/trailing or double underscores
      expect(config.payload.default_entity_id).toMatch(
        new RegExp(`^${config.component}\\.(?!_)(?!.*__)[a-z0-9_]+(?<!_)$`),
      );
    }
  });

  it("names entities without the device name, and puts them on the right HA device", () => {
    const power = configFor(configs, "ev2mqtt/loadpoints/1/chargePower");
    expect(power.payload.name).toBe("Charge power");
    expect(power.payload.origin).toEqual({ name: "ev2mqtt", sw_version: "1.2.3" });
    expect(power.payload.device).toEqual({
      identifiers: ["ev2mqtt_goe-000001"],
      name: "Garage",
      manufacturer: "go-e",
      model: "go-eCharger HOMEfix 11kW",
      serial_number: "000001",
      sw_version: "56.2",
      configuration_url: "http://192.168.1.50",
      via_device: "ev2mqtt_bridge_ev2mqtt",
    });
    for (const config of configs) {
      const device = obj(config.payload.device);
      expect(device.identifiers).toBeInstanceOf(Array);
      if (device.via_device !== undefined) expect(device.via_device).toBe("ev2mqtt_bridge_ev2mqtt");
      expect(String(config.payload.name)).not.toContain(String(device.name));
    }
  });

  it("makes every device entity depend on the bridge's status and the device's online flag", () => {
    for (const device of DEVICES) {
      for (const entity of device.entities) {
        const config = configs.find(
          (c) => c.uniqueId.endsWith(`__${esc(entity.key)}`) && c.uniqueId.includes(escId(device.id)),
        );
        expect(config, `${device.id} ${entity.key}`).toBeDefined();
        expect(config!.payload.availability_mode).toBe("all");
        expect(config!.payload.availability).toEqual([
          { topic: "ev2mqtt/status", payload_available: "online", payload_not_available: "offline" },
          {
            topic: `ev2mqtt/${device.topic}/online`,
            payload_available: "true",
            payload_not_available: "false",
          },
        ]);
      }
    }
  });

  it("reads the exact value topics and writes to <value topic>/set", () => {
    for (const device of DEVICES) {
      for (const entity of device.entities) {
        const valueTopic = `ev2mqtt/${device.topic}/${entity.key}`;
        const config = configFor(configs, entity.kind === "button" ? `${valueTopic}/set` : valueTopic);
        const writable = ["number", "select", "switch", "text", "button"].includes(entity.kind);
        if (writable) expect(config.payload.command_topic).toBe(`${valueTopic}/set`);
        else expect(config.payload).not.toHaveProperty("command_topic");
        if (entity.kind === "button" || entity.kind === "tracker")
          expect(config.payload).not.toHaveProperty("state_topic");
        else expect(config.payload.state_topic).toBe(valueTopic);
      }
    }
  });

  it("pairs device_class, unit and state_class the way HA accepts", () => {
    for (const config of configs.filter((c) => c.component === "sensor")) {
      const {
        device_class: deviceClass,
        unit_of_measurement: unit,
        state_class: stateClass,
      } = config.payload;
      if (deviceClass === undefined) continue;
      const rule = SENSOR_CLASSES[String(deviceClass)];
      expect(rule, `${config.topic}: ${deviceClass}`).toBeDefined();
      if (deviceClass === "timestamp") {
        expect(unit).toBeUndefined();
        expect(stateClass).toBeUndefined();
        expect(String(config.payload.value_template)).toContain("as_datetime");
        continue;
      }
      expect(rule!.units, `${config.topic}: ${unit}`).toContain(unit);
      if (stateClass !== undefined) expect(rule!.stateClasses, `${config.topic}`).toContain(stateClass);
    }
    const byTopic = (topic: string) => configFor(configs, topic).payload;
    expect(byTopic("ev2mqtt/loadpoints/1/chargePower")).toMatchObject({
      device_class: "power",
      unit_of_measurement: "W",
      state_class: "measurement",
    });
    expect(byTopic("ev2mqtt/loadpoints/1/chargeTotalImport")).toMatchObject({
      device_class: "energy",
      unit_of_measurement: "kWh",
      state_class: "total_increasing",
    });
    expect(byTopic("ev2mqtt/loadpoints/1/sessionEnergy")).toMatchObject({
      device_class: "energy",
      unit_of_measurement: "Wh",
    });
    expect(byTopic("ev2mqtt/site/meters/ab12/energy")).toMatchObject({
      device_class: "water",
      unit_of_measurement: "m³",
    });
    // repaired: a power in kWh loses its class; an energy can't be a measurement; no unit, no class
    expect(byTopic("ev2mqtt/site/odd/powerInKwh")).not.toHaveProperty("device_class");
    expect(byTopic("ev2mqtt/site/odd/energyMeasured")).toMatchObject({ device_class: "energy" });
    expect(byTopic("ev2mqtt/site/odd/energyMeasured")).not.toHaveProperty("state_class");
    expect(byTopic("ev2mqtt/site/odd/noUnit")).not.toHaveProperty("device_class");
  });

  it("marks diagnostic entities, and never puts a sensor in the config category", () => {
    expect(configFor(configs, "ev2mqtt/loadpoints/1/chargeVoltages/l1").payload.entity_category).toBe(
      "diagnostic",
    );
    expect(configFor(configs, "ev2mqtt/loadpoints/1/chargePower").payload).not.toHaveProperty(
      "entity_category",
    );
    // HA refuses the config category for sensors; the bridge's restart and log level are config
    for (const config of configs.filter((c) => c.component === "sensor" || c.component === "binary_sensor"))
      expect(config.payload.entity_category).not.toBe("config");
  });

  it("reads true/false for binaries and switches, and turns an empty payload into unknown", () => {
    const connected = configFor(configs, "ev2mqtt/loadpoints/1/connected").payload;
    expect(connected).toMatchObject({ payload_on: "true", payload_off: "false" });
    const charging = configFor(configs, "ev2mqtt/vehicles/car/charging").payload;
    expect(charging).toMatchObject({
      payload_on: "true",
      payload_off: "false",
      state_on: "true",
      state_off: "false",
    });
    for (const config of configs) {
      if (config.payload.state_topic === undefined || config.payload.state_topic === "ev2mqtt/status")
        continue;
      // `None` is what HA's MQTT entities read as unknown
      expect(String(config.payload.value_template), config.topic).toMatch(/if value else None/);
    }
  });

  it("configures numbers, selects, buttons and the tracker", () => {
    expect(configFor(configs, "ev2mqtt/loadpoints/1/maxCurrent").payload).toMatchObject({
      min: 6,
      max: 32,
      step: 1,
      mode: "slider",
      unit_of_measurement: "A",
      device_class: "current",
    });
    expect(configFor(configs, "ev2mqtt/loadpoints/1/mode").payload.options).toEqual(["off", "now", "pv"]);
    const wakeup = configFor(configs, "ev2mqtt/vehicles/car/wakeup/set");
    expect(wakeup.component).toBe("button");
    expect(wakeup.payload.payload_press).toBe("PRESS");
    const tracker = configFor(configs, "ev2mqtt/vehicles/car/location");
    expect(tracker.component).toBe("device_tracker");
    expect(tracker.payload).toMatchObject({
      source_type: "gps",
      json_attributes_topic: "ev2mqtt/vehicles/car/location",
    });
  });

  it("announces the bridge device with a connectivity sensor on the last will", () => {
    const status = configFor(configs, "ev2mqtt/status");
    expect(status.component).toBe("binary_sensor");
    expect(status.payload).toMatchObject({
      device_class: "connectivity",
      payload_on: "online",
      payload_off: "offline",
      entity_category: "diagnostic",
    });
    expect(obj(status.payload.device).identifiers).toEqual(["ev2mqtt_bridge_ev2mqtt"]);
    expect(status.payload).not.toHaveProperty("availability");
  });

  it("keeps ids when a device is renamed or moves topic, and changes none of them with the version", () => {
    const renamed = { ...vehicle, name: "Zoe", topic: "vehicles/zoe" };
    const before = plan(OPTIONS, [vehicle]).map((c) => [c.topic, c.uniqueId]);
    const after = plan({ ...OPTIONS, version: "9.9.9" }, [renamed]).map((c) => [c.topic, c.uniqueId]);
    expect(after).toEqual(before);
    // default_entity_id mirrors the topic; HA reads it only when it first creates the entity
    expect(configFor(configs, "ev2mqtt/vehicles/car/soc").payload.default_entity_id).toBe(
      "sensor.ev2mqtt_vehicles_car_soc",
    );
    expect(configFor(configs, "ev2mqtt/loadpoints/1/chargeCurrents/l1").payload.default_entity_id).toBe(
      "sensor.ev2mqtt_loadpoints_1_charge_currents_l1",
    );
    expect(configFor(configs, "ev2mqtt/status").payload.default_entity_id).toBe(
      "binary_sensor.ev2mqtt_bridge_connection",
    );
  });

  it("keeps two bridges with different roots apart", () => {
    const a = plan({ ...OPTIONS, root: "home/ev" });
    const b = plan({ ...OPTIONS, root: "home_ev" });
    const c = plan(OPTIONS);
    for (const [x, y] of [
      [a, b],
      [a, c],
      [b, c],
    ] as const) {
      const ids = new Set(x.map((config) => config.uniqueId));
      expect(y.some((config) => ids.has(config.uniqueId))).toBe(false);
      const topics = new Set(x.map((config) => config.topic));
      expect(y.some((config) => topics.has(config.topic))).toBe(false);
    }
    expect(isOwnTopic("homeassistant", "home/ev", a[0]!.topic)).toBe(true);
    expect(isOwnTopic("homeassistant", "home_ev", a[0]!.topic)).toBe(false);
    expect(isOwnTopic("homeassistant", "ev2mqtt", "homeassistant/sensor/zigbee2mqtt/x/config")).toBe(false);
    expect(isOwnTopic("ha/disc", "ev2mqtt", "ha/disc/sensor/ev2mqtt/x/config")).toBe(true);
  });

  it("encodes ids reversibly and slugs entity ids", () => {
    expect(esc("home/ev")).toBe("home__ev");
    expect(esc("home_ev")).toBe("home_5fev");
    expect(esc("gär")).toBe("g_c3_a4r");
    expect(escId("a/b")).toBe("a_2fb");
    expect(slug("chargeCurrents/l1")).toBe("charge_currents_l1");
    expect(slug("goe-000001")).toBe("goe_000001");
  });

  it("leaves out entities HA would refuse, and duplicates, and says so", () => {
    const broken: DeviceDescription = {
      ...vehicle,
      id: "broken",
      topic: "vehicles/broken",
      entities: [
        { key: "chargeMode", name: "Charge mode", kind: "select", options: [] },
        { key: "x", name: "X", kind: "number", min: 5, max: 5 },
        { key: "soc", name: "SoC", kind: "sensor" },
        { key: "soc", name: "SoC again", kind: "sensor" },
      ],
    };
    const result = buildDiscovery(OPTIONS, [broken]);
    expect(result.configs.length).toBe(4 + 1);
    expect(result.problems).toHaveLength(3);
  });
});
