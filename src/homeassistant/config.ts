import type { DeviceDescription, Entity } from "../source.js";
import { bridgeAvailability, bridgeConfigs, origin } from "./bridge-configs.js";
import { numberClasses, sensorClasses } from "./classes.js";
import { bridgeIdentifier, deviceIdentifier, entityIds } from "./ids.js";
import { ATTRIBUTES_TEMPLATE, PAYLOAD_PRESS, TIMESTAMP_TEMPLATE, VALUE_TEMPLATE } from "./templates.js";

// The pure part of Home Assistant discovery: from what the devices describe to the retained
// config messages, with no MQTT and no knowledge of any upstream. Everything HA needs to know
// comes from DeviceDescription and Entity (src/source.ts).

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export type Component =
  | "sensor"
  | "binary_sensor"
  | "number"
  | "select"
  | "switch"
  | "lock"
  | "text"
  | "button"
  | "device_tracker";

export interface DiscoveryOptions {
  /** HA's discovery prefix: `homeassistant`. */
  prefix: string;
  /** The bridge's root topic: `ev2mqtt`. */
  root: string;
  version: string;
  supportUrl?: string;
}

export interface DiscoveryConfig {
  /** `<prefix>/<component>/<node_id>/<object_id>/config` */
  topic: string;
  component: Component;
  uniqueId: string;
  payload: JsonObject;
}

export interface DiscoveryPlan {
  configs: DiscoveryConfig[];
  /** Entities left out, in words (a duplicate id, say): for a warning in the log. */
  problems: string[];
}

const COMPONENTS: Record<Entity["kind"], Component> = {
  sensor: "sensor",
  binary: "binary_sensor",
  number: "number",
  select: "select",
  switch: "switch",
  lock: "lock",
  text: "text",
  button: "button",
  tracker: "device_tracker",
};

export function componentOf(entity: Entity): Component {
  return COMPONENTS[entity.kind];
}

/** Every config the bridge announces: its own device first, then each device's entities. */
export function buildDiscovery(options: DiscoveryOptions, devices: DeviceDescription[]): DiscoveryPlan {
  const problems: string[] = [];
  const configs = [...discoveryCandidates(options, devices, problems)].map((candidate) => candidate.build());
  return { configs, problems };
}

/** A config that will be announced, with its topic known and its payload not built yet. */
export interface DiscoveryCandidate {
  topic: string;
  build(): DiscoveryConfig;
}

/**
 * The configs of buildDiscovery one at a time, each built only when asked for: 1000 chargers
 * make some 30 000 of them (about 30 MB of JSON), which need never be in memory at once, and
 * their topics alone tell what is no longer announced. What is left out goes to `problems`.
 */
export function* discoveryCandidates(
  options: DiscoveryOptions,
  devices: DeviceDescription[],
  problems: string[],
): Generator<DiscoveryCandidate> {
  const seenIds = new Set<string>();
  const seenTopics = new Set<string>();
  const fresh = (ids: { topic: string; uniqueId: string }, what: string): boolean => {
    if (seenIds.has(ids.uniqueId) || seenTopics.has(ids.topic)) {
      problems.push(`${what}: left out, its id ${ids.uniqueId} is already taken`);
      return false;
    }
    seenIds.add(ids.uniqueId);
    seenTopics.add(ids.topic);
    return true;
  };
  for (const config of bridgeConfigs(options)) {
    if (fresh(config, "bridge")) yield { topic: config.topic, build: () => config };
  }
  // by code units, not localeCompare: ids are ASCII, and collation would page ICU's data into memory
  const sorted = [...devices].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const device of sorted) {
    for (const entity of device.entities) {
      const what = `${device.topic}/${entity.key}`;
      const invalid = invalidEntity(entity);
      if (invalid) {
        problems.push(`${what}: left out, ${invalid}`);
        continue;
      }
      const ids = entityIds(options.prefix, options.root, componentOf(entity), device, entity.key);
      if (fresh(ids, what))
        yield { topic: ids.topic, build: () => entityConfig(options, device, entity, ids) };
    }
  }
}

/** Why HA would refuse the entity's config, if it would. */
function invalidEntity(entity: Entity): string | undefined {
  if (entity.kind === "select" && (entity.options ?? []).length === 0) return "a select needs options";
  if (entity.kind === "number" && entity.min !== undefined && entity.max !== undefined) {
    if (entity.min >= entity.max) return `its range ${entity.min}..${entity.max} is empty`;
  }
  if (entity.kind === "number" && entity.step !== undefined && !(entity.step > 0))
    return "its step must be > 0";
  return undefined;
}

