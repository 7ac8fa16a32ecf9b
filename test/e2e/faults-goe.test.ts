import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GoeSimFault, GoeSimulator } from "../../src/goe/simulator/server.js";
import { DaemonProcess } from "../helpers/daemon-process.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { MqttWatch } from "../helpers/mqtt-watch.js";
import { freePort } from "../helpers/ports.js";
import { waitFor } from "../helpers/recording-sink.js";

// One built daemon polls twelve chargers at 1 s with a 1 s timeout: one healthy, and one per
// kind of go-e failure, all failing at the same time. Each failing charger must go
// online=false with an error that names the problem, the healthy one must not notice, the
// daemon must stay up, and everything must come back once the faults end.

const ROOT = "ev2mqtt";
const TOKEN = "faultTokenX7q2Lk9Vb4Nm8Rt3Wz6Yc1Pd";

interface Case {
  name: string;
  fault: GoeSimFault;
  /** What the `<device>/error` must say. */
  error: RegExp;
}

const CASES: Case[] = [
  { name: "401", fault: { status: 401 }, error: /401/ },
  { name: "403", fault: { status: 403 }, error: /403/ },
  { name: "404", fault: { status: 404 }, error: /404/ },
  { name: "422", fault: { status: 422 }, error: /422/ },
  { name: "429", fault: { status: 429 }, error: /429/ },
  { name: "500", fault: { status: 500 }, error: /500/ },
  { name: "502", fault: { status: 502 }, error: /502/ },
  // a delay alone answers normally, but far beyond the configured 1 s timeout
  { name: "timeout", fault: { delayMs: 2500 }, error: /no answer within 1s/ },
  { name: "connection reset", fault: { reset: true }, error: /connection reset/ },
  { name: "body not JSON", fault: { garbage: true }, error: /not JSON/ },
  { name: "body of the wrong shape", fault: { wrongShape: true }, error: /unexpected answer shape/ },
];

const HEALTHY = "300000";
const serialOf = (index: number) => String(300001 + index);
const loadpointOf = (index: number) => index + 2;

let broker: Mosquitto;
let sim: GoeSimulator;
let daemon: DaemonProcess;
let watch: MqttWatch;
let httpPort: number;

beforeAll(async () => {
  broker = await Mosquitto.start();
  sim = new GoeSimulator({
    chargers: [
      { serial: HEALTHY, token: TOKEN, carConnected: true },
      ...CASES.map((_, index) => ({ serial: serialOf(index), token: TOKEN })),
    ],
  });
  await sim.start();
  httpPort = await freePort();
  const charger = (serial: string, loadpoint: number) => ({
    serial,
    loadpoint,
    token: TOKEN,
    url: sim.chargerUrl(serial),
    interval: "1s",
    timeout: "1s",
  });
  daemon = DaemonProcess.start({
    mqtt: { url: broker.url, topic: ROOT },
    log: { level: "warn" },
    http: { listen: `127.0.0.1:${httpPort}` },
    homeassistant: { discovery: false },
    goe: [charger(HEALTHY, 1), ...CASES.map((_, index) => charger(serialOf(index), loadpointOf(index)))],
  });
  watch = await MqttWatch.connect(broker.url, `${ROOT}/#`);
});

afterAll(async () => {
  await watch?.close();
  await daemon?.stop();
  await sim?.stop();
  await broker?.stop();
});

const online = (loadpoint: number) => watch.value(`${ROOT}/loadpoints/${loadpoint}/online`);
const error = (loadpoint: number) => watch.value(`${ROOT}/loadpoints/${loadpoint}/error`);

