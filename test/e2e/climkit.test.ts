import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ClimkitSimulator,
  defaultSite,
  type SimMeter,
  type SimSite,
} from "../../src/climkit/simulator/server.js";
import { QUARTER } from "../../src/climkit/simulator/site.js";
import { createClimkitSources } from "../../src/climkit/source.js";
import { parseConfig } from "../../src/config/load.js";
import { Daemon, type SourceFactory } from "../../src/daemon.js";
import { httpRequest } from "../../src/upstream/http.js";
import { silentLogger } from "../../src/util/log.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { linesToMap, mosquittoSub } from "../helpers/mqtt-cli.js";
import { MqttWatch } from "../helpers/mqtt-watch.js";
import { waitFor } from "../helpers/recording-sink.js";

// The Climkit upstream end to end: the daemon in-process with its MQTT client on a real
// mosquitto, one account on the Climkit simulator, and mosquitto_sub where a user would look.
// One daemon runs through the phases in order (the tests share it and run sequentially):
// first poll and its values → token renewals → two new intervals fetched incrementally →
// an outage and its recovery → data that stops arriving, and starts again.
//
// The clock. Climkit publishes a row every 15 minutes, and a token lives 15 minutes: neither
// can be waited for in a test. The bridge and the simulator share one clock that runs at the
// real rate (so a token of a few seconds expires in real time, as a 15-minute one would) and
// is moved forward by whole quarters between two polls to make new intervals appear. Moving
// it forward expires the token too, as that much time would; the bridge then logs in once.

const ROOT = "ev2mqtt";
const SITE_TOPIC = `${ROOT}/site`;
const USER = { username: "api-user", password: "s3cret-Pa55word" };
/** A few seconds, so it runs out several times while the test runs. */
const TOKEN_LIFETIME_MS = 8000;
/** The bridge's spacing of one account's requests (Climkit allows 1 request/s, login included). */
const SPACING_MS = 1000;
/** Below the schema's 1-minute minimum (which protects the real service), to keep the test short. */
const INTERVAL_MS = 1500;
/**
 * In the shared clock: no new interval for this long marks the site offline (createClimkitSources'
 * `staleAfterMs`, 60 min by default). A limit of a few real seconds cannot work: the latest
 * complete interval is always minutes old. So the limit is 10 minutes of the shared clock, and
 * the clock is moved past it.
 */
const STALE_AFTER_MS = 10 * 60_000;

// The simulator's default building, cut to three meters and one sensor to keep a first poll at
// 9 requests (login, infos, meters, sensors, site_data, 3 × meter_data, 1 sensor).
const base = defaultSite();
const METERS: SimMeter[] = base.meters.filter((m) =>
  ["PV toiture", "Appartement 1", "Borne"].includes(m.name),
);
const SENSOR = base.sensors[0]!;
const SITE: SimSite = { ...base, meters: METERS, sensors: [SENSOR] };

// 12:00 in Zurich (CEST) on a June day: the sun is high, PV exports. The clock starts 2 minutes
// later, so the latest complete interval ends at Q and the latest 5-minute sensor reading is at Q.
const Q = Date.parse("2026-06-21T10:00:00Z");
const LOCAL_MIDNIGHT = Date.parse("2026-06-20T22:00:00Z");
const START = Q + 2 * 60_000;
const FIRST_INTERVALS = (Q - LOCAL_MIDNIGHT) / QUARTER; // 48
const SERIES = 1 + METERS.length; // site_data and each meter's meter_data

let offset = 0;
let realStart = 0;
const clock = () => START + (performance.now() - realStart) + offset;

let broker: Mosquitto;
let sim: ClimkitSimulator;
let daemon: Daemon;
let watch: MqttWatch;
let polls = 0;

// Everything as the daemon does by default, but on the shared clock, with the staleness limit
// of this test, and a shorter first retry delay (500 ms instead of 2 s) to keep the outage short.
const sources: SourceFactory = (config, logger) => [
  ...createClimkitSources(config.climkit, {
    logger,
    now: clock,
    staleAfterMs: STALE_AFTER_MS,
    retryDelayMs: 500,
  }),
];

const model = () => sim.model(SITE.id)!;
/** What the simulator saw of the account (everything but the warm-up request). */
const account = () => sim.requests.filter((r) => r.username === USER.username);
const clamp = (value: number | undefined) => Math.max(0, value ?? 0);
const site = (key: string) => watch.value(`${SITE_TOPIC}/${key}`);
const num = (key: string) => Number(site(key));
const siteRow = (start: number) => model().siteRow("electricity", start);
const meterTotal = (meter: SimMeter, start: number) => clamp(model().meterRow(meter, start).total);

/** Sum over the intervals ending after `from` and by `until`. */
function sum(from: number, until: number, value: (start: number) => number): number {
  let total = 0;
  for (let start = from; start + QUARTER <= until; start += QUARTER) total += value(start);
  return total;
}