function haDevice(options: DiscoveryOptions, device: DeviceDescription): JsonObject {
  return {
    identifiers: [deviceIdentifier(device.id)],
    name: device.name,
    manufacturer: device.manufacturer,
    model: device.model,
    ...(device.serial ? { serial_number: device.serial } : {}),
    ...(device.swVersion ? { sw_version: device.swVersion } : {}),
    // HA accepts only http(s) links here
    ...(device.configurationUrl && /^https?:\/\//.test(device.configurationUrl)
      ? { configuration_url: device.configurationUrl }
      : {}),
    via_device: bridgeIdentifier(options.root),
  };
}

/** The config of one entity of one device. */
export function entityConfig(
  options: DiscoveryOptions,
  device: DeviceDescription,
  entity: Entity,
  ids = entityIds(options.prefix, options.root, componentOf(entity), device, entity.key),
): DiscoveryConfig {
  const component = componentOf(entity);
  const valueTopic = `${options.root}/${device.topic}/${entity.key}`;
  const payload: JsonObject = {
    name: entity.name,
    unique_id: ids.uniqueId,
    default_entity_id: ids.defaultEntityId,
    origin: origin(options),
    device: haDevice(options, device),
    availability: [
      bridgeAvailability(options),
      {
        topic: `${options.root}/${device.topic}/online`,
        payload_available: "true",
        payload_not_available: "false",
      },
    ],
    availability_mode: "all",
    qos: 1,
    ...(entity.icon ? { icon: entity.icon } : {}),
    ...(entity.diagnostic ? { entity_category: "diagnostic" } : {}),
    ...componentFields(entity, valueTopic),
  };
  return { topic: ids.topic, component, uniqueId: ids.uniqueId, payload };
}

function componentFields(entity: Entity, valueTopic: string): JsonObject {
  const on = entity.payloadOn ?? "true";
  const off = entity.payloadOff ?? "false";
  const commandTopic = `${valueTopic}/set`;
  switch (entity.kind) {
    case "sensor": {
      const classes = sensorClasses(entity);
      return {
        state_topic: valueTopic,
        value_template: classes.device_class === "timestamp" ? TIMESTAMP_TEMPLATE : VALUE_TEMPLATE,
        ...classes,
      };
    }
    case "binary":
      return {
        state_topic: valueTopic,
        value_template: VALUE_TEMPLATE,
        payload_on: on,
        payload_off: off,
        ...(entity.binaryClass ? { device_class: entity.binaryClass } : {}),
      };
    case "number": {
      const min = entity.min ?? 0;
      const max = entity.max ?? 100;
      const step = entity.step ?? 1;
      return {
        state_topic: valueTopic,
        command_topic: commandTopic,
        value_template: VALUE_TEMPLATE,
        min,
        max,
        step,
        // a slider for short ranges (6..32 A), a box where a slider would be too coarse
        mode: (max - min) / step <= 100 ? "slider" : "box",
        ...numberClasses(entity),
      };
    }
    case "select":
      return selectFields(entity, valueTopic, commandTopic);
    case "switch":
      return {
        state_topic: valueTopic,
        command_topic: commandTopic,
        value_template: VALUE_TEMPLATE,
        payload_on: on,
        payload_off: off,
        state_on: on,
        state_off: off,
      };
    case "text":
      return {
        state_topic: valueTopic,
        command_topic: commandTopic,
        value_template: VALUE_TEMPLATE,
        ...(entity.pattern ? { pattern: entity.pattern } : {}),
      };
    case "lock":
      return {
        state_topic: valueTopic,
        command_topic: commandTopic,
        value_template: VALUE_TEMPLATE,
        payload_lock: on,
        payload_unlock: off,
        state_locked: on,
        state_unlocked: off,
      };
    case "button":
      return { command_topic: commandTopic, payload_press: PAYLOAD_PRESS };
    case "tracker":
      // no state_topic: HA places the tracker by the latitude/longitude attributes
      return {
        json_attributes_topic: valueTopic,
        json_attributes_template: ATTRIBUTES_TEMPLATE,
        source_type: "gps",
      };
  }
}

/**
 * A select shows `optionLabels` in place of the values they label (`0` → `auto`); the value
 * template turns a published value into its label, the command template a chosen label back.
 */
function selectFields(entity: Entity, valueTopic: string, commandTopic: string): JsonObject {
  const options = entity.options ?? [];
  const labels = entity.optionLabels ?? {};
  const base = { state_topic: valueTopic, command_topic: commandTopic };
  if (!options.some((option) => labels[option] !== undefined)) {
    return { ...base, value_template: VALUE_TEMPLATE, options };
  }
  const toLabel = Object.fromEntries(options.map((option) => [option, labels[option] ?? option]));
  const toValue = Object.fromEntries(options.map((option) => [labels[option] ?? option, option]));
  return {
    ...base,
    value_template: `{{ ${JSON.stringify(toLabel)}.get(value, value) if value else None }}`,
    command_template: `{{ ${JSON.stringify(toValue)}.get(value, value) }}`,
    options: options.map((option) => toLabel[option] ?? option),
  };
}
