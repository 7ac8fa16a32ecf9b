import { describe, expect, it } from "vitest";
import {
  decodeVehicle,
  findVehicle,
  freshRecords,
  loadpointValues,
  toNumber,
} from "../../src/ovms/mapping.js";
import {
  type ChargingParts,
  mergePushed,
  noteChargingParts,
  parsePushedRecord,
  withChargingParts,
} from "../../src/ovms/records.js";
import type { CarState } from "../../src/ovms/simulator/car.js";
import { SimCar } from "../../src/ovms/simulator/car.js";
import { chargeJson, statusJson, tpmsJson } from "../../src/ovms/simulator/json.js";
import { interpretReply, planWrite, type WriteOptions } from "../../src/ovms/writes.js";

// The /api/charge fragment of reference B3 (the demo car's S message run through the server code)
const CHARGE_B3 = JSON.parse(
  '{"cac100":"160","caron":0,"charge_etr_full":"0","charging":16,"chargecurrent":"13","chargekwh":"0","chargestate":"charging","cp_dooropen":4,"estimatedrange":"180","linevoltage":"230","m_msgage_s":7,"m_msgtime_s":"2025-05-01 10:00:00","mode":"standard","pilotpresent":8,"soc":"78","units":"K"}',
);

describe("decodeVehicle", () => {
  it("decodes the reference /api/charge payload: strings, bitmasks 0/bit-value, age", () => {
    const { values, empty } = decodeVehicle({ charge: CHARGE_B3 });
    expect(empty).toBe(false);
    expect(values).toEqual({
      soc: 78,
      range: 180,
      chargeState: "charging",
      chargeMode: "standard",
      charging: true,
      pluggedIn: true,
      chargeCurrentMeasured: 13,
      messageAge: 7,
    });
  });

  it("publishes no value for a charge limit or mode the HA controls cannot show (issue 12 item 4)", () => {
    const decode = (chargelimit: string, mode: string) =>
      decodeVehicle({ charge: { chargelimit, mode } }).values;
    // HA would log "Invalid value … (range 1 - 32)" / an invalid option and keep the old state
    expect(decode("0", "eco")).toMatchObject({ chargeCurrent: null, chargeMode: null });
    expect(decode("40", "Performance")).toMatchObject({ chargeCurrent: null, chargeMode: "performance" });
    expect(decode("16", "range")).toMatchObject({ chargeCurrent: 16, chargeMode: "range" });
    expect(decode("16", "constructor").chargeMode).toBeNull();
  });

  it("reads flags that are 0 as false, whatever chargestate the car had before", () => {
    const { values } = decodeVehicle({
      charge: { charging: 0, chargestate: "stopped", cp_dooropen: 0, pilotpresent: 0, soc: "80" },
      status: { carlocked: 0 },
    });
    expect(values.charging).toBe(false);
    expect(values.pluggedIn).toBe(false);
    expect(values.locked).toBe(false);
  });

  it("treats topoff as charging and a locked bit (8) as locked", () => {
    const { values } = decodeVehicle({
      charge: { chargestate: "topoff", charging: 0 },
      status: { carlocked: 8 },
    });
    expect(values.charging).toBe(true);
    expect(values.locked).toBe(true);
  });

  it("converts miles to km and the odometer's tenths to whole units", () => {
    const { values, units } = decodeVehicle({
      charge: { units: "M", estimatedrange: "100", soc: "50" },
      status: { units: "M", odometer: "123456" },
    });
    expect(units).toBe("M");
    expect(values.range).toBe(160.9);
    expect(values.odometer).toBe(19868.3);
  });

  it("keeps km as they are and uses the units it learned for a record without units", () => {
    expect(decodeVehicle({ status: { units: "K", odometer: "123456" } }).values.odometer).toBe(12345.6);
    // a pushed D record carries the odometer but no units
    expect(decodeVehicle({ status: { odometer: "1000" } }, "M").values.odometer).toBe(160.9);
    // no units known yet: no odometer rather than a wrong one
    expect(decodeVehicle({ status: { odometer: "1000" } }).values.odometer).toBeUndefined();
  });

  it("publishes nothing for empty records, so the last values stay", () => {
    const decoded = decodeVehicle({ charge: {}, status: {}, location: {}, tpms: {} });
    expect(decoded.empty).toBe(true);
    expect(decoded.values).toEqual({});
  });

  it("ignores empty strings, nulls (short messages) and text where numbers belong", () => {
    const { values } = decodeVehicle({
      charge: { soc: "", estimatedrange: null, chargepower: "n/a", chargelimit: " 16 " },
    });
    expect(values).toEqual({ chargeCurrent: 16 });
    expect(toNumber("1e3")).toBe(1000);
    expect(toNumber("12abc")).toBeUndefined();
  });

  it("reads both field-name generations (Nov 2024 renames)", () => {
    const old = decodeVehicle({ charge: { chargepower: "7.2", chargelimitsoc: "80" } }).values;
    const renamed = decodeVehicle({ charge: { charge_power: "7.2", charge_limit_soc: "80" } }).values;
    expect(old).toEqual({ chargePower: 7200, chargeLimitSoc: 80 });
    expect(renamed).toEqual(old);
  });

  it("takes charge power in kW, and a SoC limit of 0 as none", () => {
    const { values } = decodeVehicle({ charge: { chargepower: "11.04", charge_limit_soc: "0" } });
    expect(values.chargePower).toBe(11040);
    expect(values.chargeLimitSoc).toBeNull();
  });

  it("decodes temperatures and skips those whose stale indicator says the car has none (-1)", () => {
    const status = {
      temperature_battery: "21.5",
      temperature_motor: "0",
      temperature_charger: "0",
      temperature_cabin: "18",
      temperature_ambient: "0",
      staletemps: "-1",
      staleambient: "1",
    };
    const { values } = decodeVehicle({ status });
    expect(values["temperatures/battery"]).toBeUndefined();
    expect(values["temperatures/motor"]).toBeUndefined();
    expect(values["temperatures/cabin"]).toBe(18);
    expect(values["temperatures/ambient"]).toBe(0);
  });

  it("prefers the V3 record's kPa and converts the v2 record's psi", () => {
    const v3 = decodeVehicle({
      tpms: { fl_pressure_kpa: "240", fl_pressure: 34.8, fl_temperature: "20", staletpms: 1 },
    }).values;
    expect(v3["tyres/fl/pressure"]).toBe(240);
    expect(v3["tyres/fl/temperature"]).toBe(20);
    const v2 = decodeVehicle({ tpms: { fr_pressure: "34.8", fr_temperature: null, staletpms: "1" } }).values;
    expect(v2["tyres/fr/pressure"]).toBe(239.9);
    expect(v2["tyres/fr/temperature"]).toBeUndefined();
    const none = decodeVehicle({ tpms: { fr_pressure: "0", staletpms: "-1" } }).values;
    expect(none).toEqual({});
  });

  it("gives a position, and a tracker JSON, but not the 0,0 of a module without a fix", () => {
    const { values } = decodeVehicle({ location: { latitude: "47.376887", longitude: "8.541694" } });
    expect(values.latitude).toBe(47.376887);
    expect(values.longitude).toBe(8.541694);
    expect(JSON.parse(String(values.location))).toEqual({ latitude: 47.376887, longitude: 8.541694 });
    expect(decodeVehicle({ location: { latitude: "0", longitude: "0" } }).values).toEqual({});
  });

  it("reads the module connection from /api/vehicles and the message age", () => {
    const list = JSON.parse('[{"id":"DEMO","v_apps_connected":0,"v_btcs_connected":0,"v_net_connected":0}]');
    const entry = findVehicle(list, "demo");
    expect(entry?.id).toBe("DEMO");
    expect(decodeVehicle({ vehicle: entry }).values).toEqual({ moduleConnected: false });
    expect(findVehicle(list, "XYZ")).toBeUndefined();
    expect(findVehicle({ error: "x" }, "DEMO")).toBeUndefined();
  });

  it("links soc, range and odometer to a loadpoint under evcc's names", () => {
    expect(loadpointValues({ soc: 78, range: 180, charging: true }, "car")).toEqual({
      vehicleName: "car",
      vehicleSoc: 78,
      vehicleRange: 180,
    });
  });
});

