import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CarState, OvmsSimulator } from "../../src/ovms/simulator/server.js";
import { DaemonProcess } from "../helpers/daemon-process.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { MqttWatch } from "../helpers/mqtt-watch.js";
import { waitFor } from "../helpers/recording-sink.js";

// The v2 link as the data path (issue 10), end to end: the built daemon, a real mosquitto and
// two OVMS server simulators. One behaves as a current server with a short `timeout_api`
// (20 s: sessions end 20–30 s after login, a silent batch client is dropped at the first 30 s
// check); the car sends both W and Y tyre records, as V3 modules do. The other refuses v2
// logins, as old servers do. REST is read every `restInterval`, here 5 s instead of 15 min, so
// its cost per cross-check can be measured and the hour extrapolated.

const ROOT = "ev2mqtt";
const LIVE = `${ROOT}/vehicles/live`;
const POLLED = `${ROOT}/vehicles/polled`;
const PASSWORD = "live-Pw-8Hq2";
const TIMEOUT_API_MS = 20_000;
const IDLE_CHECK_MS = 30_000;
const REST_INTERVAL_S = 5;
/** The default `restInterval`, 15 minutes. */
const DEFAULT_REST_INTERVAL_S = 900;

const CAR: Partial<CarState> = { soc: 64, tpms: "both", tyresKpa: [251.3, 249.6, 238.2, 240.7] };

let broker: Mosquitto;
let sim: OvmsSimulator;
let oldSim: OvmsSimulator;
let daemon: DaemonProcess;
let watch: MqttWatch;
/** When the live link logged in: the link must outlast an idle check of the server. */
let linkedAt = 0;

function server(urls: { restUrl: string; commandsUrl: string }, name: string) {
  return {
    url: urls.restUrl,
    username: "demo",
    password: "${OVMS_PASSWORD}",
    commands: urls.commandsUrl,
    interval: "5s",
    activeInterval: "5s",
    restInterval: `${REST_INTERVAL_S}s`,
    timeout: "10s",
    commandTimeout: "2s",
    vehicles: [{ id: "DEMO", name }],
  };
}

/** Messages on a topic since a time, their payloads in order. */
function payloads(topic: string, since: number): string[] {
  return watch.messages.filter((m) => m.topic === topic && m.time >= since).map((m) => m.payload);
}

beforeAll(async () => {
  sim = new OvmsSimulator({
    password: PASSWORD,
    vehicles: [{ id: "DEMO", state: CAR, idleReportMs: 3_600_000, connectedReportMs: 3_600_000 }],
    sessionLifetimeMs: TIMEOUT_API_MS,
    v2: { timeoutApiMs: TIMEOUT_API_MS, idleCheckMs: IDLE_CHECK_MS },
  });
  // another server (another address): sources are named by user and host
  oldSim = new OvmsSimulator({
    password: PASSWORD,
    refuseV2: true,
    host: "127.0.0.2",
    vehicles: [{ id: "DEMO", state: CAR }],
  });
  const [urls, oldUrls] = [await sim.start(), await oldSim.start()];
  broker = await Mosquitto.start();
  watch = await MqttWatch.connect(broker.url, `${ROOT}/#`);
  daemon = DaemonProcess.start(
    {
      mqtt: { url: broker.url, topic: ROOT, clientId: "ev2mqtt-e2e-ovms-live" },
      log: { level: "debug" },
      homeassistant: { discovery: false },
      ovms: [server(urls, "live"), server(oldUrls, "polled")],
    },
    { OVMS_PASSWORD: PASSWORD },
  );
  await watch.waitForValue(`${LIVE}/liveLink`, "true", 20_000);
  linkedAt = Date.now();
  await watch.waitForValue(`${LIVE}/soc`, "64", 10_000);
});

afterAll(async () => {
  await daemon?.stop();
  await watch?.close();
  await sim?.stop();
  await oldSim?.stop();
  await broker?.stop();
});

describe("OVMS on a server that refuses v2 logins", () => {
  it("says so, polls REST instead, and the values still flow", async () => {
    await waitFor(() => daemon.text.includes("refused the v2 login"), 10_000, "the log line");
    await watch.waitForValue(`${POLLED}/online`, "true", 15_000);
    expect(watch.value(`${POLLED}/liveLink`)).toBe("false");
    oldSim.setCarState({ soc: 47 });
    await watch.waitForValue(`${POLLED}/soc`, "47", 20_000);
    expect(oldSim.v2Stats.logins).toEqual({ A: 0, B: 0 });
  });
});