/** Waits for the next completed poll of the site, and runs `action` right then (between polls). */
function afterNextPoll(action: () => void): Promise<void> {
  return new Promise((resolve) => {
    daemon.events.once("polled", () => {
      action();
      resolve();
    });
  });
}

/** Payloads on the broker are numbers with at most 3 decimals. */
function expectNumber(payload: string | undefined, expected: number): void {
  expect(payload).toBeDefined();
  expect(Number(payload)).toBeCloseTo(expected, 2);
}

/** Waits until the site's values, meters included, describe the interval ending at `end`. */
async function waitForInterval(end: number): Promise<void> {
  await watch.waitForValue(`${SITE_TOPIC}/intervalEnd`, String(end / 1000), 30_000);
  for (const meter of METERS) {
    const expected = meterTotal(meter, end - QUARTER);
    await watch.waitForValue(
      `${SITE_TOPIC}/meters/${meter.id}/energy`,
      (payload) => Math.abs(Number(payload) - expected) < 0.0005,
      30_000,
    );
  }
}

beforeAll(async () => {
  broker = await Mosquitto.start();
  sim = new ClimkitSimulator({
    users: [USER],
    sites: [SITE],
    tokenLifetimeMs: TOKEN_LIFETIME_MS,
    now: clock,
  });
  const url = await sim.start();
  // Warm up the bridge's HTTP connection pool (one keep-alive pool per process) and the code
  // on both sides with one request that is not the account's. Otherwise the login would pay
  // for opening the connection and for the first run of that code, which on a busy machine
  // arrives late enough (up to 100 ms) that the next request, started 1000 ms after it, reaches
  // the simulator within its 950 ms: a 429 that says nothing about the bridge's spacing. (The
  // real service sees the same effect from a TLS handshake: see docs/climkit.md.)
  const warmUp = await httpRequest(`${url}/auth`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: "warm-up", password: "none" }),
    timeoutMs: 5000,
  });
  expect(warmUp.status).toBe(401);
  watch = await MqttWatch.connect(broker.url, `${ROOT}/#`);
  const config = parseConfig(
    {
      mqtt: { url: broker.url, topic: ROOT, clientId: "ev2mqtt-climkit-e2e" },
      homeassistant: { discovery: false },
      climkit: [{ ...USER, sites: [SITE.id], url, timeout: "5s" }],
    },
    {},
  );
  // the schema's 1-minute minimum is for the real service; the simulator can take more
  config.climkit[0]!.interval = INTERVAL_MS;
  daemon = new Daemon(config, silentLogger(), sources);
  daemon.events.on("polled", () => {
    polls += 1;
  });
  realStart = performance.now();
  await daemon.start();
  await watch.waitForValue(`${ROOT}/status`, "online");
}, 30_000);

afterAll(async () => {
  await daemon?.stop();
  await watch?.close();
  await sim?.stop();
  await broker?.stop();
});

