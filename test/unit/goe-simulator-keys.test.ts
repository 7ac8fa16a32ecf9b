import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { localOffset, localTimeText, secondsOfLocalDay } from "../../src/goe/simulator/clock.js";
import { GoeSimulator } from "../../src/goe/simulator/server.js";

// The go-e simulator's model of the control keys beyond amp/frc/psm (issue 9): mca, dwo,
// automatic stop (lmo 5, ate, att), the wh reset on a phase switch, RFID cards, the time zone.

const SERIAL = "000001";
const HOUR = 3_600_000;
const FULL = 16 * 3 * 230;

let clock = 0;
let sim: GoeSimulator;

beforeEach(async () => {
  // 12:00 UTC is 13:00 at the simulator's default zone (tof 60, European DST; January: no DST)
  clock = Date.UTC(2025, 0, 15, 12, 0, 0);
  sim = new GoeSimulator({ now: () => clock, chargers: [{ serial: SERIAL, mode: "local" }] });
  await sim.start();
});

afterEach(async () => {
  await sim.stop();
});

async function set(query: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${sim.url}/${SERIAL}/api/set?${query}`);
  return (await response.json()) as Record<string, unknown>;
}

const power = () => (sim.status(SERIAL).nrg as number[])[11];

describe("go-e simulator: minimum current mca", () => {
  it("accepts 6..ama, raises a lower amp to it and gates surplus charging by it", async () => {
    expect(await set("mca=33")).toEqual({ mca: "Value 33 exceeds range 6 to 32" });
    expect(await set("mca=5")).toEqual({ mca: "Value 5 exceeds range 6 to 32" });
    sim.plugIn(SERIAL);
    expect(await set("amp=6&mca=10")).toEqual({ amp: true, mca: true });
    expect(sim.status(SERIAL)).toMatchObject({ mca: 10, amp: 6, acu: 10 });
    expect(power()).toBe(10 * 3 * 230);
    await set("amp=16&lmo=4&fup=true");
    sim.update(SERIAL, { pvSurplusW: 9 * 3 * 230 });
    expect(sim.status(SERIAL)).toMatchObject({ car: 3, alw: false });
    sim.update(SERIAL, { pvSurplusW: 11 * 3 * 230 });
    expect(sim.status(SERIAL)).toMatchObject({ car: 2, acu: 11, modelStatus: 12 });
  });
});

describe("go-e simulator: energy", () => {
  it("stops exactly at the energy limit dwo and charges on once it is lifted", async () => {
    sim.plugIn(SERIAL);
    await set("dwo=2500");
    clock += HOUR;
    expect(sim.status(SERIAL)).toMatchObject({ car: 4, wh: 2500, eto: 2500, modelStatus: 6 });
    await set("dwo=null");
    clock += HOUR / 2;
    expect(sim.status(SERIAL)).toMatchObject({ car: 2, wh: 2500 + FULL / 2 });
  });

  it("resets wh on a phase switch while eto keeps counting", async () => {
    sim.plugIn(SERIAL);
    clock += HOUR;
    expect(sim.status(SERIAL)).toMatchObject({ wh: FULL, eto: FULL });
    await set("psm=1");
    expect(sim.status(SERIAL)).toMatchObject({ wh: 0, eto: FULL });
    clock += HOUR;
    expect(sim.status(SERIAL)).toMatchObject({ wh: 3680, eto: FULL + 3680 });
    // writing the same psm again is no switch
    await set("psm=1");
    expect(sim.status(SERIAL).wh).toBe(3680);
  });

  it("credits a card's session to that card, in the shape of the firmware", async () => {
    sim.addCharger({ serial: "000002", mode: "local", fwv: "060.4", cards: ["Anna", "Ben"] });
    sim.addCharger({ serial: "000003", mode: "local", cards: ["Anna", "Ben"] });
    for (const serial of ["000002", "000003"]) {
      sim.plugIn(serial);
      sim.update(serial, { trx: 2 });
    }
    clock += HOUR;
    expect(sim.status("000002")).toMatchObject({ c0n: "Anna", c0e: 0, c1n: "Ben", c1e: FULL, c2n: "" });
    const legacy = sim.status("000003");
    expect(legacy).not.toHaveProperty("c1e");
    expect((legacy.cards as unknown[]).slice(0, 2)).toEqual([
      { name: "Anna", energy: 0, cardId: true },
      { name: "Ben", energy: FULL, cardId: true },
    ]);
    // a session without a card (trx 0) credits nobody; unplugging ends the transaction
    sim.update("000002", { trx: 0 });
    clock += HOUR;
    sim.unplug("000002");
    expect(sim.status("000002")).toMatchObject({ c0e: 0, c1e: FULL, trx: null });
  });

  it("reports the cable lock as locked while a car is connected", () => {
    expect(sim.status(SERIAL).cus).toBe(1);
    sim.plugIn(SERIAL);
    expect(sim.status(SERIAL).cus).toBe(3);
    sim.update(SERIAL, { cus: 4 });
    expect(sim.status(SERIAL).cus).toBe(4);
  });
});

describe("go-e simulator: automatic stop (next trip)", () => {
  it("charges toward ate, then stops as complete", async () => {
    sim.plugIn(SERIAL);
    // 13:00 local now; departure 18:00 leaves 5 h, enough for 11 kWh at 11.04 kW
    expect(await set(`lmo=5&ate=11000&att=${18 * 3600}`)).toEqual({ lmo: true, ate: true, att: true });
    expect(sim.status(SERIAL)).toMatchObject({ car: 2, modelStatus: 10 });
    clock += 2 * HOUR;
    expect(sim.status(SERIAL)).toMatchObject({ car: 4, wh: 11000, modelStatus: 18 });
    expect(power()).toBe(0);
  });

  it("says when att comes too soon, and follows the charger's time zone", async () => {
    sim.plugIn(SERIAL);
    // 13:30 local in tof 60: 30 min left, not enough for 11 kWh
    await set(`lmo=5&ate=11000&att=${13.5 * 3600}`);
    expect(sim.status(SERIAL).modelStatus).toBe(9);
    // the same att in UTC-5 (07:00 local now) is 6.5 h away: enough
    await set("tof=-300&tds=0");
    expect(sim.status(SERIAL)).toMatchObject({ modelStatus: 10, loc: "2025-01-15T07:00:00.000.000 -05:00" });
  });

  it("lets frc 2 override it, and the energy limit still applies", async () => {
    sim.plugIn(SERIAL);
    await set("lmo=5&ate=1000&dwo=3000");
    clock += HOUR;
    expect(sim.status(SERIAL)).toMatchObject({ car: 4, wh: 1000 });
    await set("frc=2");
    clock += HOUR;
    expect(sim.status(SERIAL)).toMatchObject({ car: 4, wh: 3000, modelStatus: 6 });
  });
});

describe("go-e simulator: the charger's clock", () => {
  it("applies European daylight saving at 01:00 UTC on the last Sundays of March and October", () => {
    const beforeSpring = Date.UTC(2025, 2, 30, 0, 59);
    expect(localOffset(beforeSpring, 60, 1)).toBe(60);
    expect(localOffset(beforeSpring + 60_000, 60, 1)).toBe(120);
    expect(localOffset(Date.UTC(2025, 9, 26, 0, 59), 60, 1)).toBe(120);
    expect(localOffset(Date.UTC(2025, 9, 26, 1, 0), 60, 1)).toBe(60);
    expect(localOffset(Date.UTC(2025, 6, 1), 0, 1)).toBe(60);
    expect(localOffset(Date.UTC(2025, 6, 1), 60, 0)).toBe(60);
  });

  it("applies US daylight saving at 02:00 local on the second Sunday of March and first of November", () => {
    // New York, tof -300: 2025-03-09 02:00 EST = 07:00 UTC; 2025-11-02 02:00 EDT = 06:00 UTC
    expect(localOffset(Date.UTC(2025, 2, 9, 6, 59), -300, 2)).toBe(-300);
    expect(localOffset(Date.UTC(2025, 2, 9, 7, 0), -300, 2)).toBe(-240);
    expect(localOffset(Date.UTC(2025, 10, 2, 5, 59), -300, 2)).toBe(-240);
    expect(localOffset(Date.UTC(2025, 10, 2, 6, 0), -300, 2)).toBe(-300);
  });

  it("counts att's seconds from local midnight and writes loc with the offset", () => {
    const at = Date.UTC(2025, 6, 1, 22, 30);
    expect(secondsOfLocalDay(at, 60, 1)).toBe(30 * 60);
    expect(localTimeText(at, 60, 1)).toBe("2025-07-02T00:30:00.000.000 +02:00");
    expect(localTimeText(at, -330, 0)).toBe("2025-07-01T17:00:00.000.000 -05:30");
  });
});
