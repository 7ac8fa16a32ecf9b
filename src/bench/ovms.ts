import { pathToFileURL } from "node:url";
import { parseConfig } from "../config/load.js";
import { createOvmsSources, OvmsSimulator } from "../ovms/index.js";
import type { Sink } from "../source.js";
import { silentLogger } from "../util/log.js";
import { sleep } from "./processes.js";
import { OVMS_WINDOW_S as WINDOW_S } from "./settings.js";

// OVMS cost per car and hour, parked and charging, with the v2 link up and refused: REST
// requests and logins at the server, v2 logins, and the module's reports (its data use on the
// car's SIM: each is a full set of records). Four accounts at once against four simulators,
// every timing of bridge and server divided by SCALE (interval 60 s → 1 s, activeInterval
// 15 s → 0.25 s, restInterval 15 min → 15 s, timeout_api 120 s → 2 s and its 10 s sweep, the
// 30 s idle check, the 20 s ping, the rate-limit minute; the module reports every 10 min idle
// and every 60 s with an app connected, the bridge's session bookkeeping). Counted after the
// start, extrapolated to an hour.

const SCALE = 60;
const SETTLE_S = 4;

export interface OvmsHour {
  scenario: string;
  /** Requests of the start (login, vehicle list, the stored records). */
  start: number;
  restPerHour: number;
  restLoginsPerHour: number;
  v2LoginsPerHour: number;
  reportsPerHour: number;
}

interface Counts {
  rest: number;
  restLogins: number;
  v2Logins: number;
  reports: number;
}

const SCENARIOS = [
  { scenario: "parked, v2 link up", charging: false, link: true },
  { scenario: "charging, v2 link up", charging: true, link: true },
  { scenario: "parked, v2 link refused (REST polling)", charging: false, link: false },
  { scenario: "charging, v2 link refused (REST polling)", charging: true, link: false },
];

const sink: Sink = {
  device: () => undefined,
  values: () => undefined,
  availability: () => undefined,
  polled: () => undefined,
};

async function run(index: number, scenario: (typeof SCENARIOS)[number]): Promise<OvmsHour> {
  const ms = (real: number) => Math.round(real / SCALE);
  const sim = new OvmsSimulator({
    host: `127.0.0.${20 + index}`,
    refuseV2: !scenario.link,
    sessionLifetimeMs: ms(120_000),
    sweepMs: ms(10_000),
    v2: { timeoutApiMs: ms(120_000), idleCheckMs: ms(30_000) },
    rateLimit: { minuteMs: ms(60_000), idleResetMs: ms(300_000), holdMs: ms(20_000) },
    vehicles: [
      {
        id: "DEMO",
        socPerMinute: 0,
        idleReportMs: ms(600_000),
        connectedReportMs: ms(60_000),
        state: scenario.charging
          ? { pluggedIn: true, charging: true, chargeState: "charging", chargeLimitSoc: 100 }
          : {},
      },
    ],
  });
  const urls = await sim.start();
  const [server] = parseConfig({
    ovms: [{ url: urls.restUrl, username: "demo", password: "demo-password", vehicles: [{ id: "DEMO" }] }],
  }).ovms;
  if (!server) throw new Error("no OVMS server");
  const config = {
    ...server,
    commands: urls.commandsUrl,
    interval: ms(server.interval),
    activeInterval: ms(server.activeInterval),
    restInterval: ms(server.restInterval),
  };
  const [source] = createOvmsSources([config], {
    logger: silentLogger(),
    minSpacingMs: ms(2000),
    rateLimitPauseMs: ms(60_000),
    sessionTiming: { sweepMs: ms(10_000), freshMs: ms(60_000) },
    v2: { pingIntervalMs: ms(20_000), reconnectMinMs: ms(1000) },
  });
  if (!source) throw new Error("no OVMS source");
  const counts = (): Counts => ({
    rest: sim.requests,
    restLogins: sim.logins,
    v2Logins: sim.v2Stats.logins.A + sim.v2Stats.logins.B,
    reports: sim.carReports(),
  });
  await source.start(sink);
  await sleep(SETTLE_S * 1000);
  const settled = counts();
  await sleep((WINDOW_S - SETTLE_S) * 1000);
  const end = counts();
  await source.stop();
  await sim.stop();
  const perHour = (key: keyof Counts) => ((end[key] - settled[key]) * 3600) / ((WINDOW_S - SETTLE_S) * SCALE);
  return {
    scenario: scenario.scenario,
    start: settled.rest,
    restPerHour: perHour("rest"),
    restLoginsPerHour: perHour("restLogins"),
    v2LoginsPerHour: perHour("v2Logins"),
    reportsPerHour: perHour("reports"),
  };
}

/** The four scenarios at once (each on its own loopback address: the quota is per address). */
export async function ovmsHours(): Promise<OvmsHour[]> {
  return Promise.all(SCENARIOS.map((scenario, index) => run(index, scenario)));
}

export function formatOvmsHours(hours: OvmsHour[]): string[] {
  const round = (n: number) => String(Math.round(n));
  return [
    `OVMS per car and hour (timings scaled 1/${SCALE}, ${WINDOW_S - SETTLE_S} s counted = ${round(((WINDOW_S - SETTLE_S) * SCALE) / 60)} simulated min):`,
    "| scenario | REST requests/h | REST logins/h | v2 logins/h | module reports/h | requests at start |",
    "| --- | --- | --- | --- | --- | --- |",
    ...hours.map(
      (h) =>
        `| ${h.scenario} | ${round(h.restPerHour)} | ${round(h.restLoginsPerHour)} | ${round(h.v2LoginsPerHour)} | ${round(h.reportsPerHour)} | ${h.start} |`,
    ),
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  for (const line of formatOvmsHours(await ovmsHours())) process.stdout.write(`${line}\n`);
  process.exit(0);
}
