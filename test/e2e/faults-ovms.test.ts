import { afterAll, beforeAll, describe, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { Daemon } from "../../src/daemon.js";
import { createGoeSources } from "../../src/goe/charger.js";
import { GoeSimulator } from "../../src/goe/simulator/server.js";
import { createOvmsSources, OvmsSimulator } from "../../src/ovms/index.js";
import type { SimFault } from "../../src/ovms/simulator/server.js";
import { silentLogger } from "../../src/util/log.js";
import { runFaultMatrix } from "../helpers/fault-matrix.js";
import { MqttWatch } from "../helpers/mqtt-watch.js";
import { freePort } from "../helpers/ports.js";

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
  // a malformed answer, not "vehicle DEMO is not on this OVMS account"
  {
    name: "body of the wrong shape",
    fault: { status: 200, body: '{"unexpected":true}' },
    error: /something other than a list of vehicles/,
  },
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
      // REST faults: no v2 link, so every value comes by REST polling
      commands: false,
      vehicles: [{ id: "DEMO", name: `car${index}` }],
    })),
  });
  daemon = new Daemon(config, silentLogger(), (cfg, log) => [
    ...createGoeSources(cfg.goe, log),
    ...createOvmsSources(
      cfg.ovms.map((server) => ({ ...server, interval: 1000, activeInterval: 1000 })),
      // after a 429 the bridge pauses a minute (the server's refill period); here half a second
      { logger: log, minSpacingMs: 20, rateLimitPauseMs: 500 },
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

describe("OVMS upstream faults, all at once, against one daemon", () => {
  it("takes each failing server's vehicle offline with its error, leaves the others alone, and recovers", async () => {
    await runFaultMatrix({
      watch,
      device: vehicle,
      cases: CASES,
      inject: (index, testCase) => sims[index]!.fault({ ...testCase.fault, times: FOREVER }),
      clearAll: () => {
        for (const sim of sims) sim.clearFaults();
      },
      secret: PASSWORD,
      goe,
      goeSerial: "810001",
      healthyRequests: () => sims[0]!.requests,
      sampleKey: "soc",
      sampleUnchanged: false,
      root: ROOT,
    });
  }, 58_000);
});