describe("pushed v2 records", () => {
  function bothWays(patch: Partial<CarState>) {
    let now = Date.UTC(2025, 4, 1, 10);
    const car = new SimCar({ id: "DEMO", state: patch }, () => now);
    const pushed: Array<[string, string]> = [];
    car.onReport((records) => {
      for (const r of records) pushed.push([r.code, r.message]);
    });
    now += 1000;
    car.set({});
    const stored = car.records();
    const rest = decodeVehicle({
      charge: chargeJson(stored, now),
      status: statusJson(stored, now),
      tpms: tpmsJson(stored, now),
    }).values;
    const live: Record<string, unknown> = {};
    let units: "K" | "M" | undefined;
    for (const [code, message] of pushed) {
      const records = parsePushedRecord(code, message);
      if (!records) continue;
      const decoded = decodeVehicle(records, units);
      units = decoded.units ?? units;
      Object.assign(live, decoded.values);
    }
    delete rest.messageAge;
    return { rest, live };
  }

  it("decode to the same values as the REST API's split of them", () => {
    for (const patch of [
      { charging: true, pluggedIn: true, units: "M" as const, locked: false },
      { charging: false, pluggedIn: false, tpms: "W" as const, soc: 12.5 },
    ]) {
      const { rest, live } = bothWays(patch);
      expect(live).toMatchObject(rest);
      expect(rest.soc).toBe(patch.soc ?? 78);
      expect(rest.charging).toBe(patch.charging);
      expect(rest["tyres/rr/pressure"]).toBeCloseTo(231, 0);
      expect(Object.keys(rest).length).toBeGreaterThanOrEqual(20);
    }
  });

  it("skip lines without vehicle data", () => {
    expect(parsePushedRecord("Z", "1")).toBeUndefined();
    expect(parsePushedRecord("T", "0")).toBeUndefined();
    expect(parsePushedRecord("E", "Mabc")).toBeUndefined();
  });
});