describe("OVMS over the v2 link", () => {
  it("publishes a record the car sends as soon as the server pushes it, REST failing meanwhile", async () => {
    // the car's records cannot come by REST meanwhile: the server fails every read of them
    sim.fault({
      path: /^\/api\/(charge|status)\//,
      status: 500,
      body: "Internal Server Error\n",
      times: 1_000,
    });
    try {
      for (const soc of [61.5, 62.5]) {
        const sent = Date.now();
        sim.setCarState({ soc });
        await watch.waitForValue(`${LIVE}/soc`, String(soc), 10_000);
        const seen = watch.messages.find((m) => m.topic === `${LIVE}/soc` && m.payload === String(soc));
        expect(seen!.time).toBeGreaterThanOrEqual(sent);
        expect(watch.value(`${LIVE}/messageAge`)).toBe("0");
      }
      // a failing cross-check does not take a car with a live link offline
      expect(watch.value(`${LIVE}/online`)).toBe("true");
    } finally {
      sim.clearFaults();
    }
  });

  it("publishes nothing out of range from garbled records", async () => {
    const since = Date.now();
    const tail = "K,0,0,stopped,standard,250,200,13";
    for (const soc of ["150", "-5", "1e308"]) sim.carSends("S", `${soc},${tail}`);
    sim.carSends("S", "63,K,0,0,stopped,standard,1e308,1e308,13");
    sim.setCarState({ soc: 60.5 });
    await watch.waitForValue(`${LIVE}/soc`, "60.5", 10_000);
    // 63 is a plausible SoC (its range was not); nothing else got through
    expect(payloads(`${LIVE}/soc`, since)).toEqual(["63", "60.5"]);
    for (const value of payloads(`${LIVE}/range`, since)) expect(Number(value)).toBeLessThan(3000);
    expect(daemon.text).toContain("OVMS values out of range not published");
  });

  it("makes the car report fast by an app login while it charges, and ends that when it stops", async () => {
    expect(sim.v2Clients("DEMO", "A")).toBe(0);
    sim.setCarState({ pluggedIn: true, charging: true });
    await watch.waitForValue(`${LIVE}/charging`, "true", 10_000);
    await waitFor(() => sim.v2Clients("DEMO", "A") === 1, 10_000, "the app login");
    expect(sim.carPeers()).toBe(1);
    expect(sim.peerConnected()).toBe(false); // no REST peer
    sim.setCarState({ charging: false });
    await watch.waitForValue(`${LIVE}/charging`, "false", 10_000);
    await waitFor(() => sim.carPeers() === 0, 10_000, "the app login ended");
    expect(sim.v2Clients("DEMO", "B")).toBe(1);
  });

  it("never flaps moduleConnected when a slow vehicle list is older than the Z line", async () => {
    const since = Date.now();
    sim.setCarConnected(false);
    await watch.waitForValue(`${LIVE}/moduleConnected`, "false", 10_000);
    // the next vehicle list is answered as of now (module away) but arrives after it is back
    const requests = sim.requests;
    sim.fault({ path: "/api/vehicles", slowAnswerMs: 3_000 });
    await waitFor(
      () => sim.requestLog.slice(requests).some((r) => r.path === "/api/vehicles"),
      15_000,
      "a vehicle list under way",
    );
    sim.setCarConnected(true);
    await waitFor(
      () => sim.requestLog.slice(requests).some((r) => r.path === "/api/charge/DEMO"),
      15_000,
      "the slow list answered and the check done",
    );
    await watch.waitForValue(`${LIVE}/moduleConnected`, "true", 10_000);
    expect(payloads(`${LIVE}/moduleConnected`, since)).toEqual(["false", "true"]);
  });

  it("keeps its link past the server's idle checks, and stays under 30 REST requests an hour", async () => {
    // at least one 30 s idle check of the server has looked at the link
    const left = linkedAt + IDLE_CHECK_MS + 2_000 - Date.now();
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
    expect(sim.v2Stats.idleDrops).toBe(0);
    expect(sim.v2Stats.logins.B).toBe(1);
    expect(payloads(`${LIVE}/liveLink`, 0)).not.toContain("false");
    // the cost: the start, then each cross-check (a login when the session has ended, the
    // vehicle list, /api/charge); an hour has 4 of them at the default restInterval
    const log = sim.requestLog;
    // the full read at start ends with the tyres
    const start = log.findIndex((r) => r.path === "/api/tpms/DEMO") + 1;
    expect(start).toBeGreaterThan(0);
    const checks = log.slice(start).filter((r) => r.path === "/api/charge/DEMO").length;
    expect(checks).toBeGreaterThanOrEqual(2);
    const perCheck = (log.length - start) / checks;
    const perHour = start + (perCheck * 3600) / DEFAULT_REST_INTERVAL_S;
    console.info(
      `OVMS REST with the v2 link up: ${start} at start, ${perCheck.toFixed(2)} per check, ~${perHour.toFixed(1)}/h`,
    );
    expect(perHour).toBeLessThan(30);
    // and no more than that at the scaled interval either: one check per restInterval
    const seconds = (log.at(-1)!.at - log[start]!.at) / 1000;
    expect(checks).toBeLessThanOrEqual(seconds / REST_INTERVAL_S + 2);
  }, 45_000);

  it("does not move the tyres when the link is made again and the server replays W and Y", async () => {
    const tyres = ["fl", "fr", "rl", "rr"].map((wheel) => `${LIVE}/tyres/${wheel}/pressure`);
    expect(tyres.map((topic) => watch.value(topic))).toEqual(["251.3", "249.6", "238.2", "240.7"]);
    const since = Date.now();
    sim.dropConnections();
    await waitFor(() => sim.v2Stats.logins.B === 2, 15_000, "the link made again");
    await watch.waitForValue(`${LIVE}/liveLink`, "true", 10_000);
    sim.setCarState({ soc: 59 }); // a live report with W and Y too
    await watch.waitForValue(`${LIVE}/soc`, "59", 10_000);
    for (const topic of tyres) expect(payloads(topic, since)).toEqual([]);
  });
});
