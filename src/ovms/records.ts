import type { OvmsRecord, VehicleRecords } from "./mapping.js";

// Turns the records the server pushes on a v2 connection (`S…`, `D…`, `L…`, `W…`, `Y…`) into the
// same JSON shape the REST API builds from them, so one decoder serves both. Field order and
// bit positions follow the server's ApiHttpCore.pm (the REST API is a split of these lines).

const S_FIELDS = [
  "soc",
  "units",
  "linevoltage",
  "chargecurrent",
  "chargestate",
  "mode",
  "idealrange",
  "estimatedrange",
  "chargelimit",
  "chargeduration",
  "chargeb4",
  "chargekwh",
  "chargesubstate",
  "chargestateN",
  "chargemodeN",
  "chargetimermode",
  "chargestarttime",
  "chargetimerstale",
  "cac100",
  "charge_etr_full",
  "charge_etr_limit",
  "charge_limit_range",
  "charge_limit_soc",
  "cooldown_active",
  "cooldown_tbattery",
  "cooldown_timelimit",
  "charge_estimate",
  "charge_etr_range",
  "charge_etr_soc",
  "idealrange_max",
  "chargetype",
  "chargepower",
  "battvoltage",
  "soh",
  "chargepowerinput",
  "chargerefficiency",
  "batt_current",
  "batt_range_speed",
  "charge_kwh_grid",
  "charge_kwh_grid_total",
  "batt_capacity",
];

const D_FIELDS = [
  "doors1",
  "doors2",
  "lockunlock",
  "temperature_pem",
  "temperature_motor",
  "temperature_battery",
  "tripmeter",
  "odometer",
  "speed",
  "parkingtimer",
  "temperature_ambient",
  "doors3",
  "staletemps",
  "staleambient",
  "vehicle12v",
  "doors4",
  "vehicle12v_ref",
  "doors5",
  "temperature_charger",
  "vehicle12v_current",
  "temperature_cabin",
];

const L_FIELDS = [
  "latitude",
  "longitude",
  "direction",
  "altitude",
  "gpslock",
  "stalegps",
  "speed",
  "tripmeter",
  "drivemode",
  "power",
  "energyused",
  "energyrecd",
  "invpower",
  "invefficiency",
];

const W_FIELDS = [
  "fr_pressure",
  "fr_temperature",
  "rr_pressure",
  "rr_temperature",
  "fl_pressure",
  "fl_temperature",
  "rl_pressure",
  "rl_temperature",
  "staletpms",
];

/** Door-state bits as the server reports them (value = the bit, 0 when clear). */
const D_BITS: Array<[field: string, doors: string, bit: number]> = [
  ["fl_dooropen", "doors1", 0x01],
  ["fr_dooropen", "doors1", 0x02],
  ["cp_dooropen", "doors1", 0x04],
  ["pilotpresent", "doors1", 0x08],
  ["charging", "doors1", 0x10],
  ["handbrake", "doors1", 0x40],
  ["caron", "doors1", 0x80],
  ["carlocked", "doors2", 0x08],
  ["valetmode", "doors2", 0x10],
  ["bt_open", "doors2", 0x40],
  ["tr_open", "doors2", 0x80],
  ["carawake", "doors3", 0x02],
  ["alarmsounding", "doors4", 0x04],
  ["charging_12v", "doors5", 0x10],
];

function split(data: string, names: string[]): OvmsRecord {
  const parts = data.split(",");
  const record: OvmsRecord = {};
  names.forEach((name, index) => {
    const part = parts[index];
    if (part !== undefined) record[name] = part;
  });
  return record;
}

/**
 * The records carried by one pushed v2 line (`code` is its first character, `data` the rest),
 * or undefined for lines that carry no vehicle data (`Z`, `T`, `F`, paranoid `E`, …).
 */
export function parsePushedRecord(code: string, data: string): VehicleRecords | undefined {
  if (code === "S") return { charge: split(data, S_FIELDS) };
  if (code === "L") return { location: split(data, L_FIELDS) };
  if (code === "W") return { tpms: split(data, W_FIELDS) };
  if (code === "Y") return { tpms: parseY(data) };
  if (code === "D") {
    const raw = split(data, D_FIELDS);
    const record: OvmsRecord = {};
    for (const [name, value] of Object.entries(raw)) if (!name.startsWith("doors")) record[name] = value;
    for (const [field, doors, bit] of D_BITS) {
      const text = raw[doors];
      const mask = typeof text === "string" && /^\d+$/.test(text) ? Number(text) : undefined;
      if (mask !== undefined) record[field] = mask & bit;
    }
    return { status: record };
  }
  return undefined;
}

/**
 * The V3 TPMS record: counted lists of wheel names, pressures (kPa) and their stale flag,
 * temperatures, health and alerts, each list followed by its stale indicator.
 */
function parseY(data: string): OvmsRecord {
  const parts = data.split(",");
  const list = (): string[] => {
    const count = Number(parts[0] ?? 0);
    const items = parts.splice(0, Number.isInteger(count) && count >= 0 ? count + 1 : 1);
    return items.slice(1);
  };
  const names = list();
  const pressures = list();
  const stalePressure = parts.shift();
  const temperatures = list();
  const staleTemperature = parts.shift();
  const record: OvmsRecord = {};
  names.forEach((name, index) => {
    const wheel = name.toLowerCase();
    if (pressures[index] !== undefined) record[`${wheel}_pressure_kpa`] = pressures[index];
    if (temperatures[index] !== undefined) record[`${wheel}_temperature`] = temperatures[index];
  });
  if (stalePressure !== undefined) record.stale_pressure = stalePressure;
  if (staleTemperature !== undefined) record.stale_temperature = staleTemperature;
  return record;
}

/**
 * Pushed lines as one state: a later line of a kind replaces an earlier one, and tyres come from
 * the V3 `Y` record (kPa) once the car has sent one: a V3 module also sends the old `W` (psi,
 * rounded), and applying both would move the pressures back and forth. `sawY` carries that
 * knowledge from one call to the next.
 */
export function mergePushed(
  lines: Array<{ code: string; data: string }>,
  sawY: boolean,
): { records: VehicleRecords; sawY: boolean } {
  const preferY = sawY || lines.some((line) => line.code === "Y");
  const records: VehicleRecords = {};
  for (const { code, data } of lines) {
    if (code === "W" && preferY) continue;
    Object.assign(records, parsePushedRecord(code, data));
  }
  return { records, sawY: preferY };
}

/** What `charging` is decoded from: the S record's charge state and the D record's flag. */
export interface ChargingParts {
  state?: unknown;
  flag?: unknown;
}

/** Notes the charge state and flag of records being applied (pushed or read). */
export function noteChargingParts(records: VehicleRecords, parts: ChargingParts): void {
  for (const record of [records.charge, records.status]) {
    if (record?.chargestate !== undefined) parts.state = record.chargestate;
    if (record?.charging !== undefined) parts.flag = record.charging;
  }
}

/**
 * A pushed S or D alone carries only half of `charging` (S the state, D the flag): decoding it
 * alone would say "not charging" whenever the two disagree (`prepare` with the flag set), so
 * `charging`, and fast reporting with it, would flip at every record. The other half is added
 * from the last one known, as a REST read has both.
 */
export function withChargingParts(records: VehicleRecords, parts: ChargingParts): VehicleRecords {
  const completed = { ...records };
  if (records.charge && !records.status && parts.flag !== undefined)
    completed.status = { charging: parts.flag };
  if (records.status && !records.charge && parts.state !== undefined)
    completed.charge = { chargestate: parts.state };
  return completed;
}
