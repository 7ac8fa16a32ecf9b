import {
  ATTRIBUTES_TEMPLATE,
  LOG_LEVEL_TEMPLATE,
  TIMESTAMP_TEMPLATE,
  VALUE_TEMPLATE,
} from "../../src/homeassistant/templates.js";

// What Home Assistant does with a discovery config and the values on its topics, written from
// HA's own code (2025.6 to 2025.10) rather than from our idea of it. Each rule names where it
// comes from. `problems(config, state)` returns the complaints HA would have, in words; an empty
// list means HA accepts the config and shows every published value.
//
// - mqtt/sensor.py `validate_sensor_state_and_device_class_config`: last_reset only with `total`;
//   `options` only for device class enum, without state class or unit.
// - sensor/__init__.py: a numeric sensor (device class other than enum/timestamp/date, a state
//   class or a unit) whose state is not a number raises ValueError; sensor/const.py
//   DEVICE_CLASS_UNITS and DEVICE_CLASS_STATE_CLASSES: units and state classes per device class
//   (a mismatch is a warning and a repair issue).
// - sensor/recorder.py (compile_statistics, 678–725 in 2025.6): `total` without last_reset keeps
//   the first value as the zero point for good, so a counter that falls back to 0 books the
//   drop as negative energy; only `total_increasing` starts a new cycle on a drop.
// - mqtt/number.py: a value outside min..max is logged as an error and dropped.
// - mqtt/select.py: a value not among the options is logged and dropped.
// - mqtt/switch.py, lock.py, binary_sensor.py: a payload that is neither on/off (locked/unlocked)
//   nor `None` is logged and dropped.
// - mqtt/device_tracker.py: an attribute set without latitude/longitude leaves the position.
// - text/__init__.py `state`: a value longer than max (default 255) or shorter than min
//   (default 0), or one the `pattern` does not match, raises ValueError.
// - Empty payloads: the bridge's templates render them as `None`, HA's PAYLOAD_NONE (unknown).

export type Config = Record<string, unknown> & { device?: Record<string, unknown> };

/** HA's MQTT platforms that the bridge may use. */
export const COMPONENTS = new Set([
  "sensor",
  "binary_sensor",
  "number",
  "select",
  "switch",
  "lock",
  "text",
  "button",
  "device_tracker",
]);

/** sensor/const.py DEVICE_CLASS_UNITS, for the device classes the bridge can announce. */
const UNITS: Record<string, string[]> = {
  power: ["mW", "W", "kW", "MW", "GW", "TW", "BTU/h"],
  energy: ["J", "kJ", "MJ", "GJ", "mWh", "Wh", "kWh", "MWh", "GWh", "TWh", "cal", "kcal", "Mcal", "Gcal"],
  current: ["mA", "A"],
  voltage: ["µV", "mV", "V", "kV", "MV"],
  battery: ["%"],
  humidity: ["%"],
  distance: ["km", "m", "cm", "mm", "mi", "nmi", "yd", "in", "ft"],
  temperature: ["°C", "°F", "K"],
  pressure: ["Pa", "kPa", "hPa", "bar", "cbar", "mbar", "mmHg", "inHg", "psi"],
  duration: ["d", "h", "min", "s", "ms", "µs"],
  speed: ["ft/s", "in/d", "in/h", "in/s", "km/h", "kn", "m/s", "mph", "mm/d", "mm/s"],
  volume: ["L", "mL", "gal", "fl. oz.", "m³", "ft³", "CCF"],
  water: ["L", "gal", "m³", "ft³", "CCF"],
  gas: ["m³", "ft³", "CCF"],
  illuminance: ["lx"],
  carbon_dioxide: ["ppm"],
};

/** sensor/const.py DEVICE_CLASS_STATE_CLASSES for the same classes. */
const STATE_CLASSES: Record<string, string[]> = {
  power: ["measurement"],
  energy: ["total", "total_increasing"],
  current: ["measurement"],
  voltage: ["measurement"],
  battery: ["measurement"],
  humidity: ["measurement"],
  distance: ["measurement", "total", "total_increasing"],
  temperature: ["measurement"],
  pressure: ["measurement"],
  duration: ["measurement", "total", "total_increasing"],
  speed: ["measurement"],
  volume: ["total", "total_increasing"],
  water: ["total", "total_increasing"],
  gas: ["total", "total_increasing"],
  illuminance: ["measurement"],
  carbon_dioxide: ["measurement"],
  timestamp: [],
};

/** binary_sensor/__init__.py BinarySensorDeviceClass (the ones that fit a car or charger). */
const BINARY_CLASSES = new Set(["plug", "battery_charging", "connectivity", "lock", "problem", "running"]);

/** Which bridge values must carry which binary device class (issue 12 item 7). */
export const EXPECTED_BINARY_CLASSES: Record<string, string> = {
  connected: "plug",
  pluggedIn: "plug",
  charging: "battery_charging",
  moduleConnected: "connectivity",
};

const NONE = Symbol("None");
type Rendered = string | typeof NONE;

const LABELS = /^\{\{ (\{.*\})\.get\(value, value\) if value else None \}\}$/;

/**
 * Our value templates, evaluated as HA's Jinja would for a plain payload. A template not known
 * here fails the check: its meaning must be added (and reviewed) first.
 */
