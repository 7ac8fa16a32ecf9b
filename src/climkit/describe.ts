import type { DeviceDescription, Entity, Quantity } from "../source.js";
import { meterBase, meterKind, sensorBase } from "./mapping.js";
import type { MeterInfo, SensorInfo } from "./parse.js";

export interface SiteShape {
  id: string;
  topic: string;
  name: string;
  ref?: string;
  meters: MeterInfo[];
  sensors: SensorInfo[];
}

// Per-interval energies have no state class: they are neither a running total nor a value
// Home Assistant may average (it refuses `measurement` for energy). The day totals reset at
// local midnight, which `total_increasing` accepts as a new cycle.
const SITE_ENTITIES: Entity[] = [
  power("pvPower", "PV power"),
  power("gridPower", "Grid power"),
  power("homePower", "Home power"),
  energy("pvEnergy", "PV energy (15 min)"),
  energy("gridImportEnergy", "Grid import (15 min)"),
  energy("gridExportEnergy", "Grid export (15 min)"),
  energy("homeEnergy", "Home energy (15 min)"),
  energy("selfEnergy", "Self-consumed energy (15 min)"),
  energyToday("pvEnergyToday", "PV energy today"),
  energyToday("gridImportEnergyToday", "Grid import today"),
  energyToday("gridExportEnergyToday", "Grid export today"),
  energyToday("homeEnergyToday", "Home energy today"),
  energyToday("selfEnergyToday", "Self-consumed energy today"),
  { key: "intervalEnd", name: "Interval end", kind: "sensor", quantity: "timestamp", diagnostic: true },
];

function power(key: string, name: string): Entity {
  return { key, name, kind: "sensor", quantity: "power", unit: "W", stateClass: "measurement" };
}

function energy(key: string, name: string): Entity {
  return { key, name, kind: "sensor", quantity: "energy", unit: "kWh" };
}

function energyToday(key: string, name: string): Entity {
  return { key, name, kind: "sensor", quantity: "energy", unit: "kWh", stateClass: "total_increasing" };
}

function meterEntities(meter: MeterInfo): Entity[] {
  const kind = meterKind(meter.type);
  const base = meterBase(meter.id);
  const entities: Entity[] = [];
  if (kind.power) entities.push(power(`${base}power`, `${meter.name} power`));
  const amount = kind.unit ? { quantity: kind.quantity, unit: kind.unit } : {};
  entities.push(
    { key: `${base}energy`, name: `${meter.name} (15 min)`, kind: "sensor", ...amount },
    {
      key: `${base}energyToday`,
      name: `${meter.name} today`,
      kind: "sensor",
      ...amount,
      stateClass: "total_increasing",
    },
  );
  return entities;
}

/** Home Assistant's device class for a sensor, from its type, else its unit. */
export function sensorQuantity(sensor: SensorInfo): Quantity | undefined {
  const type = sensor.type.toLowerCase();
  const unit = sensor.unit.toLowerCase();
  if (type.includes("temp") || unit === "°c" || unit === "c") return "temperature";
  if (type.includes("humid")) return "humidity";
  if (type.includes("co2") || type.includes("carbon") || unit === "ppm") return "carbon_dioxide";
  if (type.includes("illum") || type.includes("light") || unit === "lx") return "illuminance";
  if (type.includes("press") || unit === "hpa" || unit === "mbar") return "pressure";
  if (unit === "w" || unit === "kw") return "power";
  if (unit === "wh" || unit === "kwh") return "energy";
  return undefined;
}

/** Climkit writes degrees as `C`; Home Assistant accepts temperatures only in `°C`, `°F` or `K`. */
function sensorUnit(sensor: SensorInfo, quantity: Quantity | undefined): string {
  const unit = sensor.unit.trim();
  if (quantity === "temperature" && /^[CF]$/i.test(unit)) return `°${unit.toUpperCase()}`;
  return unit;
}

function sensorEntity(sensor: SensorInfo): Entity {
  const quantity = sensorQuantity(sensor);
  const unit = sensorUnit(sensor, quantity);
  return {
    key: `${sensorBase(sensor.id)}value`,
    name: sensor.name,
    kind: "sensor",
    ...(quantity ? { quantity } : {}),
    ...(unit ? { unit } : {}),
    stateClass: "measurement",
  };
}

export function describeSite(site: SiteShape): DeviceDescription {
  return {
    id: `climkit-${site.id}`,
    topic: site.topic,
    kind: "site",
    name: site.name,
    manufacturer: "Climkit",
    model: "Climkit site",
    ...(site.ref ? { serial: site.ref } : {}),
    configurationUrl: "https://app.climkit.io",
    entities: [...SITE_ENTITIES, ...site.meters.flatMap(meterEntities), ...site.sensors.map(sensorEntity)],
  };
}