/** waitFor, with a description computed when it times out (so it shows the state then). */
async function waitUntil(check: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
  try {
    await waitFor(check, timeoutMs);
  } catch {
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${describe()}`);
  }
}

async function health(): Promise<{ status: number; body: { devices: Record<string, { online: boolean }> } }> {
  const response = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
  return { status: response.status, body: (await response.json()) as never };
}

describe("go-e upstream faults, all at once, against one daemon", () => {
  it("takes each failing charger offline with its error, leaves the healthy one alone, and recovers", async () => {
    const all = [1, ...CASES.map((_, index) => loadpointOf(index))];
    await waitFor(
      () => all.every((loadpoint) => online(loadpoint) === "true"),
      20_000,
      "every charger online",
    );
    expect(daemon.exitCode).toBeNull();

    const faultStart = Date.now();
    for (const [index, testCase] of CASES.entries()) sim.fault(serialOf(index), testCase.fault);

    // every failing charger goes offline with an error naming its problem
    await waitUntil(
      () => CASES.every((_, index) => online(loadpointOf(index)) === "false"),
      15_000,
      () =>
        `every faulted charger offline (${CASES.map((c, i) => `${c.name}=${online(loadpointOf(i))}`).join(", ")})`,
    );
    const problems: string[] = [];
    CASES.forEach((testCase, index) => {
      const text = error(loadpointOf(index)) ?? "";
      if (!testCase.error.test(text)) problems.push(`${testCase.name}: error is ${JSON.stringify(text)}`);
    });
    expect(problems).toEqual([]);

    // while they fail, the healthy charger keeps being polled and keeps publishing changes
    const healthyRequests = sim.requests(HEALTHY).length;
    sim.update(HEALTHY, { amp: 11 });
    await watch.waitForValue(`${ROOT}/loadpoints/1/maxCurrent`, "11", 5000);
    const since = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 4000));
    expect(sim.requests(HEALTHY).length - healthyRequests).toBeGreaterThanOrEqual(4);
    expect(watch.countSince(since, (m) => m.topic === `${ROOT}/updated`)).toBeGreaterThanOrEqual(2);
    expect(watch.countSince(since, (m) => m.topic === `${ROOT}/loadpoints/1/sessionEnergy`)).toBeGreaterThan(
      0,
    );
    expect(
      watch.messages.filter((m) => m.topic === `${ROOT}/loadpoints/1/online` && m.payload !== "true"),
    ).toEqual([]);
    expect(error(1)).toBe("");

    // failing chargers are polled less, not hammered (1 s interval, backing off)
    const faultSeconds = (Date.now() - faultStart) / 1000;
    CASES.forEach((_, index) => {
      const tries = sim.requests(serialOf(index)).filter((r) => r.time >= faultStart).length;
      expect(tries, CASES[index]!.name).toBeLessThanOrEqual(Math.ceil(faultSeconds));
    });

    // the daemon is up, healthy (broker connected, loop answering) and reports each device
    expect(daemon.exitCode).toBeNull();
    const during = await health();
    expect(during.status).toBe(200);
    expect(during.body.devices["loadpoints/1"]?.online).toBe(true);
    expect(during.body.devices[`loadpoints/${loadpointOf(0)}`]?.online).toBe(false);
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    for (const kind of [
      "auth",
      "forbidden",
      "notFound",
      "rejected",
      "rateLimited",
      "server",
      "timeout",
      "network",
    ]) {
      expect(metrics, kind).toMatch(
        new RegExp(`ev2mqtt_upstream_errors_total\\{[^}]*kind="${kind}"\\} [1-9]`),
      );
    }

    // the faults end: every charger comes back by itself, with its data
    CASES.forEach((_, index) => {
      sim.fault(serialOf(index), undefined);
      sim.update(serialOf(index), { amp: 7 + index });
    });
    await waitUntil(
      () => all.every((loadpoint) => online(loadpoint) === "true" && error(loadpoint) === ""),
      20_000,
      () => `every charger back (${all.map((lp) => `${lp}=${online(lp)}`).join(", ")})`,
    );
    await waitFor(
      () =>
        CASES.every(
          (_, index) =>
            watch.value(`${ROOT}/loadpoints/${loadpointOf(index)}/maxCurrent`) === String(7 + index),
        ),
      5000,
      "the recovered chargers' new values",
    );
    expect(daemon.exitCode).toBeNull();
    expect(daemon.logLines().filter((line) => Number(line.level) >= 50)).toEqual([]);
  }, 58_000);
});