export function render(template: string | undefined, payload: string): Rendered | Error {
  if (template === undefined) return payload;
  if (template === VALUE_TEMPLATE) return payload ? payload : NONE;
  if (template === TIMESTAMP_TEMPLATE) {
    if (!payload) return NONE;
    const seconds = Number.parseInt(payload, 10);
    return Number.isNaN(seconds)
      ? new Error(`as_datetime of ${payload}`)
      : new Date(seconds * 1000).toISOString();
  }
  if (template === LOG_LEVEL_TEMPLATE) {
    if (!payload) return NONE;
    const level = (JSON.parse(payload) as { log_level?: unknown }).log_level;
    return typeof level === "string" ? level : new Error(`bridge/info without log_level: ${payload}`);
  }
  if (template === ATTRIBUTES_TEMPLATE) return payload ? payload : '{"latitude": null, "longitude": null}';
  const labels = LABELS.exec(template);
  if (labels?.[1]) {
    if (!payload) return NONE;
    const map = JSON.parse(labels[1]) as Record<string, string>;
    return map[payload] ?? payload;
  }
  return new Error(`unknown template ${template}`);
}

const isNumber = (text: string): boolean => text.trim() !== "" && Number.isFinite(Number(text));

/** Everything HA would refuse or log about one config and the value on its state topic. */
export function problems(topic: string, config: Config, state: string | undefined): string[] {
  const found: string[] = [];
  const component = topic.split("/")[1] ?? "";
  const say = (text: string) => found.push(`${topic}: ${text}`);
  if (!COMPONENTS.has(component)) say(`component ${component} is not one the bridge may announce`);
  if ("object_id" in config) say("object_id is deprecated (HA 2025.10): send default_entity_id only");
  const entityId = config.default_entity_id;
  if (typeof entityId !== "string" || !entityId.startsWith(`${component}.`))
    say(`default_entity_id ${String(entityId)} does not start with ${component}.`);
  const rendered = state === undefined ? undefined : render(config.value_template as string, state);
  if (rendered instanceof Error) {
    say(rendered.message);
    return found;
  }
  const value = rendered === NONE ? undefined : rendered;
  switch (component) {
    case "sensor":
      sensorProblems(config, value, say);
      break;
    case "binary_sensor": {
      const deviceClass = config.device_class as string | undefined;
      if (deviceClass !== undefined && !BINARY_CLASSES.has(deviceClass))
        say(`binary device class ${deviceClass}`);
      if (value !== undefined && value !== config.payload_on && value !== config.payload_off)
        say(`state ${value} is neither payload_on nor payload_off`);
      break;
    }
    case "number": {
      const min = config.min as number;
      const max = config.max as number;
      if (!(min < max)) say(`empty range ${min}..${max}`);
      if (!((config.step as number) > 0)) say("step must be > 0");
      unitProblems(config, say);
      if (value !== undefined && (!isNumber(value) || Number(value) < min || Number(value) > max))
        say(`state ${value} is outside ${min}..${max}: HA logs "Invalid value" and keeps the old one`);
      break;
    }
    case "select": {
      const options = config.options as string[];
      if (!Array.isArray(options) || options.length === 0) say("a select needs options");
      else if (value !== undefined && !options.includes(value))
        say(`state ${value} is not among the options ${options.join(", ")}`);
      break;
    }
    case "switch":
      if (value !== undefined && value !== config.state_on && value !== config.state_off)
        say(`state ${value} is neither state_on nor state_off`);
      break;
    case "lock":
      if (value !== undefined && value !== config.state_locked && value !== config.state_unlocked)
        say(`state ${value} is neither state_locked nor state_unlocked`);
      break;
    case "text": {
      const max = (config.max as number | undefined) ?? 255;
      const min = (config.min as number | undefined) ?? 0;
      if (value !== undefined && (value.length > max || value.length < min))
        say(`state ${value} is not ${min}..${max} characters long`);
      const pattern = config.pattern as string | undefined;
      if (value !== undefined && pattern !== undefined && !new RegExp(pattern).test(value))
        say(`state ${value} does not match the pattern ${pattern}`);
      break;
    }
    case "device_tracker":
      if (typeof config.json_attributes_topic !== "string") say("a tracker needs json_attributes_topic");
      break;
  }
  return found;
}

function unitProblems(config: Config, say: (text: string) => void): void {
  const deviceClass = config.device_class as string | undefined;
  const unit = config.unit_of_measurement as string | undefined;
  if (deviceClass === undefined || deviceClass === "timestamp" || deviceClass === "enum") return;
  const units = UNITS[deviceClass];
  if (!units) say(`device class ${deviceClass} is not checked here`);
  else if (unit === undefined || !units.includes(unit))
    say(`unit ${String(unit)} is not one HA accepts for ${deviceClass} (${units.join(", ")})`);
}

function sensorProblems(config: Config, value: string | undefined, say: (text: string) => void): void {
  const deviceClass = config.device_class as string | undefined;
  const stateClass = config.state_class as string | undefined;
  const unit = config.unit_of_measurement as string | undefined;
  const hasLastReset = "last_reset_value_template" in config;
  if (hasLastReset && stateClass !== "total") say("last_reset_value_template needs state_class total");
  if (stateClass === "total" && !hasLastReset)
    say("state_class total without last_reset: a drop to 0 is booked as negative (sensor/recorder.py)");
  if (config.options !== undefined && (deviceClass !== "enum" || stateClass || unit))
    say("options only with device class enum and without state class or unit");
  unitProblems(config, say);
  if (deviceClass && stateClass && !(STATE_CLASSES[deviceClass] ?? []).includes(stateClass))
    say(`state class ${stateClass} is not allowed for ${deviceClass}`);
  if (unit !== undefined && unit.trim() === "") say("an empty unit");
  if (deviceClass === "timestamp") {
    if (value !== undefined && Number.isNaN(Date.parse(value))) say(`timestamp ${value} does not parse`);
    return;
  }
  const numeric =
    (deviceClass !== undefined && deviceClass !== "enum") || stateClass !== undefined || unit !== undefined;
  if (numeric && value !== undefined && !isNumber(value))
    say(`state ${value} is not a number, which HA requires of a sensor with a unit or state class`);
}
