import { describe, expect, it } from "vitest";
import { ChargerHistory } from "../../src/goe/history.js";
import { mapStatus } from "../../src/goe/mapping.js";
import { mapSettings } from "../../src/goe/mapping-settings.js";
import {
  type ChargerZone,
  chargerSecondsOfDay,
  chargerTimeText,
  nextOccurrence,
  offsetAt,
  parsePlanTime,
} from "../../src/goe/timezone.js";
import { planWrite } from "../../src/goe/writes.js";
import type { PlanContext } from "../../src/goe/writes-loadpoint.js";

// The loadpoint settings of issue 9 between the charger's keys and evcc's names: the time zone
// arithmetic of the departure plan, the values published, the session energy and the writes.

const VIENNA: ChargerZone = { tof: 60, tds: 1 };
const NEW_YORK: ChargerZone = { tof: -300, tds: 2 };
const UTC: ChargerZone = { tof: 0, tds: 0 };

describe("planTime in the charger's time zone", () => {
  it("takes HH:MM as the charger's own clock, whatever the zone", () => {
    expect(parsePlanTime("07:30", 0, undefined)).toEqual({ seconds: 27_000 });
    expect(parsePlanTime("7:05:09", 0, VIENNA)).toEqual({ seconds: 7 * 3600 + 5 * 60 + 9 });
    expect(parsePlanTime("24:00", 0, VIENNA)).toHaveProperty("error");
    expect(parsePlanTime("7.30", 0, VIENNA)).toHaveProperty("error");
  });

  it("converts RFC 3339 with the charger's offset, standard and daylight time", () => {
    const winter = Date.UTC(2025, 0, 15, 12);
    expect(parsePlanTime("2025-01-16T06:30:00Z", winter, VIENNA)).toEqual({ seconds: 7.5 * 3600 });
    expect(parsePlanTime("2025-01-16T07:30:00+01:00", winter, VIENNA)).toEqual({ seconds: 7.5 * 3600 });
    // the host's or the writer's offset does not matter: the instant is what counts
    expect(parsePlanTime("2025-01-16T01:30:00-05:00", winter, VIENNA)).toEqual({ seconds: 7.5 * 3600 });
    const summer = Date.UTC(2025, 6, 1, 12);
    expect(parsePlanTime("2025-07-02T05:30:00Z", summer, VIENNA)).toEqual({ seconds: 7.5 * 3600 });
    expect(parsePlanTime("2025-07-02T11:30:00Z", summer, NEW_YORK)).toEqual({ seconds: 7.5 * 3600 });
    expect(parsePlanTime("2025-07-02T07:30:00Z", summer, UTC)).toEqual({ seconds: 7.5 * 3600 });
  });

  it("uses the offset in force at the departure, across the night DST begins", () => {
    // Saturday 2025-03-29 21:00 CET; departure Sunday 07:30 CEST (05:30 UTC)
    const saturday = Date.UTC(2025, 2, 29, 20);
    expect(offsetAt(saturday, VIENNA)).toBe(60);
    expect(parsePlanTime("2025-03-30T05:30:00Z", saturday, VIENNA)).toEqual({ seconds: 7.5 * 3600 });
    const next = nextOccurrence(7.5 * 3600, saturday, VIENNA);
    expect(new Date(next).toISOString()).toBe("2025-03-30T05:30:00.000Z");
    expect(chargerTimeText(next, VIENNA)).toBe("2025-03-30T07:30:00+02:00");
    // and the night it ends, in New York: Sunday 2025-11-02 07:30 EST is 12:30 UTC
    const nySaturday = Date.UTC(2025, 10, 1, 23);
    const nyNext = nextOccurrence(7.5 * 3600, nySaturday, NEW_YORK);
    expect(new Date(nyNext).toISOString()).toBe("2025-11-02T12:30:00.000Z");
    expect(chargerTimeText(nyNext, NEW_YORK)).toBe("2025-11-02T07:30:00-05:00");
    expect(chargerSecondsOfDay(nyNext, NEW_YORK)).toBe(7.5 * 3600);
  });

  it("refuses what the charger's daily departure cannot hold, and a zone not yet known", () => {
    const now = Date.UTC(2025, 0, 15, 12);
    expect(parsePlanTime("2025-01-15T11:00:00Z", now, VIENNA)).toEqual({
      error: "planTime lies in the past",
    });
    expect(parsePlanTime("2025-01-17T07:00:00Z", now, VIENNA)).toMatchObject({
      error: expect.stringContaining("more than 24 h ahead"),
    });
    expect(parsePlanTime("2025-01-16T07:00:00Z", now, undefined)).toMatchObject({
      error: expect.stringContaining("time zone"),
    });
    expect(parsePlanTime("tomorrow", now, VIENNA)).toMatchObject({ error: expect.stringContaining("HH:MM") });
  });
});

