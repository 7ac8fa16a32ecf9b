import { afterAll, beforeAll, describe, it } from "vitest";
import {
  type SimFault as ClimkitFault,
  ClimkitSimulator,
  type SimSite,
} from "../../src/climkit/simulator/server.js";
import { createClimkitSources } from "../../src/climkit/source.js";
import { parseConfig } from "../../src/config/load.js";
import { Daemon } from "../../src/daemon.js";
import { createGoeSources } from "../../src/goe/charger.js";
import { GoeSimulator } from "../../src/goe/simulator/server.js";
import { silentLogger } from "../../src/util/log.js";
import { runFaultMatrix } from "../helpers/fault-matrix.js";
import { MqttWatch } from "../helpers/mqtt-watch.js";
import { freePort } from "../helpers/ports.js";

// Climkit failures, one account (each with its own simulator) per kind, all at once, next to
// a healthy Climkit account and a go-e charger. The daemon runs in-process: the configuration
// keeps Climkit polls at least a minute apart (the data changes every 15 minutes), which would
// make a recovery take minutes, so the sources are built here with a 1 s interval and no
// retries inside a poll. Everything else is the real daemon.

const ROOT = "ev2mqtt";
const PASSWORD = "climkit-fault-Pw9!";

const SITE: SimSite = {
  id: "5f2b1c9e8d7a6b5c4d3e2f99",
  name: "Fault test",
  timezone: "Europe/Zurich",
  meters: [
    { id: "6a01c0ffee0000000000c001", type: "electricity", name: "PV", mode: "production", scale: 10 },
  ],
  sensors: [],
};

interface Case {
  name: string;
  fault: ClimkitFault;
  error: RegExp;
}

const CASES: Case[] = [
  { name: "401 (login refused)", fault: { status: 401 }, error: /login refused \(401\)/ },
  { name: "403", fault: { status: 403 }, error: /403/ },
  { name: "404", fault: { status: 404 }, error: /404/ },
  { name: "429", fault: { status: 429 }, error: /429/ },
  { name: "500", fault: { status: 500 }, error: /500/ },
  { name: "502", fault: { status: 502, body: "<html><h1>502 Bad Gateway</h1></html>" }, error: /502/ },
  { name: "timeout", fault: { delayMs: 2500 }, error: /no answer within 1s/ },
  { name: "connection reset", fault: { reset: true }, error: /reset/ },
  { name: "body not JSON", fault: { garbage: true }, error: /not JSON/ },
  {
    name: "body of the wrong shape",
    fault: { status: 200, body: '{"unexpected":true}' },
    error: /expected a list/,
  },
];

const healthySim = () =>
  new ClimkitSimulator({ users: [{ username: "healthy", password: PASSWORD }], sites: [SITE] });
const sims: ClimkitSimulator[] = [];
let goe: GoeSimulator;
let daemon: Daemon;
let watch: MqttWatch;

beforeAll(async () => {
  goe = new GoeSimulator({ chargers: [{ serial: "800001", mode: "local", carConnected: true }] });
  await goe.start();
  sims.push(healthySim());
  for (const [index] of CASES.entries()) {
    sims.push(
      new ClimkitSimulator({ users: [{ username: `user${index}`, password: PASSWORD }], sites: [SITE] }),
    );
  }
  for (const sim of sims) await sim.start();
  const port = await freePort();
  const config = parseConfig({
    mqtt: { listen: `127.0.0.1:${port}`, topic: ROOT },
    homeassistant: { discovery: false },
    goe: [{ serial: "800001", loadpoint: 1, url: goe.chargerUrl("800001"), interval: "1s" }],
    climkit: sims.map((sim, index) => ({
      username: index === 0 ? "healthy" : `user${index - 1}`,
      password: PASSWORD,
      sites: [SITE.id],
      url: sim.url,
      timeout: "1s",
    })),
  });
  const logger = silentLogger();
  daemon = new Daemon(config, logger, (cfg, log) => [
    ...createGoeSources(cfg.goe, log),
    ...createClimkitSources(
      cfg.climkit.map((account) => ({ ...account, interval: 1000 })),
      { logger: log, retries: 0 },
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

const site = (index: number) => `${ROOT}/sites/${index + 1}`;

describe("Climkit upstream faults, all at once, against one daemon", () => {
  it("takes each failing account's site offline with its error, leaves the others alone, and recovers", async () => {
    await runFaultMatrix({
      watch,
      device: site,
      cases: CASES,
      inject: (index, testCase) => sims[index]!.fault(testCase.fault),
      clearAll: () => {
        for (const sim of sims) sim.fault(undefined);
      },
      secret: PASSWORD,
      goe,
      goeSerial: "800001",
      healthyRequests: () => sims[0]!.requests.length,
      sampleKey: "pvPower",
      sampleUnchanged: true,
      root: ROOT,
    });
  }, 58_000);
});
