import type { Entity, Quantity } from "../source.js";

// Home Assistant's rules for device_class, unit_of_measurement and state_class, for the
// quantities the bridge's devices use. A device class HA can't pair with the unit given is
// dropped (HA would reject or warn about the entity, zigbee2mqtt#15958), and a state class that
// the device class does not allow is dropped too. The unit lists are subsets of HA's
// DEVICE_CLASS_UNITS (homeassistant/components/sensor/const.py): a unit listed here is
// accepted by HA; a unit not listed only costs the device class, never the entity.

type StateClass = NonNullable<Entity["stateClass"]>;

const MEASUREMENT: readonly StateClass[] = ["measurement"];
const TOTALS: readonly StateClass[] = ["total", "total_increasing"];
const ANY: readonly StateClass[] = ["measurement", "total", "total_increasing"];

interface Rule {
  units: readonly string[];
  stateClasses: readonly StateClass[];
}

/** Per quantity (= HA sensor device class): the units HA accepts and the state classes it allows. */
export const SENSOR_RULES: Record<Quantity, Rule> = {
  power: { units: ["W", "kW", "MW", "GW", "TW"], stateClasses: MEASUREMENT },
  energy: { units: ["Wh", "kWh", "MWh", "GWh", "TWh", "MJ", "GJ"], stateClasses: TOTALS },
  current: { units: ["mA", "A"], stateClasses: MEASUREMENT },
  voltage: { units: ["mV", "V", "kV", "MV"], stateClasses: MEASUREMENT },
  battery: { units: ["%"], stateClasses: MEASUREMENT },
  distance: { units: ["mm", "cm", "m", "km", "in", "ft", "yd", "mi"], stateClasses: ANY },
  temperature: { units: ["°C", "°F", "K"], stateClasses: MEASUREMENT },
  pressure: {
    units: ["Pa", "hPa", "kPa", "bar", "cbar", "mbar", "mmHg", "inHg", "psi"],
    stateClasses: MEASUREMENT,
  },
  // a timestamp has no unit and no state class; its state is an ISO date-time
  timestamp: { units: [], stateClasses: [] },
  duration: { units: ["d", "h", "min", "s", "ms"], stateClasses: ANY },
  speed: { units: ["m/s", "km/h", "mph", "kn", "ft/s"], stateClasses: MEASUREMENT },
  volume: { units: ["L", "mL", "m³", "ft³", "gal"], stateClasses: TOTALS },
  water: { units: ["L", "m³", "ft³", "gal", "CCF"], stateClasses: TOTALS },
  gas: { units: ["m³", "ft³", "CCF"], stateClasses: TOTALS },
  humidity: { units: ["%"], stateClasses: MEASUREMENT },
  illuminance: { units: ["lx"], stateClasses: MEASUREMENT },
  carbon_dioxide: { units: ["ppm"], stateClasses: MEASUREMENT },
};

/** Spellings devices use that HA writes differently. */
const UNIT_ALIASES: Record<string, string> = {
  m3: "m³",
  "m^3": "m³",
  ft3: "ft³",
  l: "L",
  ml: "mL",
  kwh: "kWh",
  wh: "Wh",
  kw: "kW",
  w: "W",
  "°c": "°C",
  "°f": "°F",
  lux: "lx",
  sec: "s",
  mins: "min",
};

const SENSOR_UNITS = new Set(Object.values(SENSOR_RULES).flatMap((rule) => rule.units));

/** The unit as HA spells it (`kwh` → `kWh`); undefined for none. */
export function normalizeUnit(unit: string | undefined): string | undefined {
  const trimmed = unit?.trim();
  if (!trimmed) return undefined;
  if (SENSOR_UNITS.has(trimmed)) return trimmed;
  return UNIT_ALIASES[trimmed.toLowerCase()] ?? trimmed;
}

export interface SensorClasses {
  device_class?: string;
  unit_of_measurement?: string;
  state_class?: StateClass;
}

/** The device_class/unit/state_class of a sensor, reduced to a combination HA accepts. */
export function sensorClasses(entity: Entity): SensorClasses {
  const unit = normalizeUnit(entity.unit);
  const rule = entity.quantity ? SENSOR_RULES[entity.quantity] : undefined;
  let deviceClass: string | undefined;
  if (entity.quantity === "timestamp") {
    // a timestamp sensor never has a unit or a state class
    return { device_class: "timestamp" };
  }
  if (rule && unit !== undefined && rule.units.includes(unit)) deviceClass = entity.quantity;
  let stateClass = entity.stateClass;
  if (stateClass && deviceClass && rule && !rule.stateClasses.includes(stateClass)) stateClass = undefined;
  return {
    ...(deviceClass ? { device_class: deviceClass } : {}),
    ...(unit !== undefined ? { unit_of_measurement: unit } : {}),
    ...(stateClass ? { state_class: stateClass } : {}),
  };
}

/** Number entities share the sensor device classes except timestamp; no state class. */
export function numberClasses(entity: Entity): { device_class?: string; unit_of_measurement?: string } {
  const unit = normalizeUnit(entity.unit);
  const rule = entity.quantity && entity.quantity !== "timestamp" ? SENSOR_RULES[entity.quantity] : undefined;
  const deviceClass = rule && unit !== undefined && rule.units.includes(unit) ? entity.quantity : undefined;
  return {
    ...(deviceClass ? { device_class: deviceClass } : {}),
    ...(unit !== undefined ? { unit_of_measurement: unit } : {}),
  };
}
