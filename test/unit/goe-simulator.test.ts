import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { STATUS_KEYS } from "../../src/goe/mapping.js";
import { GOE_SIM_BODIES, GoeSimulator } from "../../src/goe/simulator/server.js";

const CLOUD = "000001";
const LOCAL = "000002";
const TOKEN = "Cjk4BWbH8EcTFtY6dsWvTYz6CjBxifeO";
const HOUR = 3_600_000;

let clock = 0;
let sim: GoeSimulator;

beforeEach(async () => {
  clock = Date.UTC(2025, 0, 15, 12, 0, 0);
  sim = new GoeSimulator({
    now: () => clock,
    chargers: [
      { serial: CLOUD, token: TOKEN },
      { serial: LOCAL, mode: "local" },
    ],
  });
  await sim.start();
});

afterEach(async () => {
  await sim.stop();
});

interface Reply {
  status: number;
  text: string;
  headers: Headers;
  json: () => unknown;
}

/** `token` null sends no Authorization header. */
async function get(path: string, token: string | null = TOKEN): Promise<Reply> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const response = await fetch(`${sim.url}${path}`, { headers });
  const text = await response.text();
  return { status: response.status, text, headers: response.headers, json: () => JSON.parse(text) };
}

function nrg(serial = CLOUD): number[] {
  return sim.status(serial).nrg as number[];
}

