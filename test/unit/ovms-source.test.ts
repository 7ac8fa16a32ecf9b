import { Writable } from "node:stream";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { OvmsConfig } from "../../src/config/schema.js";
import { createOvmsSources, type OvmsSource } from "../../src/ovms/index.js";
import { OvmsSimulator, type OvmsSimulatorOptions } from "../../src/ovms/simulator/server.js";
import type { Logger } from "../../src/util/log.js";
import { silentLogger } from "../../src/util/log.js";
import { RecordingSink, waitFor } from "../helpers/recording-sink.js";

const PASSWORD = "pw-Zq8-never-shown";
const TOPIC = "vehicles/demo";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Setup {
  sim?: OvmsSimulatorOptions;
  config?: Partial<OvmsConfig>;
  commands?: boolean;
  logger?: Logger;
}

async function setup(options: Setup = {}) {
  // the expiry sweep at once: tests move the clock instead of waiting 10 s
  const sim = new OvmsSimulator({ password: PASSWORD, sweepMs: 50, ...options.sim });
  const urls = await sim.start();
  cleanups.push(() => sim.stop());
  const config: OvmsConfig = {
    url: urls.restUrl,
    username: "demo",
    password: PASSWORD,
    commands: options.commands === false ? undefined : urls.commandsUrl,
    interval: 400,
    activeInterval: 100,
    restInterval: 60_000,
    timeout: 2000,
    commandTimeout: 500,
    rejectUnauthorized: true,
    vehicles: [{ id: "DEMO", shell: false }],
    ...options.config,
  };
  const [source] = createOvmsSources([config], {
    logger: options.logger ?? silentLogger(),
    minSpacingMs: 0,
    v2: { reconnectMinMs: 50 },
    // after a 429 requests pause for a minute; here for a moment
    rateLimitPauseMs: 300,
  });
  if (!source) throw new Error("no source");
  const sink = new RecordingSink();
  await source.start(sink);
  cleanups.push(() => source.stop());
  return { sim, sink, source: source as OvmsSource };
}

function device(sink: RecordingSink, topic = TOPIC) {
  const found = sink.devices.get(topic);
  if (!found?.write) throw new Error(`no writable device ${topic}`);
  return found as Required<typeof found>;
}

const count = (sim: OvmsSimulator, path: string) => sim.requestLog.filter((r) => r.path === path).length;

