import { describe, expect, it } from "vitest";
import { chargeMode, mapStatus } from "../../src/goe/mapping.js";

// The idle status captured from a real charger (fw 053.1, 11 kW; reference A3), trimmed to the
// keys the bridge asks for.
const IDLE_CAPTURE = {
  acs: 0,
  acu: 10,
  alw: true,
  ama: 16,
  amp: 10,
  car: 1,
  cbl: null,
  err: 0,
  eto: 0,
  frc: 0,
  fwv: "053.1",
  lmo: 3,
  modelStatus: 15,
  nrg: [15, 0, 0, 223, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  pha: [false, false, false, true, false, false],
  psm: 2,
  tma: [24.25, 28.25],
  var: 11,
  wh: 0,
};

// A charging fragment of a real device (reference A3) plus the keys evcc needs.
const CHARGING = {
  car: 2,
  alw: true,
  frc: 0,
  lmo: 3,
  amp: 14,
  psm: 0,
  ama: 32,
  eto: 333661,
  wh: 35546.84,
  nrg: [227, 228, 227, 1, 13.8, 14.1, 13.9, 3200, 3200, 3200, 0, 9730, 100, 100, 100, 9],
  pha: [true, true, true, true, true, true],
};

describe("go-e status → loadpoint values", () => {
  it("maps a real charging payload", () => {
    const values = mapStatus(CHARGING, "Garage");
    expect(values).toMatchObject({
      title: "Garage",
      chargePower: 9730,
      "chargeCurrents/l1": 13.8,
      "chargeCurrents/l2": 14.1,
      "chargeCurrents/l3": 13.9,
      "chargeVoltages/l1": 227,
      "chargeVoltages/l2": 228,
      "chargeVoltages/l3": 227,
      connected: true,
      charging: true,
      enabled: true,
      chargerStatus: "C",
      mode: "now",
      maxCurrent: 14,
      phasesConfigured: 0,
      phasesActive: 3,
      sessionEnergy: 35546.84,
      chargeTotalImport: 333.661,
    });
  });

  it("maps the real idle capture (psm 2 = 3 phases, no car)", () => {
    const values = mapStatus(IDLE_CAPTURE);
    expect(values).toMatchObject({
      connected: false,
      charging: false,
      chargerStatus: "A",
      chargePower: 0,
      phasesConfigured: 3,
      phasesActive: 0,
      maxCurrentLimit: 16,
      temperature: 28.25,
      cableLimit: null,
      chargerStatusReason: "chargingFallbackDefault",
    });
  });

  it("decodes leniently: null car, string temperatures, missing psm, short nrg", () => {
    const values = mapStatus({ car: null, tma: ["err", 31.5], nrg: [1, 2], amp: "12" });
    expect(values.chargerStatus).toBe("E");
    expect(values.temperature).toBe(31.5);
    expect(values.phasesConfigured).toBeUndefined();
    expect(values.chargePower).toBeUndefined();
    expect(values.maxCurrent).toBe(12);
    expect(values.connected).toBe(false);
  });

  it("reports an error state from err even while a car is connected", () => {
    expect(mapStatus({ car: 3, err: 13 }).chargerStatus).toBe("E");
    expect(mapStatus({ car: 4, err: 0 }).chargerStatus).toBe("B");
  });

  it("derives the evcc mode from frc, lmo and fup", () => {
    expect(chargeMode({ frc: 1 })).toBe("off");
    expect(chargeMode({ frc: 2 })).toBe("now");
    expect(chargeMode({ frc: 0, lmo: 4, fup: true })).toBe("pv");
    expect(chargeMode({ frc: 0, lmo: 3, fup: false })).toBe("now");
    // fup counts only in Eco logic: not in Default, not while a departure plan runs
    expect(chargeMode({ frc: 0, lmo: 3, fup: true })).toBe("now");
    expect(chargeMode({ frc: 0, lmo: 5, fup: true })).toBe("now");
    expect(chargeMode({})).toBeUndefined();
  });
});
