import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { Daemon } from "../../src/daemon.js";
import { createGoeSources } from "../../src/goe/charger.js";
import { GoeSimulator } from "../../src/goe/simulator.js";
import { createOvmsSources, OvmsSimulator } from "../../src/ovms/index.js";
import type { SimFault } from "../../src/ovms/simulator.js";
import { silentLogger } from "../../src/util/log.js";
import { MqttWatch } from "../helpers/mqtt-watch.js";
import { freePort } from "../helpers/ports.js";
import { waitFor } from "../helpers/recording-sink.js";

// OVMS server failures, one server (simulator) per kind, all at once, next to a healthy server
// and a go-e charger. In-process, with the sources built here: the configuration keeps OVMS
// polls at least 5 s apart and spaces the requests to a server 2 s apart, which would make
// this test take minutes. Polls here are 1 s apart with a 1 s timeout and 20 ms spacing;
// everything else is the real daemon.

const ROOT = "ev2mqtt";
const PASSWORD = "ovms-fault-Pw7?";
const FOREVER = 1_000_000;

interface Case {
  name: string;
  fault: SimFault;
  error: RegExp;
}

const CASES: Case[] = [
  { name: "401", fault: { status: 401, body: "Authentication failed\n" }, error: /login refused/ },
  { name: "403", fault: { status: 403, body: "Forbidden\n" }, error: /403/ },
  { name: "404", fault: { status: 404, body: "Unrecognised API call\n" }, error: /404/ },
  { name: "429", fault: { status: 429, body: "Too many requests\n" }, error: /429/ },
  { name: "500", fault: { status: 500, body: "Internal Server Error\n" }, error: /500/ },
  { name: "502", fault: { status: 502, body: "<html><h1>502 Bad Gateway</h1></html>" }, error: /502/ },
  { name: "timeout", fault: { delayMs: 2500 }, error: /no answer within 1s/ },
  { name: "connection reset", fault: { reset: true }, error: /connection reset/ },
  { name: "body not JSON", fault: { garbage: true }, error: /not JSON/ },
  // today the bridge reads an object where the vehicle list belongs as an empty list, so the
  // error says the vehicle is not on the account; any error is accepted here
  { name: "body of the wrong shape", fault: { status: 200, body: '{"unexpected":true}' }, error: /.+/ },
];

const sims: OvmsSimulator[] = [];
let goe: GoeSimulator;
let daemon: Daemon;
let watch: MqttWatch;

beforeAll(async () => {
  goe = new GoeSimulator({ chargers: [{ serial: "810001", mode: "local", carConnected: true }] });
  await goe.start();
  for (let index = 0; index <= CASES.length; index++) {
    // a loopback address of its own per server: accounts on one host share one REST queue (the
    // server's rate limit counts per client address), and separate servers have separate hosts
    sims.push(
      new OvmsSimulator({
        username: `user${index}`,
        password: PASSWORD,
        vehicles: [{ id: "DEMO" }],
        host: `127.0.0.${index + 2}`,
      }),
    );
  }
  const urls: string[] = [];
  for (const sim of sims) urls.push((await sim.start()).restUrl);
  const port = await freePort();
  const config = parseConfig({
    mqtt: { listen: `127.0.0.1:${port}`, topic: ROOT },
    homeassistant: { discovery: false },
    goe: [{ serial: "810001", loadpoint: 1, url: goe.chargerUrl("810001"), interval: "1s" }],
    ovms: sims.map((_, index) => ({
      url: urls[index],
      username: `user${index}`,
      password: PASSWORD,
      timeout: "1s",
      vehicles: [{ id: "DEMO", name: `car${index}` }],
    })),
  });
  daemon = new Daemon(config, silentLogger(), (cfg, log) => [
    ...createGoeSources(cfg.goe, log),
    ...createOvmsSources(
      cfg.ovms.map((server) => ({ ...server, interval: 1000, activeInterval: 1000 })),
      { logger: log, minSpacingMs: 20 },
    ),
  ]);
  await daemon.start();
  watch = await MqttWatch.connect(`mqtt://127.0.0.1:${port}`, `${ROOT}/#`);
});

afterAll(async () => {
  await watch?.close();
  await daemon?.stop();
  for (const sim of sims) await sim.stop();
  await goe?.stop();
});

const vehicle = (index: number) => `${ROOT}/vehicles/car${index}`;

async function waitUntil(check: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
  try {
    await waitFor(check, timeoutMs);
  } catch {
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${describe()}`);
  }
}

describe("OVMS upstream faults, all at once, against one daemon", () => {
  it("takes each failing server's vehicle offline with its error, leaves the others alone, and recovers", async () => {
    const all = sims.map((_, index) => index);
    const state = () => all.map((index) => `${index}=${watch.value(`${vehicle(index)}/online`)}`).join(" ");
    await waitUntil(
      () => all.every((index) => watch.value(`${vehicle(index)}/online`) === "true"),
      20_000,
      () => `every vehicle online (${state()})`,
    );
    const socBefore = watch.value(`${vehicle(0)}/soc`);
    expect(socBefore).toBeDefined();

    for (const [index, testCase] of CASES.entries())
      sims[index + 1]!.fault({ ...testCase.fault, times: FOREVER });
    await waitUntil(
      () => CASES.every((_, index) => watch.value(`${vehicle(index + 1)}/online`) === "false"),
      20_000,
      () => `every faulted vehicle offline (${state()})`,
    );
    const problems: string[] = [];
    for (const [index, testCase] of CASES.entries()) {
      const text = watch.value(`${vehicle(index + 1)}/error`) ?? "";
      if (!testCase.error.test(text)) problems.push(`${testCase.name}: ${JSON.stringify(text)}`);
      if (text.includes(PASSWORD)) problems.push(`${testCase.name}: the password is in the error`);
    }
    expect(problems).toEqual([]);

    const since = Date.now();
    goe.update("810001", { amp: 14 });
    await watch.waitForValue(`${ROOT}/loadpoints/1/maxCurrent`, "14", 5000);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(watch.value(`${vehicle(0)}/online`)).toBe("true");
    expect(watch.messages.filter((m) => m.topic === `${vehicle(0)}/online` && m.payload !== "true")).toEqual(
      [],
    );
    expect(watch.countSince(since, (m) => m.topic === `${ROOT}/loadpoints/1/sessionEnergy`)).toBeGreaterThan(
      0,
    );
    const healthyBefore = sims[0]!.requests;
    await waitFor(() => sims[0]!.requests > healthyBefore, 5000, "the healthy server polled again");

    for (const sim of sims) sim.clearFaults();
    await waitUntil(
      () =>
        all.every(
          (index) =>
            watch.value(`${vehicle(index)}/online`) === "true" &&
            watch.value(`${vehicle(index)}/error`) === "",
        ),
      25_000,
      () => `every vehicle back (${state()})`,
    );
    for (const index of all) expect(watch.value(`${vehicle(index)}/soc`), `vehicle ${index}`).toBeDefined();
  }, 58_000);
});
