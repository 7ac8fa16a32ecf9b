import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GoeSimulator } from "../../src/goe/simulator/server.js";

// The simulated charger's PV-surplus logic (`ids` with lmo 4 and fup), on the HTTP API the
// bridge uses, with a clock the test moves.

const SERIAL = "000001";
let clock = 0;
let sim: GoeSimulator;

beforeEach(async () => {
  clock = Date.UTC(2025, 6, 1, 12, 0, 0);
  sim = new GoeSimulator({
    now: () => clock,
    chargers: [{ serial: SERIAL, mode: "local", carConnected: true, amp: 16 }],
  });
  await sim.start();
});

afterEach(async () => {
  await sim.stop();
});

async function set(query: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${sim.url}/${SERIAL}/api/set?${query}`);
  return (await response.json()) as Record<string, unknown>;
}

/** Sends a grid reading as the bridge does: W, import positive. */
function ids(pGrid: number, extra: Record<string, number> = {}): Promise<Record<string, unknown>> {
  return set(`ids=${encodeURIComponent(JSON.stringify({ pGrid, ...extra }))}`);
}

const power = () => (sim.status(SERIAL).nrg as number[])[11];

describe("go-e simulator: PV surplus from ids", () => {
  beforeEach(async () => {
    expect(await set("frc=0&lmo=4&fup=true&acp=true&fst=1400&sh=200")).toEqual({
      frc: true,
      lmo: true,
      fup: true,
      acp: true,
      fst: true,
      sh: true,
    });
  });

  it("waits without a reading, starts once the export reaches fst, and echoes the reading", async () => {
    expect(sim.status(SERIAL)).toMatchObject({ car: 3, alw: false, pgrid: null });
    await ids(-1300, { pPv: 3000 });
    expect(sim.status(SERIAL)).toMatchObject({ car: 3, modelStatus: 17, pgrid: -1300, ppv: 3000 });
    // 4200 W export fits 6 A on three phases (4140 W)
    await ids(-4200, { pPv: 6000 });
    expect(sim.status(SERIAL)).toMatchObject({ car: 2, alw: true, acu: 6, modelStatus: 12 });
    expect(power()).toBe(6 * 3 * 230);
  });

  it("follows the surplus with whole amps, counting its own power", async () => {
    await ids(-9000);
    expect(sim.status(SERIAL).acu).toBe(13); // 9000 W / 690 W per amp
    // the meter now sees the charger: 8970 W charging, 1000 W still exported
    await ids(-1000);
    expect(sim.status(SERIAL).acu).toBe(14);
    await ids(3000); // a kettle: 3000 W import
    expect(sim.status(SERIAL).acu).toBe(9);
  });

  it("pauses when the import at the minimum current exceeds sh, unless acp forbids a pause", async () => {
    await ids(-4500);
    expect(sim.status(SERIAL).car).toBe(2);
    await ids(150); // at 6 A: 150 W import, within sh
    expect(sim.status(SERIAL)).toMatchObject({ car: 2, acu: 6 });
    await ids(250);
    expect(sim.status(SERIAL)).toMatchObject({ car: 3, alw: false, modelStatus: 17 });

    await set("acp=false");
    await ids(-5000);
    await ids(2000);
    expect(sim.status(SERIAL)).toMatchObject({ car: 2, acu: 6 });
  });

  it("forgets a reading after 10 s and stops charging from it", async () => {
    await ids(-8000);
    expect(sim.status(SERIAL).car).toBe(2);
    clock += 9_000;
    expect(sim.status(SERIAL)).toMatchObject({ car: 2, pgrid: -8000 });
    clock += 1_500;
    expect(sim.status(SERIAL)).toMatchObject({ car: 3, alw: false, pgrid: null, ppv: null });
    expect(sim.idsArrivals(SERIAL)).toHaveLength(1);
    // the energy stops counting at the moment of expiry, not at the next look
    const { wh } = sim.status(SERIAL);
    clock += 60_000;
    expect(sim.status(SERIAL).wh).toBe(wh);
  });

  it("charges at the minimum current mca, not below", async () => {
    sim.update(SERIAL, { mca: 8 });
    await ids(-4500); // fits 6 A, but the charger never goes below mca
    expect(sim.status(SERIAL).acu).toBe(8);
  });

  it("refuses bad thresholds and a non-object ids", async () => {
    expect(await set("fst=%22high%22")).toEqual({ fst: 'Expected number, got "high"' });
    expect(await set("ids=5")).toEqual({ ids: "Expected object, got 5" });
    expect(sim.idsArrivals(SERIAL)).toHaveLength(0);
  });
});