describe("Climkit site on evcc-style topics", () => {
  it("publishes the site values of the latest interval, as the simulator's model has them", async () => {
    await waitFor(() => polls >= 1, 30_000, "the first poll");
    await waitForInterval(Q);
    await watch.waitForValue(`${SITE_TOPIC}/online`, "true");
    const last = Q - QUARTER;
    const row = siteRow(last);

    expect(site("title")).toBe(SITE.name);
    expect(site("online")).toBe("true");
    expect(site("intervalEnd")).toBe(String(Q / 1000));
    // kWh in 15 minutes → average W: × 4 × 1000
    expectNumber(site("pvPower"), clamp(row.prod_total) * 4000);
    expectNumber(site("homePower"), clamp(row.conso_total) * 4000);
    expectNumber(site("gridPower"), (clamp(row.from_ext) - clamp(row.to_ext)) * 4000);
    // import positive, export negative: at noon in June this building exports
    expect(clamp(row.to_ext)).toBeGreaterThan(clamp(row.from_ext));
    expect(num("gridPower")).toBeLessThan(0);
    expectNumber(site("pvEnergy"), clamp(row.prod_total));
    expectNumber(site("gridImportEnergy"), clamp(row.from_ext));
    expectNumber(site("gridExportEnergy"), clamp(row.to_ext));
    expectNumber(site("homeEnergy"), clamp(row.conso_total));
    expectNumber(site("selfEnergy"), clamp(row.self));

    // the day totals: every interval from local midnight (22:00 UTC the day before) to Q
    const today = (field: string) => sum(LOCAL_MIDNIGHT, Q, (start) => clamp(siteRow(start)[field]));
    expect(today("prod_total")).toBeGreaterThan(10);
    expectNumber(site("pvEnergyToday"), today("prod_total"));
    expectNumber(site("gridImportEnergyToday"), today("from_ext"));
    expectNumber(site("gridExportEnergyToday"), today("to_ext"));
    expectNumber(site("homeEnergyToday"), today("conso_total"));
    expectNumber(site("selfEnergyToday"), today("self"));

    for (const meter of METERS) {
      const key = (name: string) => `meters/${meter.id}/${name}`;
      expect(site(key("type"))).toBe(meter.type);
      expect(site(key("name"))).toBe(meter.name);
      expect(site(key("mode"))).toBe(meter.mode);
      expect(site(key("unit"))).toBe("kWh");
      expectNumber(site(key("energy")), meterTotal(meter, last));
      expectNumber(site(key("power")), meterTotal(meter, last) * 4000);
      expectNumber(
        site(key("energyToday")),
        sum(LOCAL_MIDNIGHT, Q, (start) => meterTotal(meter, start)),
      );
    }
    // the latest 5-minute reading at the clock's time (Q + 2 min): the one at Q
    expectNumber(site(`sensors/${SENSOR.id}/value`), model().sensorValue(SENSOR, Q));
    expect(site(`sensors/${SENSOR.id}/name`)).toBe(SENSOR.name);
    expect(site(`sensors/${SENSOR.id}/unit`)).toBe("°C");
    expect(site(`sensors/${SENSOR.id}/type`)).toBe("temperature");

    // and as a user sees them: retained, with mosquitto_sub
    const retained = linesToMap(
      await mosquittoSub(broker.port, `${SITE_TOPIC}/#`, { seconds: 2, retainedOnly: true }),
    );
    for (const key of [
      "title",
      "online",
      "intervalEnd",
      "pvPower",
      "gridPower",
      "homePower",
      "pvEnergyToday",
      `meters/${METERS[0]!.id}/energy`,
      `sensors/${SENSOR.id}/value`,
    ]) {
      expect(retained.get(`${SITE_TOPIC}/${key}`), key).toBe(site(key));
    }
    expect(retained.has(`${ROOT}/sites/1/title`)).toBe(false); // one account, one site: `site`
  });

  it("renews the token as it runs out, without a failed request and without logging in early", async () => {
    // at least two renewals while polling on
    await waitFor(() => sim.logins >= 3 && polls >= 3, 30_000, "two token renewals");
    // freeze the picture between two polls; later phases move the clock
    await afterNextPoll(() => {});
    const requests = account();
    const logins = requests.filter((r) => r.path === "/auth");

    // no request ever met an expired token (401) or the rate limit (429)
    expect(requests.map((r) => r.status).filter((status) => status !== 200)).toEqual([]);
    expect(logins.length).toBe(sim.logins);
    // The bridge renews a token two request spacings before it expires (so a request that
    // waited in the queue never carries an expired one), never earlier: logins are at least
    // lifetime − 2 spacings apart (50 ms for the two stamps' jitter).
    for (let i = 1; i < logins.length; i += 1) {
      expect(logins[i]!.time - logins[i - 1]!.time).toBeGreaterThanOrEqual(
        TOKEN_LIFETIME_MS - 2 * SPACING_MS - 50,
      );
    }
    // Renewed without a gap: every request carried a token younger than its lifetime, so a
    // valid one was there throughout (the simulator would have answered 401 otherwise).
    for (const request of requests.filter((r) => r.path !== "/auth")) {
      const login = logins.filter((l) => l.time <= request.time).at(-1);
      expect(login, `a login before ${request.path}`).toBeDefined();
      expect(request.time - login!.time).toBeLessThan(TOKEN_LIFETIME_MS);
    }
    // One login per token lifetime: two renewals happened mid-run, and never two logins inside
    // one lifetime's renewal period, hence at most one per (lifetime − 2 spacings) elapsed.
    const span = requests.at(-1)!.time - logins[0]!.time;
    expect(logins.length).toBeGreaterThanOrEqual(3);
    expect(logins.length).toBeLessThanOrEqual(
      1 + Math.floor(span / (TOKEN_LIFETIME_MS - 2 * SPACING_MS - 50)),
    );
    // the site never went offline, and no data was fetched twice: later polls found no new row
    expect(watch.messages.filter((m) => m.topic === `${SITE_TOPIC}/online`).map((m) => m.payload)).toEqual([
      "true",
    ]);
    expect(sim.rowsServed).toBe(FIRST_INTERVALS * SERIES);
  });

  it("fetches incrementally: two new intervals add two rows per series, not a whole day", async () => {
    const rowsBefore = sim.rowsServed;
    const pvTodayBefore = num("pvEnergyToday");
    const meterTodayBefore = Number(site(`meters/${METERS[0]!.id}/energyToday`));
    let jumped = 0;
    await afterNextPoll(() => {
      offset += 2 * QUARTER;
      jumped = Date.now();
    });
    // the poll after the move: one login for the token that expired with the half hour, then
    // the site's new rows, each meter's (they are behind the site now), and the sensor
    let requests: typeof sim.requests = [];
    await afterNextPoll(() => {
      requests = sim.requests.filter((r) => r.time >= jumped);
    });
    expect(requests.map((r) => `${r.method} ${r.path.replace(SITE.id, "<site>")} ${r.status}`)).toEqual([
      "POST /auth 200",
      "POST /site_data/<site>/electricity 200",
      ...METERS.map((m) => `POST /meter_data/<site>/${m.id} 200`),
      `GET /<site>/sensor_data/${SENSOR.id} 200`,
    ]);
    const end = Q + 2 * QUARTER;
    await waitForInterval(end);
    expect(sim.rowsServed - rowsBefore).toBe(2 * SERIES);
    expect(site("intervalEnd")).toBe(String(end / 1000));
    const row = siteRow(end - QUARTER);
    expectNumber(site("pvPower"), clamp(row.prod_total) * 4000);
    expectNumber(site("gridPower"), (clamp(row.from_ext) - clamp(row.to_ext)) * 4000);
    // the day totals went on from where they were, with the two new intervals
    expectNumber(site("pvEnergyToday"), pvTodayBefore + sum(Q, end, (s) => clamp(siteRow(s).prod_total)));
    expectNumber(
      site(`meters/${METERS[0]!.id}/energyToday`),
      meterTodayBefore + sum(Q, end, (s) => meterTotal(METERS[0]!, s)),
    );
    // the lists of meters and sensors are read once an hour, not per poll
    expect(sim.requests.filter((r) => r.path.startsWith("/meter_info")).length).toBe(1);
  });

  it("marks the site offline during an outage, keeps running, and recovers by itself", async () => {
    const since = Date.now();
    await afterNextPoll(() => sim.fault({ status: 503 }));
    await watch.waitForValue(`${SITE_TOPIC}/online`, "false", 30_000);
    const error = await watch.waitForValue(`${SITE_TOPIC}/error`, (payload) => payload !== "");
    expect(error).toMatch(/^Climkit: (GET|POST) \S+ answered 503/);
    expect(error).not.toContain(USER.password);
    // the daemon itself is fine: still online on the broker, the values stay where they were
    expect(watch.value(`${ROOT}/status`)).toBe("online");
    expect(site("intervalEnd")).toBe(String((Q + 2 * QUARTER) / 1000));
    expect(sim.requests.filter((r) => r.time >= since && r.status === 503).length).toBeGreaterThan(0);

    sim.fault(undefined);
    await watch.waitForValue(`${SITE_TOPIC}/online`, "true", 30_000);
    await waitFor(() => site("error") === "", 15_000, "the error cleared");
  });

  it("reports data that stops arriving once it is older than the limit, and catches up", async () => {
    const rowsBefore = sim.rowsServed;
    const latest = Q + 2 * QUARTER;
    // the service stops publishing, and 15 minutes pass: the latest interval is now 17 minutes
    // old, beyond the limit of 10 (below it until now: 2 to 3 minutes)
    await afterNextPoll(() => {
      sim.freeze();
      offset += QUARTER;
    });
    await watch.waitForValue(`${SITE_TOPIC}/online`, "false", 30_000);
    const local = new Intl.DateTimeFormat("en-GB", {
      timeZone: SITE.timezone,
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    }).format(latest);
    expect(local).toBe("12:30");
    await watch.waitForValue(
      `${SITE_TOPIC}/error`,
      `Climkit: no new 15-minute interval since ${local} (expected one every 15 minutes)`,
    );
    expect(sim.rowsServed).toBe(rowsBefore);

    // publishing resumes: the missed interval arrives, once
    sim.resume();
    const end = latest + QUARTER;
    await watch.waitForValue(`${SITE_TOPIC}/online`, "true", 30_000);
    await waitForInterval(end);
    await waitFor(() => site("error") === "", 15_000, "the error cleared");
    expect(sim.rowsServed - rowsBefore).toBe(SERIES);
  });

  it("kept to 1 request/s for the account over the whole run, and was never refused with 429", () => {
    const requests = account();
    const others = sim.requests.filter((r) => r.username !== USER.username);
    expect(others.map((r) => `${r.username} ${r.path} ${r.status}`)).toEqual(["warm-up /auth 401"]);
    expect(sim.requests.some((r) => r.status === 429)).toBe(false);
    // The bridge starts an account's requests 1000 ms apart on the monotonic clock. The
    // simulator stamps each on arrival, after the connection and the body are read, which can
    // shift a gap by a few ms (tens on a loaded machine) either way; the simulator's own
    // gate allows 50 ms for that too. A gap below 950 ms would be a second request in the same
    // second.
    const gaps = requests.slice(1).map((r, i) => r.time - requests[i]!.time);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(950);
  });
});