describe("go-e simulator: status", () => {
  it("answers only the filtered keys, leaves unknown keys out and dates the data", async () => {
    const reply = await get(`/${CLOUD}/api/status?filter=amp,car,rfb,nrg,sse`);
    expect(reply.status).toBe(200);
    expect(Object.keys(reply.json() as object).sort()).toEqual(["amp", "car", "nrg", "sse"]);
    expect(reply.json()).toMatchObject({ amp: 16, car: 1, sse: CLOUD });
    expect(reply.headers.get("last-modified")).toBe(new Date(clock).toUTCString());
  });

  it("answers every modelled key without a filter, in the real idle shape", async () => {
    const body = (await get(`/${CLOUD}/api/status`)).json() as Record<string, unknown>;
    // every key the bridge asks for, plus the ones the bridge's writes touch
    for (const key of [...STATUS_KEYS, "trx", "acs", "dwo"]) expect(body).toHaveProperty(key);
    for (const key of ["rbc", "rbt", "wst", "tpa"]) expect(body).toHaveProperty(key);
    expect(body).toMatchObject({
      car: 1,
      alw: false,
      acu: null,
      fwv: "055.8",
      fna: `go-e-${CLOUD}`,
      var: 22,
    });
    expect(body.nrg).toEqual([230, 230, 230, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(body.pha).toEqual([false, false, false, true, true, true]);
  });

  it("refuses a missing or wrong token with 401 and accepts ?token=", async () => {
    expect((await get(`/${CLOUD}/api/status`, null)).status).toBe(401);
    const wrong = await get(`/${CLOUD}/api/status`, "nope");
    expect(wrong.status).toBe(401);
    expect(wrong.text).toBe(GOE_SIM_BODIES.unauthorized);
    expect((await get(`/${CLOUD}/api/status?token=${TOKEN}&filter=car`, null)).status).toBe(200);
    expect(sim.requests(CLOUD).map((entry) => [entry.status, entry.authorized])).toEqual([
      [401, false],
      [401, false],
      [200, true],
    ]);
  });

  it("answers 403 for an unknown or removed charger and 404 for other paths", async () => {
    expect((await get("/999999/api/status")).status).toBe(403);
    sim.removeCharger(CLOUD);
    const removed = await get(`/${CLOUD}/api/status`);
    expect(removed.status).toBe(403);
    expect(removed.text).toBe(GOE_SIM_BODIES.offline);
    expect((await get(`/${LOCAL}/api/other`)).status).toBe(404);
    expect((await get("/")).status).toBe(404);
  });

  it("needs no token in local mode", async () => {
    expect((await get(`/${LOCAL}/api/status?filter=car`, null)).json()).toEqual({ car: 1 });
  });
});

describe("go-e simulator: set", () => {
  it("answers 202 with succeeded and failed in cloud mode, and applies at once", async () => {
    const reply = await get(`/${CLOUD}/api/set?amp=10&xyz=1&car=2`);
    expect(reply.status).toBe(202);
    expect(reply.json()).toEqual({
      succeeded: [{ amp: 10 }],
      failed: [{ xyz: "unknown api key xyz" }, { car: "tried to set api key without setter" }],
    });
    expect(sim.status(CLOUD).amp).toBe(10);
  });

  it("knows no api key by an inherited name (constructor, toString, __proto__, …)", async () => {
    const names = ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf", "isPrototypeOf"];
    const reply = await get(`/${LOCAL}/api/set?${names.map((name) => `${name}={}`).join("&")}`);
    expect(reply.status).toBe(200);
    expect(reply.json()).toEqual(Object.fromEntries(names.map((name) => [name, `unknown api key ${name}`])));
    expect(sim.setCalls(LOCAL).at(-1)).toEqual(Object.fromEntries(names.map((name) => [name, {}])));
  });

  it("answers 422 when every key is rejected", async () => {
    const reply = await get(`/${CLOUD}/api/set?amp=40&frc=7&fup=1`);
    expect(reply.status).toBe(422);
    expect(reply.json()).toEqual({
      succeeded: [],
      failed: [
        { amp: "Value 40 exceeds range 6 to 32" },
        { frc: "Value 7 exceeds range 0 to 2" },
        { fup: "Expected bool, got 1" },
      ],
    });
    expect(sim.status(CLOUD)).toMatchObject({ amp: 16, frc: 0, fup: false });
  });

  it("reports a written eto as succeeded without changing it (the cloud quirk)", async () => {
    sim.update(CLOUD, { eto: 5000 });
    const reply = await get(`/${CLOUD}/api/set?amp=7&eto=0.0`);
    expect(reply.status).toBe(202);
    expect(reply.json()).toEqual({ succeeded: [{ amp: 7 }, { eto: 0 }], failed: [] });
    expect(sim.status(CLOUD).eto).toBe(5000);
  });

  it("answers 200 with a per-key object in local mode", async () => {
    const reply = await get(`/${LOCAL}/api/set?amp=10&fna="go"&eto=0`, null);
    expect(reply.status).toBe(200);
    expect(reply.json()).toEqual({
      amp: true,
      fna: "String length 2 exceeds range 4 to 64",
      eto: "tried to set api key without setter",
    });
    expect(sim.status(LOCAL).amp).toBe(10);
  });

  it("takes strings only JSON-quoted", async () => {
    const bare = await get(`/${LOCAL}/api/set?fna=Garage`);
    expect(bare.json()).toEqual({ fna: "invalid json InvalidInput: Garage" });
    const quoted = await get(`/${LOCAL}/api/set?fna=${encodeURIComponent('"Garage"')}`);
    expect(quoted.json()).toEqual({ fna: true });
    expect(sim.status(LOCAL).fna).toBe("Garage");
  });

  it("validates the writable keys like the charger", async () => {
    const reply = await get(
      `/${LOCAL}/api/set?amp=6.5&psm=2&lmo=2&acs=1&dwo=null&trx=11&tcl=5&ids=${encodeURIComponent('{"pGrid":-3000}')}`,
    );
    expect(reply.json()).toEqual({
      amp: "Expected integer, got 6.5",
      psm: true,
      lmo: "Value 2 exceeds range 3 to 5",
      acs: true,
      dwo: true,
      trx: "Value 11 exceeds range 0 to 10",
      tcl: "Value 5 exceeds range 6 to 32",
      ids: true,
    });
    expect(sim.status(LOCAL)).toMatchObject({ psm: 2, acs: 1, pgrid: -3000 });
    expect(sim.status(LOCAL)).not.toHaveProperty("ids");
  });

  it("records set calls and emits them as they arrive", async () => {
    const seen: Array<[string, Record<string, unknown>]> = [];
    sim.on("set", (serial, params) => seen.push([serial, params]));
    await get(`/${CLOUD}/api/set?amp=12&fna=${encodeURIComponent('"Garage"')}`);
    await get(`/${CLOUD}/api/set?frc=1`, "wrong");
    expect(seen).toEqual([[CLOUD, { amp: 12, fna: "Garage" }]]);
    expect(sim.setCalls(CLOUD)).toEqual([{ amp: 12, fna: "Garage" }]);
    expect(sim.requests().map((entry) => [entry.endpoint, entry.status])).toEqual([
      ["set", 202],
      ["set", 401],
    ]);
    expect(sim.requests(CLOUD)[0]?.query).toEqual({ amp: "12", fna: '"Garage"' });
    sim.clearLog();
    expect(sim.requests()).toEqual([]);
    expect(sim.setCalls(CLOUD)).toEqual([]);
  });

  it("regenerates the cloud token when cak is written", async () => {
    expect((await get(`/${CLOUD}/api/set?cak=1`)).status).toBe(202);
    expect(sim.token(CLOUD)).not.toBe(TOKEN);
    expect((await get(`/${CLOUD}/api/status`)).status).toBe(401);
  });
});

describe("go-e simulator: charging", () => {
  it("charges at amp × phases × 230 V once a car is plugged in, and frc=1 stops it", async () => {
    sim.plugIn(CLOUD);
    expect(sim.status(CLOUD)).toMatchObject({ car: 2, alw: true, acu: 16, modelStatus: 15, cbl: 32 });
    expect(nrg()).toEqual([230, 230, 230, 0, 16, 16, 16, 3680, 3680, 3680, 0, 11040, 100, 100, 100, 0]);
    expect(sim.status(CLOUD).pha).toEqual([true, true, true, true, true, true]);

    await get(`/${CLOUD}/api/set?frc=1`);
    expect(sim.status(CLOUD)).toMatchObject({ car: 3, alw: false, acu: 0, modelStatus: 4 });
    expect(nrg()[11]).toBe(0);

    await get(`/${CLOUD}/api/set?frc=2&amp=10`);
    expect(sim.status(CLOUD)).toMatchObject({ car: 2, modelStatus: 3 });
    expect(nrg()[11]).toBe(10 * 3 * 230);
  });

  it("caps the current at ama and at a temporary limit until it expires", () => {
    sim.addCharger({ serial: "000003", ama: 16, amp: 16, carConnected: true });
    sim.update("000003", { tcl: 8 });
    expect(nrg("000003")[11]).toBe(8 * 3 * 230);
    clock += 11 * 60_000;
    expect(sim.status("000003").tcl).toBeNull();
    expect(nrg("000003")[11]).toBe(16 * 3 * 230);
    // 10 min at 8 A, then 1 min at 16 A
    expect(sim.status("000003").wh).toBeCloseTo((5520 * 10 + 11040) / 60, 6);
  });

  it("counts wh and eto from the elapsed time, and unplugging resets wh only", () => {
    sim.plugIn(CLOUD);
    clock += HOUR / 2;
    expect(sim.status(CLOUD)).toMatchObject({ wh: 5520, eto: 5520 });
    clock += HOUR / 2;
    expect(sim.status(CLOUD)).toMatchObject({ wh: 11040, eto: 11040, cdi: { type: 1, value: HOUR } });
    sim.unplug(CLOUD);
    clock += HOUR;
    expect(sim.status(CLOUD)).toMatchObject({ car: 1, wh: 0, eto: 11040, acu: null, cbl: null });
  });

  it("averages power over 30 s in tpa", () => {
    sim.plugIn(CLOUD);
    clock += 15_000;
    expect(sim.status(CLOUD).tpa).toBe(5520);
    clock += 15_000;
    expect(sim.status(CLOUD).tpa).toBe(11040);
  });

  it("charges on one phase with psm=1 or a one-phase car", async () => {
    sim.plugIn(CLOUD);
    await get(`/${CLOUD}/api/set?psm=1`);
    expect(nrg()).toEqual([230, 230, 230, 0, 16, 0, 0, 3680, 0, 0, 0, 3680, 100, 0, 0, 0]);
    expect(sim.status(CLOUD).pha).toEqual([true, false, false, true, true, true]);
    sim.addCharger({ serial: "000004", phases: 1, carConnected: true, amp: 10 });
    expect(nrg("000004")[11]).toBe(2300);
  });

  it("charges on PV surplus only when it reaches 6 A on every phase", async () => {
    sim.plugIn(CLOUD);
    await get(`/${CLOUD}/api/set?lmo=4&fup=true`);
    sim.update(CLOUD, { pvSurplusW: 4000 });
    expect(sim.status(CLOUD)).toMatchObject({ car: 3, alw: false, modelStatus: 15 });
    sim.update(CLOUD, { pvSurplusW: 5000 });
    expect(sim.status(CLOUD)).toMatchObject({ car: 2, alw: true, acu: 7, modelStatus: 12 });
    expect(nrg()[11]).toBe(7 * 3 * 230);
    sim.update(CLOUD, { pvSurplusW: 40_000 });
    expect(nrg()[11]).toBe(16 * 3 * 230);
  });

  it("completes when the car is full or the energy limit dwo is reached", async () => {
    sim.plugIn(CLOUD);
    sim.update(CLOUD, { carFull: true });
    expect(sim.status(CLOUD)).toMatchObject({ car: 4, alw: true });
    expect(nrg()[11]).toBe(0);
    sim.update(CLOUD, { carFull: false });
    await get(`/${CLOUD}/api/set?dwo=1000`);
    clock += HOUR;
    expect(sim.status(CLOUD)).toMatchObject({ car: 4, wh: 1000, eto: 1000, modelStatus: 6 });
    expect(nrg()[11]).toBe(0);
  });

  it("waits for authorisation when access control is on", async () => {
    sim.plugIn(CLOUD);
    await get(`/${CLOUD}/api/set?acs=1`);
    expect(sim.status(CLOUD)).toMatchObject({ car: 3, modelStatus: 2 });
    await get(`/${CLOUD}/api/set?trx=0`);
    expect(sim.status(CLOUD).car).toBe(2);
  });

  it("pins computed keys set with update until they are cleared", () => {
    sim.update(CLOUD, { car: 5, err: 13, tma: ["err", 30] });
    expect(sim.status(CLOUD)).toMatchObject({ car: 5, err: 13, tma: ["err", 30] });
    sim.update(CLOUD, { car: undefined });
    expect(sim.status(CLOUD).car).toBe(1);
  });
});

describe("go-e simulator: faults", () => {
  it.each([
    [401, GOE_SIM_BODIES.unauthorized],
    [403, GOE_SIM_BODIES.offline],
    [429, '{"success":false,"reason":"Too Many Requests"}'],
    [500, '{"success":false,"reason":"Internal Server Error"}'],
  ])("answers %i with its body", async (status, body) => {
    sim.fault(CLOUD, { status });
    const reply = await get(`/${CLOUD}/api/status`);
    expect([reply.status, reply.text]).toEqual([status, body]);
  });

  it("answers 404 with the real 'Data is outdated' body", async () => {
    sim.fault(CLOUD, { status: 404 });
    clock += 60_000;
    const reply = await get(`/${CLOUD}/api/status`);
    expect(reply.status).toBe(404);
    const body = reply.json() as { success: boolean; reason: string; age: number };
    expect(body).toMatchObject({ success: false, reason: "Data is outdated" });
    expect(body.age).toBeGreaterThan(90);
    expect(Number.isInteger(body.age)).toBe(false);
  });

  it("answers 422 on set with every key failed, and does not apply them", async () => {
    sim.fault(CLOUD, { status: 422 });
    const reply = await get(`/${CLOUD}/api/set?amp=10`);
    expect([reply.status, reply.json()]).toEqual([422, { succeeded: [], failed: [{ amp: "rejected" }] }]);
    expect(sim.status(CLOUD).amp).toBe(16);
    expect(sim.setCalls(CLOUD)).toEqual([]);
  });

  it("answers 502 with nginx's HTML page", async () => {
    sim.fault(CLOUD, { status: 502 });
    const reply = await get(`/${CLOUD}/api/status`);
    expect(reply.status).toBe(502);
    expect(reply.headers.get("content-type")).toBe("text/html");
    expect(reply.text).toContain("<center><h1>502 Bad Gateway</h1></center>");
  });

  it("answers garbage, the wrong shape or a custom body with 200", async () => {
    sim.fault(CLOUD, { garbage: true, times: 1 });
    const garbage = await get(`/${CLOUD}/api/status`);
    expect(garbage.status).toBe(200);
    expect(() => garbage.json()).toThrow();
    sim.fault(CLOUD, { wrongShape: true, times: 2 });
    expect((await get(`/${CLOUD}/api/status`)).json()).toEqual({ nrg: "x", car: "y" });
    expect((await get(`/${CLOUD}/api/set?amp=10`)).json()).toEqual([]);
    sim.fault(CLOUD, { body: '{"amp":"sixteen"}' });
    expect((await get(`/${CLOUD}/api/status`)).text).toBe('{"amp":"sixteen"}');
  });

  it("resets the connection", async () => {
    sim.fault(CLOUD, { reset: true });
    await expect(fetch(`${sim.url}/${CLOUD}/api/status`)).rejects.toThrow();
    expect(sim.requests(CLOUD).at(-1)?.status).toBe(0);
  });

  it("delays the answer, with the set already applied", async () => {
    sim.fault(CLOUD, { delayMs: 150 });
    const started = performance.now();
    const reply = await get(`/${CLOUD}/api/set?amp=9`);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    expect(reply.status).toBe(202);
    expect(sim.status(CLOUD).amp).toBe(9);
  });

  it("stops promptly while an answer is delayed", async () => {
    sim.fault(CLOUD, { delayMs: 60_000 });
    const pending = fetch(`${sim.url}/${CLOUD}/api/status`).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = performance.now();
    await sim.stop();
    expect(performance.now() - started).toBeLessThan(1000);
    expect(await pending).toBeInstanceOf(Error);
  });

  it("limits a fault to some endpoints and clears it after `times` requests", async () => {
    sim.fault(CLOUD, { status: 500, paths: ["set"], times: 2 });
    expect((await get(`/${CLOUD}/api/status`)).status).toBe(200);
    expect((await get(`/${CLOUD}/api/set?amp=8`)).status).toBe(500);
    expect((await get(`/${CLOUD}/api/set?amp=8`)).status).toBe(500);
    expect((await get(`/${CLOUD}/api/set?amp=8`)).status).toBe(202);
    expect(sim.requests(CLOUD).map((entry) => entry.status)).toEqual([200, 500, 500, 202]);
  });

  it("clears a fault on request", async () => {
    sim.fault(CLOUD, { status: 500 });
    sim.fault(CLOUD, undefined);
    expect((await get(`/${CLOUD}/api/status`)).status).toBe(200);
  });
});

describe("go-e simulator: control interface", () => {
  it("plugs a car in, injects a fault and shows the state", async () => {
    const plug = await fetch(`${sim.url}/_sim/${CLOUD}/plug`, { method: "POST" });
    expect(((await plug.json()) as { status: { car: number } }).status.car).toBe(2);
    const fault = await fetch(`${sim.url}/_sim/${CLOUD}/fault`, {
      method: "POST",
      body: JSON.stringify({ status: 502, times: 1 }),
    });
    expect(fault.status).toBe(200);
    expect((await get(`/${CLOUD}/api/status`)).status).toBe(502);
    const state = (await (await fetch(`${sim.url}/_sim/${CLOUD}`)).json()) as {
      sim: Record<string, unknown>;
    };
    expect(state.sim).toMatchObject({ carConnected: true, fault: null, mode: "cloud" });
    const bad = await fetch(`${sim.url}/_sim/${CLOUD}/fault`, { method: "POST", body: '{"status":"x"}' });
    expect(bad.status).toBe(400);
  });
});
