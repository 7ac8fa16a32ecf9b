// The OVMS server's REST bodies built from stored v2 records, as ApiHttpCore.pm builds them: a
// split of the message (so values are strings), bitmask fields as `doors & bit` (0 or the bit
// value), computed counts and ages as numbers, `{}` when the record does not exist, sorted
// keys and a trailing newline. Part of the simulator: imports nothing of the product.

import type { StoredRecord } from "./car.js";

type Json = Record<string, unknown>;

const S_NAMES =
  "soc,units,linevoltage,chargecurrent,chargestate,mode,idealrange,estimatedrange,chargelimit,chargeduration,chargeb4,chargekwh,chargesubstate,chargestateN,chargemodeN,chargetimermode,chargestarttime,chargetimerstale,cac100,charge_etr_full,charge_etr_limit,charge_limit_range,charge_limit_soc,cooldown_active,cooldown_tbattery,cooldown_timelimit,charge_estimate,charge_etr_range,charge_etr_soc,idealrange_max,chargetype,chargepower,battvoltage,soh,chargepowerinput,chargerefficiency,batt_current,batt_range_speed,charge_kwh_grid,charge_kwh_grid_total,batt_capacity".split(
    ",",
  );
const S_STATUS = [
  "soc",
  "units",
  "idealrange",
  "idealrange_max",
  "estimatedrange",
  "mode",
  "chargestate",
  "cac100",
  "soh",
  "cooldown_active",
];
const D_NAMES =
  "doors1,doors2,lockunlock,temperature_pem,temperature_motor,temperature_battery,tripmeter,odometer,speed,parkingtimer,temperature_ambient,doors3,staletemps,staleambient,vehicle12v,doors4,vehicle12v_ref,doors5,temperature_charger,vehicle12v_current,temperature_cabin".split(
    ",",
  );
const L_NAMES =
  "latitude,longitude,direction,altitude,gpslock,stalegps,speed,tripmeter,drivemode,power,energyused,energyrecd,invpower,invefficiency".split(
    ",",
  );
const W_NAMES =
  "fr_pressure,fr_temperature,rr_pressure,rr_temperature,fl_pressure,fl_temperature,rl_pressure,rl_temperature,staletpms".split(
    ",",
  );
const D_BITS: Array<[string, string, number, boolean]> = [
  // field, doors, bit, also in /api/charge
  ["fl_dooropen", "doors1", 0x01, false],
  ["fr_dooropen", "doors1", 0x02, false],
  ["cp_dooropen", "doors1", 0x04, true],
  ["pilotpresent", "doors1", 0x08, true],
  ["charging", "doors1", 0x10, true],
  ["handbrake", "doors1", 0x40, false],
  ["caron", "doors1", 0x80, true],
  ["carlocked", "doors2", 0x08, false],
  ["valetmode", "doors2", 0x10, false],
  ["bt_open", "doors2", 0x40, false],
  ["tr_open", "doors2", 0x80, false],
  ["carawake", "doors3", 0x02, true],
  ["charging_12v", "doors5", 0x10, true],
  ["alarmsounding", "doors4", 0x04, false],
];
const D_CHARGE_VALUES = [
  "temperature_pem",
  "temperature_motor",
  "temperature_battery",
  "temperature_charger",
  "temperature_ambient",
  "temperature_cabin",
  "staletemps",
  "staleambient",
  "vehicle12v",
  "vehicle12v_ref",
  "vehicle12v_current",
];

/** Perl's split into named variables: missing trailing fields are undef (JSON null). */
function split(message: string, names: string[]): Record<string, string | null> {
  const parts = message.split(",");
  const out: Record<string, string | null> = {};
  names.forEach((name, i) => {
    out[name] = parts[i] ?? null;
  });
  return out;
}