describe("planWrite", () => {
  const enabled: WriteOptions = { configPath: "ovms[0]", commandsEnabled: true, shell: false };

  it("turns the SPEC §4 writes into v2 commands", () => {
    const plan = (key: string, payload: string) => {
      const result = planWrite(key, payload, enabled);
      return result.ok ? [result.command.code, ...result.command.params, result.command.value] : result.error;
    };
    expect(plan("charging", "true")).toEqual([11, true]);
    expect(plan("charging", "false")).toEqual([12, false]);
    expect(plan("chargeCurrent", "16")).toEqual([15, "16", 16]);
    expect(plan("chargeMode", "range")).toEqual([10, "3", "range"]);
    expect(plan("chargeMode", "performance")).toEqual([10, "4", "performance"]);
    expect(plan("wakeup", "PRESS")).toEqual([18, true]);
  });

  it("refuses bad payloads with a clear error", () => {
    for (const payload of ["0", "33", "16.5", "abc", "", "-3"]) {
      expect(planWrite("chargeCurrent", payload, enabled)).toEqual({
        ok: false,
        error: expect.stringMatching(/^chargeCurrent must be a whole number of amps, 1\.\.32 \(got /),
      });
    }
    expect(planWrite("charging", "maybe", enabled).ok).toBe(false);
    expect(planWrite("chargeMode", "eco", enabled)).toEqual({
      ok: false,
      error: 'chargeMode must be one of standard, storage, range, performance (got "eco")',
    });
    for (const name of Object.getOwnPropertyNames(Object.prototype)) {
      expect(planWrite("chargeMode", name, enabled).ok, name).toBe(false);
      expect(planWrite(name, "true", enabled).ok, name).toBe(false);
    }
  });

  it("knows locked and command only when the vehicle enables them", () => {
    // refusals of the opt-in writes say how to opt in
    expect(planWrite("locked", "true", enabled)).toEqual({
      ok: false,
      error:
        "locking is off for this car: set pin: ${OVMS_PIN} (its OVMS module PIN) on the vehicle in ovms[0].vehicles to enable locked/set",
    });
    expect(planWrite("command", "stat", enabled)).toEqual({
      ok: false,
      error:
        "raw shell commands are off for this car: set shell: true on the vehicle in ovms[0].vehicles to enable command/set",
    });
    // a number with a zero fraction is a whole number of amps
    const current = planWrite("chargeCurrent", "16.0", enabled);
    expect(current.ok && current.command.params).toEqual(["16"]);
    expect(planWrite("chargeCurrent", "16.5", enabled).ok).toBe(false);
    const lock = planWrite("locked", "false", { ...enabled, pin: "4711" });
    expect(lock.ok && [lock.command.code, lock.command.params]).toEqual([22, ["4711"]]);
    const shell = planWrite("command", "stat", { ...enabled, shell: true });
    expect(shell.ok && [shell.command.code, shell.command.params]).toEqual([7, ["stat"]]);
    expect(planWrite("command", "a\nb", { ...enabled, shell: true }).ok).toBe(false);
  });

  it("answers every write when commands are not configured, and unknown keys in any case", () => {
    expect(planWrite("charging", "true", { ...enabled, commandsEnabled: false })).toEqual({
      ok: false,
      error: "commands are off: remove ovms[0].commands: false (or set the v2 endpoint)",
    });
    const unknown = planWrite("soc", "50", enabled);
    expect(unknown.ok).toBe(false);
    expect(!unknown.ok && unknown.error).toMatch(/^this value is not writable \(writable: charging/);
  });

  it("reports the car's own result", () => {
    const plan = planWrite("charging", "true", enabled);
    if (!plan.ok) throw new Error(plan.error);
    const { command } = plan;
    expect(interpretReply(command, { code: 11, result: 0, text: "" })).toEqual({ ok: true, value: true });
    expect(interpretReply(command, { code: 11, result: 1, text: "not plugged in" })).toEqual({
      ok: false,
      error: "car refused: not plugged in",
    });
    expect(interpretReply(command, { code: 11, result: 2, text: "" })).toEqual({
      ok: false,
      error: "the car's module does not support start charge",
    });
    expect(interpretReply(command, { code: 11, result: 3, text: "" }).ok).toBe(false);
  });
});

describe("record freshness", () => {
  it("drops a polled record older than one already applied, so values never move backwards", () => {
    const applied = new Map<string, number>();
    const pushedAt = Date.parse("2025-05-01T10:00:07Z");
    const pushed = freshRecords({ charge: { soc: "43" } }, applied, pushedAt);
    expect(pushed.charge).toEqual({ soc: "43" });
    // a REST answer built from the report before the push
    const stale = freshRecords(
      { charge: { soc: "42", m_msgtime_s: "2025-05-01 10:00:00" }, location: {} },
      applied,
    );
    expect(stale.charge).toBeUndefined();
    expect(stale.location).toEqual({});
    const newer = freshRecords({ charge: { soc: "44", m_msgtime_s: "2025-05-01 10:00:12" } }, applied);
    expect(newer.charge?.soc).toBe("44");
  });
});

describe("pushed records decoded as REST reads them", () => {
  it("decodes charging from a lone S or D together with the other half last seen", () => {
    const parts: ChargingParts = {};
    const both = mergePushed(
      [
        { code: "D", data: "16,8,4" },
        { code: "S", data: "80,K,230,13,prepare" },
      ],
      false,
    );
    noteChargingParts(both.records, parts);
    // the car prepares while the D flag says charging: one state, charging
    for (const code of ["S", "D"]) {
      const line = code === "S" ? { code, data: "81,K,230,13,prepare" } : { code, data: "16,8,4" };
      const alone = mergePushed([line], false).records;
      expect(decodeVehicle(withChargingParts(alone, parts)).values.charging, code).toBe(true);
      expect(decodeVehicle(alone).values.charging === true, `${code} alone`).toBe(code === "D");
    }
  });

  it("takes tyres from Y and never from W once a Y was seen", () => {
    const replay = mergePushed(
      [
        { code: "W", data: "35.1,20,35.2,20,35.3,20,35.4,20,1" },
        { code: "Y", data: "4,fl,fr,rl,rr,4,251.3,249.6,238.2,240.7,1,4,20,21,19,20,1" },
      ],
      false,
    );
    expect(replay.sawY).toBe(true);
    expect(decodeVehicle(replay.records).values["tyres/fl/pressure"]).toBe(251.3);
    const lateW = mergePushed([{ code: "W", data: "35.1,20,35.2,20,35.3,20,35.4,20,1" }], replay.sawY);
    expect(lateW.records.tpms).toBeUndefined();
  });
});
