import type { Component, DiscoveryConfig, DiscoveryOptions, JsonObject } from "./config.js";
import { BRIDGE_OBJECT, bridgeIdentifier, entityIds } from "./ids.js";
import { LOG_LEVEL_TEMPLATE, ORIGIN_NAME, PAYLOAD_PRESS, TIMESTAMP_TEMPLATE } from "./templates.js";

// The bridge's own device in Home Assistant: its connection state, the time of the latest
// poll, and the runtime controls (restart, log level) that go through the bridge requests.

export function origin(options: DiscoveryOptions): JsonObject {
  return {
    name: ORIGIN_NAME,
    sw_version: options.version,
    ...(options.supportUrl ? { support_url: options.supportUrl } : {}),
  };
}

function bridgeDevice(options: DiscoveryOptions): JsonObject {
  return {
    identifiers: [bridgeIdentifier(options.root)],
    name: options.root === "ev2mqtt" ? "ev2mqtt" : `ev2mqtt ${options.root}`,
    manufacturer: "ev2mqtt",
    model: "ev2mqtt bridge",
    sw_version: options.version,
  };
}

export function bridgeAvailability(options: DiscoveryOptions): JsonObject {
  return { topic: `${options.root}/status`, payload_available: "online", payload_not_available: "offline" };
}

export function bridgeConfigs(options: DiscoveryOptions): DiscoveryConfig[] {
  const make = (component: Component, key: string, fields: JsonObject): DiscoveryConfig => {
    const ids = entityIds(
      options.prefix,
      options.root,
      component,
      { id: BRIDGE_OBJECT, topic: BRIDGE_OBJECT },
      key,
    );
    return {
      topic: ids.topic,
      component,
      uniqueId: ids.uniqueId,
      payload: {
        ...fields,
        unique_id: ids.uniqueId,
        default_entity_id: ids.defaultEntityId,
        origin: origin(options),
        device: bridgeDevice(options),
      },
    };
  };
  return [
    // no availability: this entity is the availability, and must read "disconnected" when the
    // last will fires instead of turning unavailable
    make("binary_sensor", "connection", {
      name: "Connection state",
      state_topic: `${options.root}/status`,
      payload_on: "online",
      payload_off: "offline",
      device_class: "connectivity",
      entity_category: "diagnostic",
      qos: 1,
    }),
    make("sensor", "updated", {
      name: "Last poll",
      state_topic: `${options.root}/updated`,
      value_template: TIMESTAMP_TEMPLATE,
      device_class: "timestamp",
      entity_category: "diagnostic",
      // it changes with every poll: enabled, it would fill the logbook and the recorder (as
      // Zigbee2MQTT ships "Last seen" disabled); a user who wants it enables it in HA
      enabled_by_default: false,
      availability: [bridgeAvailability(options)],
      qos: 1,
    }),
    // runtime control through the bridge requests, as Zigbee2MQTT's bridge device offers it
    make("button", "restart", {
      name: "Restart",
      command_topic: `${options.root}/bridge/request/restart`,
      // not empty: an empty payload is what clearing a retained request looks like
      payload_press: PAYLOAD_PRESS,
      device_class: "restart",
      entity_category: "config",
      availability: [bridgeAvailability(options)],
      qos: 1,
    }),
    make("select", "log_level", {
      name: "Log level",
      state_topic: `${options.root}/bridge/info`,
      value_template: LOG_LEVEL_TEMPLATE,
      command_topic: `${options.root}/bridge/request/log_level`,
      options: ["fatal", "error", "warn", "info", "debug", "trace", "silent"],
      entity_category: "config",
      availability: [bridgeAvailability(options)],
      qos: 1,
    }),
  ];
}
