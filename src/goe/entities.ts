import type { Entity } from "../source.js";

/** What a go-e loadpoint publishes and accepts, for discovery; `maxCurrent` is the charger's limit. */
export function loadpointEntities(maxCurrent: number): Entity[] {
  const phase = (base: string, name: string, quantity: "current" | "voltage", unit: string): Entity[] =>
    ["l1", "l2", "l3"].map((line) => ({
      key: `${base}/${line}`,
      name: `${name} ${line.toUpperCase()}`,
      kind: "sensor",
      quantity,
      unit,
      stateClass: "measurement",
      diagnostic: quantity === "voltage",
    }));
  return [
    {
      key: "chargePower",
      name: "Charge power",
      kind: "sensor",
      quantity: "power",
      unit: "W",
      stateClass: "measurement",
    },
    ...phase("chargeCurrents", "Charge current", "current", "A"),
    ...phase("chargeVoltages", "Voltage", "voltage", "V"),
    {
      key: "sessionEnergy",
      name: "Session energy",
      kind: "sensor",
      quantity: "energy",
      unit: "Wh",
      // falls to 0 when a session starts: `total_increasing` takes a drop as a new cycle, where
      // `total` without a last_reset would book it as negative energy in HA's statistics
      stateClass: "total_increasing",
    },
    {
      key: "chargeTotalImport",
      name: "Total energy",
      kind: "sensor",
      quantity: "energy",
      unit: "kWh",
      stateClass: "total_increasing",
    },
    {
      key: "connected",
      name: "Car connected",
      kind: "binary",
      binaryClass: "plug",
      icon: "mdi:ev-plug-type2",
    },
    {
      key: "charging",
      name: "Charging",
      kind: "binary",
      binaryClass: "battery_charging",
      icon: "mdi:battery-charging",
    },
    { key: "enabled", name: "Charging allowed", kind: "binary", diagnostic: true },
    { key: "chargerStatus", name: "Status", kind: "sensor", icon: "mdi:ev-station" },
    { key: "chargerStatusReason", name: "Status reason", kind: "sensor", diagnostic: true },
    { key: "mode", name: "Mode", kind: "select", options: ["off", "now", "pv"], icon: "mdi:car-electric" },
    {
      key: "maxCurrent",
      name: "Max current",
      kind: "number",
      quantity: "current",
      unit: "A",
      min: 6,
      max: maxCurrent,
      step: 1,
    },
    {
      key: "phasesConfigured",
      name: "Phases",
      kind: "select",
      options: ["0", "1", "3"],
      optionLabels: { "0": "auto" },
      icon: "mdi:sine-wave",
    },
    {
      key: "phasesActive",
      name: "Active phases",
      kind: "sensor",
      stateClass: "measurement",
      diagnostic: true,
    },
    {
      key: "offeredCurrent",
      name: "Offered current",
      kind: "sensor",
      quantity: "current",
      unit: "A",
      stateClass: "measurement",
      diagnostic: true,
    },
    {
      key: "temperature",
      name: "Temperature",
      kind: "sensor",
      quantity: "temperature",
      unit: "°C",
      stateClass: "measurement",
      diagnostic: true,
    },
    {
      key: "cableLimit",
      name: "Cable limit",
      kind: "sensor",
      quantity: "current",
      unit: "A",
      diagnostic: true,
    },
    { key: "errorCode", name: "Error code", kind: "sensor", diagnostic: true },
  ];
}
