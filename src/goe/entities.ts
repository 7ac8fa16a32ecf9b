import type { Entity } from "../source.js";
import type { RfidCard } from "./mapping-settings.js";

/** Energies a user may set (limitEnergy, planEnergy), kWh; writes-loadpoint.ts checks the same. */
const MAX_ENERGY_KWH = 200;

/**
 * What a go-e loadpoint publishes and accepts, for discovery; `maxCurrent` is the charger's
 * limit (ama), which bounds the currents and, on three phases, the thresholds.
 */
export function loadpointEntities(maxCurrent: number, cards: readonly RfidCard[] = []): Entity[] {
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
    current("minCurrent", "Min current", maxCurrent),
    current("maxCurrent", "Max current", maxCurrent),
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
    { key: "cableLock", name: "Cable lock", kind: "sensor", icon: "mdi:lock", diagnostic: true },
    { key: "errorCode", name: "Error code", kind: "sensor", diagnostic: true },
    ...settingEntities(maxCurrent * 3 * 230),
    ...cardEntities(cards),
  ];
}

/** A current setting of 6 A up to the charger's limit. */
function current(key: string, name: string, maxCurrent: number): Entity {
  return { key, name, kind: "number", quantity: "current", unit: "A", min: 6, max: maxCurrent, step: 1 };
}

/** Energy limit, departure plan and PV-surplus thresholds; `maxPower` bounds the thresholds. */
function settingEntities(maxPower: number): Entity[] {
  const energy = (key: string, name: string, icon: string): Entity => ({
    key,
    name,
    kind: "number",
    quantity: "energy",
    unit: "kWh",
    min: 0,
    max: MAX_ENERGY_KWH,
    step: 0.1,
    icon,
  });
  const power = (key: string, name: string, min: number, max: number): Entity => ({
    key,
    name,
    kind: "number",
    quantity: "power",
    unit: "W",
    min,
    max,
    step: 10,
    icon: "mdi:solar-power",
  });
  return [
    energy("limitEnergy", "Energy limit", "mdi:battery-lock"),
    energy("planEnergy", "Plan energy", "mdi:calendar-clock"),
    {
      key: "planTime",
      name: "Plan time",
      kind: "text",
      // HH:MM on the charger's clock, or an RFC 3339 time within 24 h, or none
      pattern: "^(none|\\d{1,2}:\\d{2}(:\\d{2})?|\\d{4}-\\d{2}-\\d{2}[Tt ].+)$",
      icon: "mdi:clock-end",
    },
    { key: "planActive", name: "Plan active", kind: "binary", icon: "mdi:calendar-check" },
    power("enableThreshold", "Enable threshold", -maxPower, 0),
    power("disableThreshold", "Disable threshold", 0, maxPower),
    { key: "rfidCard", name: "RFID card", kind: "sensor", icon: "mdi:card-account-details" },
  ];
}

/** One energy counter per configured RFID card, named after the card. */
function cardEntities(cards: readonly RfidCard[]): Entity[] {
  return cards.map((card) => ({
    key: `rfidCards/${card.number}/energy`,
    name: `Card ${card.name} energy`,
    kind: "sensor",
    quantity: "energy",
    unit: "kWh",
    stateClass: "total_increasing",
    icon: "mdi:card-account-details",
  }));
}