describe("loadpoint settings published in evcc's names", () => {
  const now = Date.UTC(2025, 0, 15, 12);
  const base = { mca: 8, dwo: 12_500, fst: 1400, sh: 200, lmo: 3, ate: 18_000, att: 21_600, tof: 60, tds: 1 };

  it("maps minCurrent, limitEnergy, the thresholds with evcc's sign and the plan state", () => {
    expect(mapSettings(base, now)).toMatchObject({
      minCurrent: 8,
      limitEnergy: 12.5,
      enableThreshold: -1400,
      disableThreshold: 200,
      planActive: false,
      planEnergy: 0,
      planTime: null,
    });
    expect(mapSettings({ ...base, dwo: null, lmo: 5 }, now)).toMatchObject({
      limitEnergy: 0,
      planActive: true,
      planEnergy: 18,
      planTime: "2025-01-16T06:00:00+01:00",
    });
  });

  it("names the cable lock and the active RFID card, and counts energy per card", () => {
    const modern = { cus: 3, trx: 2, c0n: "Anna", c0e: 1234, c1n: "Ben", c1e: 5600, c2n: "", c2e: 0 };
    expect(mapSettings(modern, now)).toEqual({
      cableLock: "locked",
      rfidCard: "Ben",
      "rfidCards/1/name": "Anna",
      "rfidCards/1/energy": 1.234,
      "rfidCards/2/name": "Ben",
      "rfidCards/2/energy": 5.6,
    });
    const legacy = { cus: 4, trx: 0, cards: [{ name: "Anna", energy: 99, cardId: true }, { name: "" }] };
    expect(mapSettings(legacy, now)).toEqual({
      cableLock: "lockFailed",
      rfidCard: "no card",
      "rfidCards/1/name": "Anna",
      "rfidCards/1/energy": 0.099,
    });
    expect(mapSettings({ trx: null }, now)).toEqual({ rfidCard: "none" });
  });

  it("keeps the fallback minimum current where the charger does not report mca", () => {
    expect(mapStatus({ car: 1 }, undefined, now).minCurrent).toBe(6);
    expect(mapStatus({ car: 1, mca: 10 }, undefined, now).minCurrent).toBe(10);
  });
});

describe("sessionEnergy from the total counter", () => {
  it("keeps growing across go-e's wh reset on a phase switch", () => {
    const history = new ChargerHistory();
    expect(history.observe({ car: 1, eto: 10_000, wh: 0 })).toBe(0);
    expect(history.observe({ car: 2, eto: 10_000, wh: 0 })).toBe(0);
    expect(history.observe({ car: 2, eto: 13_000, wh: 3000 })).toBe(3000);
    // the phase switch: wh restarts, eto counts on
    expect(history.observe({ car: 2, eto: 13_100, wh: 0 })).toBe(3100);
    expect(history.observe({ car: 4, eto: 14_000, wh: 900 })).toBe(4000);
    // unplugged: the last session stays; the next car starts at 0
    expect(history.observe({ car: 1, eto: 14_000, wh: 0 })).toBe(4000);
    expect(history.observe({ car: 3, eto: 14_000, wh: 0 })).toBe(0);
  });

  it("counts from the plug-in, not from the poll that first sees the car", () => {
    const history = new ChargerHistory();
    history.observe({ car: 1, eto: 10_000, wh: 0 });
    expect(history.observe({ car: 2, eto: 10_150, wh: 150 })).toBe(150);
    // a wh left over from the last session is no start before the car came
    const sticky = new ChargerHistory();
    sticky.observe({ car: 1, eto: 10_000, wh: 4000 });
    expect(sticky.observe({ car: 2, eto: 10_150, wh: 4150 })).toBe(150);
  });

  it("falls back to wh where eto cannot tell: started mid-session, no eto, a reset counter", () => {
    const history = new ChargerHistory();
    // the bridge starts while a car charges: the session began at eto - wh
    expect(history.observe({ car: 2, eto: 50_000, wh: 2500 })).toBe(2500);
    expect(history.observe({ car: 2, eto: 51_000, wh: 3500 })).toBe(3500);
    expect(history.observe({ car: 2, eto: 100, wh: 3600 })).toBe(3600);
    expect(new ChargerHistory().observe({ car: 2, wh: 42 })).toBe(42);
  });
});