describe("OvmsSource reads", () => {
  it("publishes every vehicle value, decoded, converted and in SPEC units", async () => {
    const { sink } = await setup({
      commands: false,
      sim: {
        vehicles: [
          { id: "DEMO" },
          {
            id: "YANK",
            state: { units: "M", fullRange: 200, soc: 50, odometer: 1000, tpms: "W", awake: true },
          },
        ],
      },
      config: {
        vehicles: [
          { id: "DEMO", shell: false },
          { id: "YANK", name: "pickup", shell: false },
        ],
      },
    });
    await waitFor(() => sink.polls.includes(TOPIC) && sink.polls.includes("vehicles/pickup"), 5000, "polls");
    const demo = Object.fromEntries(sink.state.get(TOPIC) ?? []);
    expect(demo).toMatchObject({
      soc: 78,
      range: 179.4,
      odometer: 12345.6,
      charging: false,
      pluggedIn: false,
      chargeState: "stopped",
      chargeMode: "standard",
      chargePower: 0,
      chargeCurrent: 13,
      chargeCurrentMeasured: 0,
      chargeLimitSoc: 90,
      locked: true,
      latitude: 47.376887,
      longitude: 8.541694,
      "temperatures/battery": 21,
      "temperatures/cabin": 17.5,
      "temperatures/ambient": 14,
      "temperatures/motor": 19,
      "temperatures/charger": 18,
      "tyres/fl/pressure": 240,
      "tyres/rr/pressure": 231,
      moduleConnected: true,
    });
    expect(JSON.parse(String(demo.location))).toEqual({ latitude: 47.376887, longitude: 8.541694 });
    expect(demo.messageAge).toEqual(expect.any(Number));
    // miles: range 100 mi, odometer 1000 mi, tyres sent in psi
    expect(sink.value("vehicles/pickup", "range")).toBe(160.9);
    expect(sink.value("vehicles/pickup", "odometer")).toBe(1609.3);
    expect(sink.value("vehicles/pickup", "tyres/fl/pressure")).toBeCloseTo(240, 0);
    expect(sink.online(TOPIC)).toBe(true);
    expect(sink.lastError(TOPIC)).toBe("");

    const description = sink.devices.get(TOPIC)?.describe();
    expect(description).toMatchObject({
      id: "ovms-127.0.0.1-DEMO",
      topic: TOPIC,
      kind: "vehicle",
      manufacturer: "Open Vehicle Monitoring System",
      model: "OVMS vehicle",
    });
    const kinds = Object.fromEntries(description?.entities.map((e) => [e.key, e.kind]) ?? []);
    expect(kinds).toMatchObject({
      location: "tracker",
      chargeCurrent: "sensor",
      charging: "binary",
      soc: "sensor",
    });
    expect(kinds.wakeup).toBeUndefined();
  });

  it("keeps a parked car online with its last values when its module is not connected", async () => {
    const { sim, sink } = await setup({ commands: false });
    await waitFor(() => sink.value(TOPIC, "soc") === 78);
    sim.setCarConnected(false);
    await waitFor(() => sink.value(TOPIC, "moduleConnected") === false, 3000, "moduleConnected=false");
    expect(sink.online(TOPIC)).toBe(true);
    expect(sink.value(TOPIC, "soc")).toBe(78);
  });

  it("keeps the last values when the server answers {} for the records", async () => {
    const { sim, sink } = await setup({ commands: false });
    await waitFor(() => sink.value(TOPIC, "soc") === 78);
    sim.fault({ path: /\/api\/(charge|status|location|tpms)\//, status: 200, body: "{}\n", times: 8 });
    sim.setCarState({ soc: 50 });
    const polls = sink.polls.length;
    await waitFor(() => count(sim, "/api/status/DEMO") >= 3, 5000, "polls answered {}");
    expect(sink.value(TOPIC, "soc")).toBe(78);
    expect(sink.value(TOPIC, "chargeState")).toBe("stopped");
    expect(sink.online(TOPIC)).toBe(true);
    expect(sink.polls.length).toBe(polls);
    await waitFor(() => sink.value(TOPIC, "soc") === 50, 5000, "fresh soc after the empty answers");
  });

  it("reads /api/status again only after the car has reported", async () => {
    let now = Date.now() - 60_000;
    const { sim, sink } = await setup({ commands: false, sim: { now: () => now } });
    now += 60_000; // the car's records are a minute old
    await waitFor(() => count(sim, "/api/charge/DEMO") >= 4, 5000, "four polls");
    expect(count(sim, "/api/status/DEMO")).toBe(1);
    now += 10_000;
    sim.setCarState({ odometer: 12400 });
    now += 10_000;
    await waitFor(() => sink.value(TOPIC, "odometer") === 12400, 3000, "new odometer");
    expect(count(sim, "/api/status/DEMO")).toBe(2);
  });

  it("takes a vehicle the account does not have offline with a clear error", async () => {
    const { sink } = await setup({ commands: false, config: { vehicles: [{ id: "XYZ", shell: false }] } });
    await waitFor(() => sink.online("vehicles/xyz") === false);
    expect(sink.lastError("vehicles/xyz")).toBe("vehicle XYZ is not on this OVMS account");
  });

  it("goes offline on 429 and recovers by itself when the quota refills", async () => {
    let now = Date.now();
    const { sim, sink } = await setup({
      commands: false,
      sim: { now: () => now, rateLimit: { burst: 4, perMinute: 60, holdMs: 50 } },
    });
    await waitFor(() => sink.online(TOPIC) === false, 5000, "offline");
    expect(sink.lastError(TOPIC)).toMatch(/429/);
    // no request during the pause after the bare 429
    const refused = sim.requestLog.findIndex((r) => r.status === 429);
    const after = sim.requestLog.slice(refused + 1);
    expect(after.every((r) => r.at - (sim.requestLog[refused]?.at ?? 0) >= 250)).toBe(true);
    now += 60_000;
    await waitFor(() => sink.online(TOPIC) === true, 5000, "back online");
    expect(sim.requestLog.some((r) => r.status === 429)).toBe(true);
  });
});

describe("OvmsSource session", () => {
  async function expiring(oldServer: boolean) {
    let now = Date.now();
    const { sim, sink } = await setup({
      commands: false,
      sim: { now: () => now, sessionLifetimeMs: 120_000, oldServer },
    });
    await waitFor(() => count(sim, "/api/charge/DEMO") >= 3, 5000, "three polls");
    expect(sim.logins).toBe(1);
    now += 121_000;
    const before = sim.requestLog.length;
    await waitFor(() => sim.logins === 2 && count(sim, "/api/charge/DEMO") >= 6, 5000, "renewed session");
    const after = sim.requestLog.slice(before).map((r) => `${r.status} ${r.path}`);
    const refused = after.findIndex((line) => line.startsWith(oldServer ? "404" : "401"));
    expect(refused).toBeGreaterThanOrEqual(0);
    expect(after[refused + 1]).toBe("200 /api/cookie");
    expect(after[refused + 2]).toBe(after[refused]?.replace(/^\d+/, "200"));
    expect(sim.logins).toBe(2);
    expect(sink.availabilityLog.filter((a) => !a.online)).toEqual([]);
  }

  it("logs in once, and again once when the session expires mid-run (401)", () => expiring(false));

  it("logs in again on an old server's 404", () => expiring(true));

  it("reports refused credentials without the password, in errors, values and logs", async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = pino({ level: "trace" }, stream);
    const sim = new OvmsSimulator({ password: "the-right-one" });
    const urls = await sim.start();
    cleanups.push(() => sim.stop());
    const [source] = createOvmsSources(
      [
        {
          url: urls.restUrl,
          username: "demo",
          password: PASSWORD,
          commands: urls.commandsUrl,
          interval: 300,
          activeInterval: 100,
          restInterval: 60_000,
          timeout: 2000,
          commandTimeout: 300,
          rejectUnauthorized: true,
          vehicles: [{ id: "DEMO", shell: false }],
        },
      ],
      { logger, minSpacingMs: 0, v2: { reconnectMinMs: 50 } },
    );
    const sink = new RecordingSink();
    await source?.start(sink);
    cleanups.push(() => source?.stop());
    await waitFor(() => sink.online(TOPIC) === false);
    expect(sink.lastError(TOPIC)).toMatch(/login refused: wrong username or password/);
    const result = await device(sink).write("charging", "true");
    expect(result.ok).toBe(false);
    const everything = JSON.stringify([
      sink.availabilityLog,
      [...sink.state.entries()].map(([t, v]) => [t, [...v]]),
      result,
      lines,
    ]);
    expect(lines.length).toBeGreaterThan(0);
    expect(everything).not.toContain(PASSWORD);
    expect(everything).not.toContain(encodeURIComponent(PASSWORD));
  });
});

describe("OvmsSource fast mode", () => {
  it("polls fast and connects as a peer while charging, and leaves when it stops", async () => {
    let now = Date.now();
    const { sim, sink } = await setup({
      commands: false,
      config: { interval: 1500, activeInterval: 100 },
      sim: { now: () => now, vehicles: [{ id: "DEMO", socPerMinute: 1, connectedReportMs: 10_000 }] },
    });
    await waitFor(() => sink.value(TOPIC, "charging") === false);
    expect(sim.peerConnected()).toBe(false);
    sim.setCarState({ charging: true });
    await waitFor(() => sim.peerConnected(), 5000, "peer connect");
    const start = count(sim, "/api/charge/DEMO");
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(count(sim, "/api/charge/DEMO") - start).toBeGreaterThanOrEqual(5);
    // position and tyres are read at the normal interval only
    expect(count(sim, "/api/location/DEMO")).toBeLessThanOrEqual(3);
    // ten minutes of charging later, the car has reported a higher SoC
    now += 600_000;
    sim.sweepSessions(); // as the server's 10 s sweep would, before the next poll
    await waitFor(() => sink.value(TOPIC, "soc") === 88, 2000, "soc 88");
    expect(sink.value(TOPIC, "chargeCurrentMeasured")).toBe(13);
    expect(sink.value(TOPIC, "chargePower")).toBe(2990);
    // the session died meanwhile (120 s after login), and the peer connection with it
    expect(sim.logins).toBe(2);
    expect(sim.peerConnected()).toBe(true);

    sim.setCarState({ charging: false });
    await waitFor(() => !sim.peerConnected(), 5000, "peer disconnect");
    expect(sim.requestLog.some((r) => r.method === "DELETE" && r.path === "/api/vehicle/DEMO")).toBe(true);
    const idle = count(sim, "/api/charge/DEMO");
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(count(sim, "/api/charge/DEMO") - idle).toBeLessThanOrEqual(1);
  });

  it("polls fast while its loadpoint has a car connected, and publishes there", async () => {
    const { sim, sink, source } = await setup({
      commands: false,
      config: {
        interval: 1500,
        activeInterval: 100,
        vehicles: [{ id: "DEMO", name: "car", loadpoint: 2, shell: false }],
      },
    });
    await waitFor(() => sink.value("loadpoints/2", "vehicleSoc") === 78);
    expect(Object.fromEntries(sink.state.get("loadpoints/2") ?? [])).toEqual({
      vehicleName: "car",
      vehicleSoc: 78,
      vehicleRange: 179.4,
      vehicleOdometer: 12345.6,
    });
    expect(sink.availabilityLog.map((a) => a.topic)).not.toContain("loadpoints/2");
    source.setLoadpointConnected(1, true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sim.peerConnected()).toBe(false);
    source.setLoadpointConnected(2, true);
    await waitFor(() => sim.peerConnected(), 2000, "peer connect");
    const start = count(sim, "/api/charge/DEMO");
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(count(sim, "/api/charge/DEMO") - start).toBeGreaterThanOrEqual(4);
    sim.setCarState({ soc: 81 });
    await waitFor(() => sink.value("loadpoints/2", "vehicleSoc") === 81, 2000);
    source.setLoadpointConnected(2, false);
    await waitFor(() => !sim.peerConnected(), 2000, "peer disconnect");
  });
});

describe("OvmsSource writes", () => {
  it("stops charging on charging/set false, answers with the car's result and reads back", async () => {
    const { sim, sink } = await setup({ sim: { vehicles: [{ id: "DEMO", state: { charging: true } }] } });
    await waitFor(() => sink.value(TOPIC, "charging") === true);
    const result = await device(sink).write("charging", "false");
    expect(result).toEqual({ ok: true, value: false });
    expect(sim.carState().charging).toBe(false);
    expect(sim.commandLog).toEqual(["C12"]);
    await waitFor(() => sink.value(TOPIC, "charging") === false, 2000, "charging=false published");
  });

  it("sets current and mode, and the values read back as written", async () => {
    const { sim, sink } = await setup();
    await waitFor(() => sink.online(TOPIC));
    expect(await device(sink).write("chargeCurrent", "16")).toEqual({ ok: true, value: 16 });
    expect(await device(sink).write("chargeMode", "storage")).toEqual({ ok: true, value: "storage" });
    expect(sim.commandLog).toEqual(["C15,16", "C10,1"]);
    await waitFor(
      () => sink.value(TOPIC, "chargeCurrent") === 16 && sink.value(TOPIC, "chargeMode") === "storage",
    );
    const kinds = Object.fromEntries(
      device(sink)
        .describe()
        .entities.map((e) => [e.key, e.kind]),
    );
    expect(kinds).toMatchObject({
      chargeCurrent: "number",
      chargeMode: "select",
      charging: "switch",
      wakeup: "button",
    });
  });

  it("refuses a bad payload or an unknown key without sending any command", async () => {
    const { sim, sink } = await setup();
    await waitFor(() => sink.online(TOPIC));
    const { write } = device(sink);
    expect(await write("chargeCurrent", "40")).toEqual({
      ok: false,
      error: 'chargeCurrent must be a whole number of amps, 1..32 (got "40")',
    });
    expect(await write("chargeCurrent", "sixteen")).toMatchObject({ ok: false });
    expect(await write("chargeMode", "turbo")).toMatchObject({ ok: false });
    expect(await write("locked", "true")).toMatchObject({ ok: false });
    expect(await write("soc", "100")).toMatchObject({ ok: false });
    expect(sim.commands).toBe(0);
  });

  it("tells the car's refusal, an unsupported command, and a car that does not answer", async () => {
    const { sim, sink } = await setup();
    await waitFor(() => sink.online(TOPIC));
    sim.refuse(11, "Charge port not plugged in");
    expect(await device(sink).write("charging", "true")).toEqual({
      ok: false,
      error: "car refused: Charge port not plugged in",
    });
    sim.unsupported(18);
    expect(await device(sink).write("wakeup", "")).toEqual({
      ok: false,
      error: "the car's module does not support wake up",
    });
    sim.setCarConnected(false);
    expect(await device(sink).write("chargeMode", "range")).toEqual({
      ok: false,
      error: "the car did not answer within 500ms (is its module online?)",
    });
  });

  it("answers every write when commands are not configured", async () => {
    const { sink } = await setup({ commands: false });
    expect(await device(sink).write("charging", "true")).toEqual({
      ok: false,
      error: "commands are off: remove ovms[0].commands: false (or set the v2 endpoint)",
    });
  });

  it("locks with the PIN and runs shell commands only when configured", async () => {
    const { sim, sink } = await setup({
      config: { vehicles: [{ id: "DEMO", pin: "4711", shell: true }] },
      sim: { vehicles: [{ id: "DEMO", state: { locked: true, pin: "4711" } }] },
    });
    await waitFor(() => sink.value(TOPIC, "locked") === true);
    expect(await device(sink).write("locked", "false")).toEqual({ ok: true, value: false });
    expect(sim.carState().locked).toBe(false);
    await waitFor(() => sink.value(TOPIC, "locked") === false);
    const shell = await device(sink).write("command", "stat");
    expect(shell.ok && String(shell.value)).toMatch(/SOC: 78%/);
  });
});
