import type { DeviceDescription, Entity } from "../source.js";
import { topicLevel } from "../util/topic.js";
import { WHEELS } from "./mapping.js";
import { CHARGE_CURRENT_RANGE, CHARGE_MODES } from "./writes.js";

// What a vehicle publishes and accepts, for Home Assistant discovery and the docs.

export interface VehicleIdentity {
  /** The REST URL's host: part of the stable device id. */
  serverHost: string;
  vehicleId: string;
  /** Topic name: configured name, or the id lower-cased. */
  name: string;
  commandsEnabled: boolean;
  lockable: boolean;
  configurationUrl?: string;
}

const TEMPERATURE_NAMES: Record<string, string> = {
  battery: "Battery temperature",
  cabin: "Cabin temperature",
  ambient: "Ambient temperature",
  motor: "Motor temperature",
  charger: "Charger temperature",
};

const WHEEL_NAMES: Record<string, string> = {
  fl: "front left",
  fr: "front right",
  rl: "rear left",
  rr: "rear right",
};

export function vehicleTopic(name: string): string {
  // a name from the configuration is checked there; one made from the vehicle id is not
  return `vehicles/${topicLevel(name)}`;
}

export function describeVehicle(identity: VehicleIdentity): DeviceDescription {
  const commands = identity.commandsEnabled;
  const entities: Entity[] = [
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
    commands
      ? // stays a switch: "all switches off" stopping a charge is harmless and undone by a tap
        { key: "charging", name: "Charging", kind: "switch", icon: "mdi:ev-station" }
      : {
          key: "charging",
          name: "Charging",
          kind: "binary",
          binaryClass: "battery_charging",
          icon: "mdi:ev-station",
        },
    {
      key: "pluggedIn",
      name: "Plugged in",
      kind: "binary",
      binaryClass: "plug",
      icon: "mdi:ev-plug-type2",
    },
    { key: "chargeState", name: "Charge state", kind: "sensor", icon: "mdi:battery-charging" },
    commands
      ? { key: "chargeMode", name: "Charge mode", kind: "select", options: [...CHARGE_MODES.keys()] }
      : { key: "chargeMode", name: "Charge mode", kind: "sensor" },
    {
      key: "chargePower",
      name: "Charge power",
      kind: "sensor",
      quantity: "power",
      unit: "W",
      stateClass: "measurement",
    },
    commands
      ? {
          key: "chargeCurrent",
          name: "Charge current",
          kind: "number",
          quantity: "current",
          unit: "A",
          min: CHARGE_CURRENT_RANGE.min,
          max: CHARGE_CURRENT_RANGE.max,
          step: 1,
        }
      : {
          key: "chargeCurrent",
          name: "Charge current",
          kind: "sensor",
          quantity: "current",
          unit: "A",
          stateClass: "measurement",
        },
    {
      key: "chargeCurrentMeasured",
      name: "Charging current",
      kind: "sensor",
      quantity: "current",
      unit: "A",
      stateClass: "measurement",
    },
    { key: "chargeLimitSoc", name: "Charge limit", kind: "sensor", quantity: "battery", unit: "%" },
    commands && identity.lockable
      ? // a lock, never a switch: "turn off all switches" or a voice assistant must not unlock the car
        { key: "locked", name: "Locked", kind: "lock", icon: "mdi:car-key" }
      : { key: "locked", name: "Locked", kind: "binary", icon: "mdi:car-key" },
    {
      key: "moduleConnected",
      name: "Module connected",
      kind: "binary",
      binaryClass: "connectivity",
      diagnostic: true,
      icon: "mdi:access-point-network",
    },
    {
      key: "liveLink",
      name: "Live link",
      kind: "binary",
      binaryClass: "connectivity",
      diagnostic: true,
      icon: "mdi:lan-connect",
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
    { key: "latitude", name: "Latitude", kind: "sensor", unit: "°", diagnostic: true, icon: "mdi:latitude" },
    {
      key: "longitude",
      name: "Longitude",
      kind: "sensor",
      unit: "°",
      diagnostic: true,
      icon: "mdi:longitude",
    },
    { key: "location", name: "Location", kind: "tracker" },
  ];
  if (commands) entities.push({ key: "wakeup", name: "Wake up", kind: "button", icon: "mdi:sleep-off" });
  for (const [key, name] of Object.entries(TEMPERATURE_NAMES)) {
    entities.push({
      key: `temperatures/${key}`,
      name,
      kind: "sensor",
      quantity: "temperature",
      unit: "°C",
      stateClass: "measurement",
    });
  }
  for (const wheel of WHEELS) {
    const where = WHEEL_NAMES[wheel] ?? wheel;
    entities.push({
      key: `tyres/${wheel}/pressure`,
      name: `Tyre pressure ${where}`,
      kind: "sensor",
      quantity: "pressure",
      unit: "kPa",
      stateClass: "measurement",
    });
    entities.push({
      key: `tyres/${wheel}/temperature`,
      name: `Tyre temperature ${where}`,
      kind: "sensor",
      quantity: "temperature",
      unit: "°C",
      stateClass: "measurement",
      diagnostic: true,
    });
  }
  return {
    id: `ovms-${identity.serverHost}-${identity.vehicleId}`,
    topic: vehicleTopic(identity.name),
    kind: "vehicle",
    name: identity.vehicleId === identity.name.toUpperCase() ? identity.vehicleId : identity.name,
    manufacturer: "Open Vehicle Monitoring System",
    model: "OVMS vehicle",
    serial: identity.vehicleId,
    ...(identity.configurationUrl ? { configurationUrl: identity.configurationUrl } : {}),
    entities,
  };
}