describe("loadpoint writes, checked against the charger before sending", () => {
  const status = { ama: 16, amp: 12, mca: 6, lmo: 4, tof: 60, tds: 1, fst: 1400, sh: 200 };
  const context = (lmo = 4): PlanContext => ({
    nowMs: Date.UTC(2025, 0, 15, 12),
    logicModeAfterPlan: () => lmo,
  });
  const plan = (key: string, payload: string, s: Record<string, unknown> = status) =>
    planWrite(key, payload, s, new Set(), context());
  const params = (key: string, payload: string, s?: Record<string, unknown>) => {
    const result = plan(key, payload, s);
    return "error" in result ? result.error : result.params;
  };

  it("minCurrent: 6..ama, never above maxCurrent", () => {
    expect(params("minCurrent", "10")).toEqual({ mca: 10 });
    expect(params("minCurrent", "13")).toMatch(/above maxCurrent 12 A/);
    expect(params("minCurrent", "17", { ...status, amp: 16 })).toMatch(/6\.\.16/);
    expect(params("minCurrent", "20", { ...status, ama: 32, amp: 32 })).toEqual({ mca: 20 });
    for (const bad of ["5", "7.5", "-6", "", "1e1"])
      expect(params("minCurrent", bad)).toMatch(/minCurrent must/);
  });

  it("maxCurrent below minCurrent is refused", () => {
    expect(params("maxCurrent", "7", { ...status, mca: 8 })).toMatch(/below minCurrent 8/);
    expect(params("maxCurrent", "8", { ...status, mca: 8 })).toEqual({ amp: 8 });
  });

  it("limitEnergy: kWh to dwo Wh, 0 and none lift the limit", () => {
    expect(params("limitEnergy", "12.5")).toEqual({ dwo: 12_500 });
    expect(params("limitEnergy", "0")).toEqual({ dwo: null });
    expect(params("limitEnergy", "none")).toEqual({ dwo: null });
    for (const bad of ["-1", "201", "abc", "NaN", "Infinity"]) {
      expect(params("limitEnergy", bad)).toMatch(/limitEnergy must be kWh/);
    }
  });

  it("the departure plan: energy, time, evcc's JSON, and none back to the previous mode", () => {
    expect(params("planEnergy", "20")).toEqual({ lmo: 5, ate: 20_000 });
    expect(params("planTime", "07:30")).toEqual({ lmo: 5, att: 27_000 });
    expect(params("planTime", "2025-01-16T06:30:00Z")).toEqual({ lmo: 5, att: 27_000 });
    expect(params("planEnergy", '{"time":"2025-01-16T07:30:00+01:00","value":15}')).toEqual({
      lmo: 5,
      ate: 15_000,
      att: 27_000,
    });
    expect(params("planTime", "none")).toEqual({ lmo: 4 });
    expect(params("planEnergy", "0")).toEqual({ lmo: 4 });
    expect(params("planEnergy", '{"value":15}')).toMatch(/must be \{"time"/);
    const answer = plan("planTime", "07:30");
    expect("error" in answer ? answer.error : answer.expected).toBe("2025-01-16T07:30:00+01:00");
  });

  it("thresholds in evcc's sign, bounded by the charger's power on three phases", () => {
    expect(params("enableThreshold", "-1400")).toEqual({ fst: 1400 });
    expect(params("enableThreshold", "0")).toEqual({ fst: 0 });
    expect(params("enableThreshold", "500")).toMatch(/-11040\.\.0/);
    expect(params("enableThreshold", "-11050")).toMatch(/-11040\.\.0/);
    expect(params("enableThreshold", "-22080", { ...status, ama: 32 })).toEqual({ fst: 22_080 });
    expect(params("disableThreshold", "200")).toEqual({ sh: 200 });
    expect(params("disableThreshold", "-200")).toMatch(/cannot be negative/);
  });

  it("mode: smart is evcc's new name for pv; minpv is refused with the reason", () => {
    expect(params("mode", "smart")).toEqual(params("mode", "pv"));
    expect(params("mode", "smart")).toMatchObject({ frc: 0, lmo: 4, fup: true });
    expect(params("mode", "minpv")).toMatch(/minpv/);
  });
});