function stamp(out: Json, suffix: string, record: StoredRecord, now: number): void {
  out[`m_msgtime_${suffix}`] = new Date(record.time).toISOString().slice(0, 19).replace("T", " ");
  out[`m_msgage_${suffix}`] = Math.floor((now - record.time) / 1000);
}

function bits(out: Json, d: Record<string, string | null>, chargeOnly: boolean): void {
  for (const [field, doors, bit, inCharge] of D_BITS) {
    if (chargeOnly && !inCharge) continue;
    out[field] = Number(d[doors] ?? 0) & bit;
  }
}

/** JSON::XS->canonical plus "\n": keys sorted at every level. */
export function canonical(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === "object") {
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, sort((v as Json)[k])]),
      );
    }
    return v;
  };
  return `${JSON.stringify(sort(value))}\n`;
}

export function statusJson(records: Map<string, StoredRecord>, now: number): Json {
  const out: Json = {};
  const s = records.get("S");
  if (s) {
    const f = split(s.message, S_NAMES);
    stamp(out, "s", s, now);
    for (const name of S_STATUS) out[name] = f[name];
  }
  const d = records.get("D");
  if (d) {
    const f = split(d.message, D_NAMES);
    stamp(out, "d", d, now);
    bits(out, f, false);
    for (const [name, value] of Object.entries(f))
      if (!name.startsWith("doors") && name !== "lockunlock") out[name] = value;
  }
  return out;
}

export function chargeJson(records: Map<string, StoredRecord>, now: number): Json {
  const out: Json = {};
  const s = records.get("S");
  if (s) {
    const f = split(s.message, S_NAMES);
    stamp(out, "s", s, now);
    for (const [name, value] of Object.entries(f)) {
      if (name === "chargestateN" || name === "chargemodeN") continue;
      out[name] = value;
    }
  }
  const d = records.get("D");
  if (d) {
    const f = split(d.message, D_NAMES);
    stamp(out, "d", d, now);
    bits(out, f, true);
    for (const name of D_CHARGE_VALUES) out[name] = f[name];
  }
  return out;
}

export function locationJson(records: Map<string, StoredRecord>, now: number): Json {
  const out: Json = {};
  const l = records.get("L");
  if (l) {
    stamp(out, "l", l, now);
    Object.assign(out, split(l.message, L_NAMES));
  }
  return out;
}

export function tpmsJson(records: Map<string, StoredRecord>, now: number): Json {
  const out: Json = {};
  const y = records.get("Y");
  if (y) {
    stamp(out, "y", y, now);
    const data = y.message.split(",");
    const list = (): string[] => data.splice(0, Number(data[0] ?? 0) + 1);
    const names = list();
    const press = list();
    const stalePress = data.shift();
    const temps = list();
    const staleTemp = data.shift();
    const health = list();
    const staleHealth = data.shift();
    const alerts = list();
    const staleAlert = data.shift();
    for (let i = 1; i <= Number(names[0]); i++) {
      const wheel = (names[i] ?? "").toLowerCase();
      if (i <= Number(press[0])) {
        out[`${wheel}_pressure_kpa`] = press[i];
        out[`${wheel}_pressure`] = Number(press[i]) * 0.14503773773020923;
      }
      if (i <= Number(temps[0])) out[`${wheel}_temperature`] = temps[i];
      if (i <= Number(health[0])) out[`${wheel}_health`] = health[i];
      if (i <= Number(alerts[0])) out[`${wheel}_alert`] = alerts[i];
    }
    Object.assign(out, {
      stale_pressure: stalePress,
      stale_temperature: staleTemp,
      stale_health: staleHealth,
      stale_alert: staleAlert,
      staletpms: Math.max(...[stalePress, staleTemp, staleHealth, staleAlert].map(Number)),
    });
    stamp(out, "w", y, now);
    return out;
  }
  const w = records.get("W");
  if (w) {
    stamp(out, "w", w, now);
    Object.assign(out, split(w.message, W_NAMES));
  }
  return out;
}
