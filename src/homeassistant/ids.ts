// How the bridge names things in Home Assistant. Every id here is built from what never changes
// while the bridge runs for a user: the root topic (which bridge), the device id (which charger,
// site or car; never its name or topic) and the entity key. Names and device topics (a vehicle's
// `name:`) may change; the ids below don't, so HA keeps the entity, its history and its
// customisations.
//
// - node_id   = esc(root)                      `ev2mqtt`           (one per bridge)
// - object_id = escId(device id) + "__" + esc(key)  `goe-000001__chargePower`
// - unique_id = node_id + "." + object_id      `ev2mqtt.goe-000001__chargePower`
// - default_entity_id = <component>.<slug(root)>_<slug(device topic)>_<slug(key)>
//                                              `sensor.ev2mqtt_loadpoints_1_charge_power`
//
// default_entity_id mirrors the MQTT topic a user already knows (`ev2mqtt/vehicles/car/soc` →
// `sensor.ev2mqtt_vehicles_car_soc`) instead of the device id (`ovms-host-DEMO`), which would
// make long, unreadable entity ids. HA uses it only when it first creates the entity (the
// unique_id decides identity), so a later rename of the topic keeps the entity and its id.
//
// The root topic is part of node_id and unique_id on purpose: two bridges with different roots
// on one broker (a test and a production instance, say, possibly polling the same charger)
// never write each other's discovery topics, never share a unique_id, and each one cleans up
// only its own configs. The flip side: changing `mqtt.topic` makes a new set of entities (see
// docs/homeassistant.md for how to move).

/** The bridge's own pseudo device id in object ids: `bridge__connection`. */
export const BRIDGE_OBJECT = "bridge";

/** Encodes one UTF-8 byte as `_hh`. */
function escapeByte(byte: number): string {
  return `_${byte.toString(16).padStart(2, "0")}`;
}

/**
 * A topic-level-safe, reversible encoding (HA allows `[a-zA-Z0-9_-]` in node and object ids):
 * letters, digits and `-` stay, `/` becomes `__`, every other byte becomes `_hh`. The code is
 * prefix-free (after `_` comes either `_` or two hex digits), so different inputs never give
 * the same output: `home/ev` → `home__ev`, `home_ev` → `home_5fev`.
 */
export function esc(text: string): string {
  let out = "";
  for (const char of text) {
    if (/^[A-Za-z0-9-]$/.test(char)) out += char;
    else if (char === "/") out += "__";
    else for (const byte of Buffer.from(char, "utf8")) out += escapeByte(byte);
  }
  return out;
}

/** As `esc`, but `/` too becomes `_2f`, so the result never holds `__` (the object id separator). */
export function escId(text: string): string {
  return esc(text).replaceAll("__", "_2f");
}

const BEYOND_PRINTABLE_ASCII = /[^ -~\t\n\r]/;

/** Turns camelCase and any punctuation into an entity-id slug: `chargeCurrents/l1` → `charge_currents_l1`. */
export function slug(text: string): string {
  const split = text.replace(/([a-z0-9])([A-Z])/g, "$1_$2");
  // accents come off by Unicode decomposition; ASCII has none, and skipping it keeps ICU's
  // normalisation data out of memory
  return (
    BEYOND_PRINTABLE_ASCII.test(split) ? split.normalize("NFKD").replace(/[\u0300-\u036f]/g, "") : split
  )
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
}

export interface Ids {
  nodeId: string;
  objectId: string;
  uniqueId: string;
  defaultEntityId: string;
  /** `<prefix>/<component>/<node_id>/<object_id>/config` */
  topic: string;
}

/**
 * The ids of one entity; `device` is `{ id: BRIDGE_OBJECT, topic: BRIDGE_OBJECT }` for the
 * bridge's own entities.
 */
export function entityIds(
  prefix: string,
  root: string,
  component: string,
  device: { id: string; topic: string },
  key: string,
): Ids {
  const nodeId = esc(root);
  const objectId = `${device.id === BRIDGE_OBJECT ? BRIDGE_OBJECT : escId(device.id)}__${esc(key)}`;
  const entity = [slug(root), slug(device.topic), slug(key)].filter((part) => part.length > 0).join("_");
  return {
    nodeId,
    objectId,
    uniqueId: `${nodeId}.${objectId}`,
    defaultEntityId: `${component}.${entity || "ev2mqtt"}`,
    topic: `${prefix}/${component}/${nodeId}/${objectId}/config`,
  };
}

/** HA's identifier of a device (the same charger is the same HA device, whichever bridge sees it). */
export function deviceIdentifier(deviceId: string): string {
  return `ev2mqtt_${deviceId}`;
}

/** HA's identifier of the bridge itself: one per root topic. */
export function bridgeIdentifier(root: string): string {
  return `ev2mqtt_bridge_${root}`;
}

/** The filter that matches every discovery config on the broker. */
export function configFilter(prefix: string): string {
  return `${prefix}/+/+/+/config`;
}

/** Whether a discovery topic lies under this bridge's node id (payload is checked separately). */
export function isOwnTopic(prefix: string, root: string, topic: string): boolean {
  const parts = topic.split("/");
  const prefixParts = prefix.split("/");
  if (parts.length !== prefixParts.length + 4) return false;
  if (parts.slice(0, prefixParts.length).join("/") !== prefix) return false;
  return parts[prefixParts.length + 1] === esc(root) && parts[prefixParts.length + 3] === "config";
}
