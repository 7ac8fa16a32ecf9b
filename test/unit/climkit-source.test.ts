import { afterEach, describe, expect, it } from "vitest";
import { ClimkitSimulator, type SimSite } from "../../src/climkit/simulator/server.js";
import { QUARTER } from "../../src/climkit/simulator/site.js";
import { createClimkitSources } from "../../src/climkit/source.js";
import type { ClimkitConfig } from "../../src/config/schema.js";
import type { Source } from "../../src/source.js";
import { silentLogger } from "../../src/util/log.js";
import { RecordingSink, waitFor } from "../helpers/recording-sink.js";

// A small site keeps a first poll at 8 requests: login, infos, meters, sensors, site_data,
// 2 meters, 1 sensor.
const SITE: SimSite = {
  id: "5f2b1c9e8d7a6b5c4d3e2f10",
  name: "Résidence Les Tilleuls",
  timezone: "Europe/Zurich",
  meters: [
    { id: "pv1", type: "electricity", name: "PV toiture", mode: "production", scale: 24 },
    { id: "cp1", type: "charge_point", name: "Borne", mode: "consumption", scale: 7.4 },
  ],
  sensors: [{ id: "t1", name: "Température extérieure", type: "temperature", unit: "°C" }],
};
const OTHER: SimSite = {
  ...SITE,
  id: "5f2b1c9e8d7a6b5c4d3e2f11",
  name: "Immeuble Gare 4",
  meters: [],
  sensors: [],
};
const USER = { username: "api-user", password: "s3cret-Pa55word" };
// 12:07 local time (CEST) on a June day: PV exports
const NOON = Date.parse("2026-06-21T10:07:00Z");

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

interface Setup {
  sim?: ConstructorParameters<typeof ClimkitSimulator>[0];
  config?: Partial<ClimkitConfig>;
  /** Request spacing; the rate-limit test uses Climkit's real 1000 ms. */
  spacingMs?: number;
  now?: () => number;
}

async function run(setup: Setup = {}) {
  const clock = { now: NOON };
  const now = setup.now ?? (() => clock.now);
  const spacing = setup.spacingMs ?? 100;
  const sim = new ClimkitSimulator({
    users: [USER],
    sites: [SITE],
    now,
    minRequestGapMs: spacing - 10,
    ...setup.sim,
  });
  const url = await sim.start();
  const config: ClimkitConfig = {
    ...USER,
    sites: [SITE.id],
    interval: 1000,
    timeout: 2000,
    url,
    ...setup.config,
  };
  const [source] = createClimkitSources([config], {
    logger: silentLogger(),
    now,
    minSpacingMs: spacing,
    retries: 1,
    retryDelayMs: 50,
  }) as [Source];
  const sink = new RecordingSink();
  await source.start(sink);
  cleanups.push(async () => {
    await source.stop();
    await sim.stop();
  });
  return { sim, sink, source, clock };
}

const polls = (sink: RecordingSink, topic = "site") => sink.polls.filter((t) => t === topic).length;
const pathsOf = (sim: ClimkitSimulator) => sim.requests.map((r) => r.path);

describe("Climkit source against the simulator", () => {
  it("publishes the site's power, energies, day totals, meters and sensors", async () => {
    const { sim, sink } = await run();
    await waitFor(() => polls(sink) >= 1, 10_000, "first poll");
    const model = sim.model(SITE.id)!;
    const end = Date.parse("2026-06-21T10:00:00Z"); // latest complete interval
    const row = model.siteRow("electricity", end - QUARTER);
    const value = (key: string) => sink.value("site", key);

    expect(sink.devices.get("site")?.describe()).toMatchObject({ id: `climkit-${SITE.id}`, name: SITE.name });
    expect(value("title")).toBe(SITE.name);
    expect(value("intervalEnd")).toBe(end / 1000);
    expect(value("pvPower")).toBeCloseTo((row.prod_total ?? 0) * 4000, 6);
    expect(value("homePower")).toBeCloseTo((row.conso_total ?? 0) * 4000, 6);
    expect(value("gridPower")).toBeCloseTo(((row.from_ext ?? 0) - (row.to_ext ?? 0)) * 4000, 6);
    expect(value("gridPower") as number).toBeLessThan(0); // noon in June: exporting
    expect(value("pvEnergy")).toBe(row.prod_total);

    // today = from local midnight (22:00 UTC the day before) to the latest interval
    let pvToday = 0;
    for (let start = Date.parse("2026-06-20T22:00:00Z"); start < end; start += QUARTER) {
      pvToday += Math.max(0, model.siteRow("electricity", start).prod_total ?? 0);
    }
    expect(pvToday).toBeGreaterThan(10);
    expect(value("pvEnergyToday")).toBeCloseTo(pvToday, 6);

    const pv = model.meterRow(SITE.meters[0]!, end - QUARTER);
    expect(value("meters/pv1/energy")).toBe(pv.total);
    expect(value("meters/pv1/power")).toBeCloseTo((pv.total ?? 0) * 4000, 6);
    expect(value("meters/pv1/unit")).toBe("kWh");
    expect(value("meters/cp1/type")).toBe("charge_point");
    expect(value("meters/cp1/mode")).toBe("consumption");

    const reading = model.sensorValue(SITE.sensors[0]!, Date.parse("2026-06-21T10:05:00Z"));
    expect(value("sensors/t1/value")).toBe(reading);
    expect(value("sensors/t1/unit")).toBe("°C");
    expect(value("sensors/t1/name")).toBe("Température extérieure");
    expect(sink.online("site")).toBe(true);
    expect(sink.lastError("site")).toBe("");
  });

  it("fetches incrementally: a later poll takes only the new rows, and meters only when there are some", async () => {
    const { sim, sink, clock } = await run();
    await waitFor(() => polls(sink) >= 1, 10_000, "first poll");
    // from local midnight to 12:00 local: 48 intervals for the site and each of its 2 meters
    expect(sim.rowsServed).toBe(3 * 48);
    await waitFor(() => polls(sink) >= 2, 10_000, "second poll");
    expect(sim.rowsServed).toBe(3 * 48);
    expect(pathsOf(sim).filter((p) => p.startsWith("/meter_data")).length).toBe(2);
    const pvBefore = sink.value("site", "pvEnergyToday") as number;

    clock.now += QUARTER;
    const seen = polls(sink);
    await waitFor(() => sink.value("site", "intervalEnd") === Date.parse("2026-06-21T10:15:00Z") / 1000);
    await waitFor(() => polls(sink) > seen);
    expect(sim.rowsServed).toBe(3 * 48 + 3);
    const row = sim.model(SITE.id)!.siteRow("electricity", Date.parse("2026-06-21T10:00:00Z"));
    expect(sink.value("site", "pvEnergyToday")).toBeCloseTo(pvBefore + (row.prod_total ?? 0), 6);
    // discovery is not repeated on every poll
    expect(pathsOf(sim).filter((p) => p.startsWith("/meter_info")).length).toBe(1);
  });

  it("renews an expiring token before it runs out, without a failed poll, at most 1 request/s", async () => {
    const started = Date.now();
    const { sim, sink } = await run({
      spacingMs: 1000,
      now: () => NOON + (Date.now() - started),
      sim: { tokenLifetimeMs: 5000, minRequestGapMs: 950 },
    });
    await waitFor(() => sim.logins >= 3 && polls(sink) >= 2, 20_000, "two renewals");

    expect(sink.availabilityLog.every((entry) => entry.online && entry.error === "")).toBe(true);
    expect(sim.requests.every((r) => r.status === 200)).toBe(true); // no 401, no 429
    const logins = sim.requests.filter((r) => r.path === "/auth").map((r) => r.time);
    for (let i = 1; i < logins.length; i += 1) {
      // renewed two request spacings before expiry (3 s into 5), not per request or poll
      expect(logins[i]! - logins[i - 1]!).toBeGreaterThanOrEqual(2900);
    }
    const times = sim.requests.filter((r) => r.username === USER.username).map((r) => r.time);
    expect(times.length).toBe(sim.requests.length);
    for (let i = 1; i < times.length; i += 1) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(950);
  }, 25_000);

  it("logs in again at once when the service refuses a token early, and the poll succeeds", async () => {
    const { sim, sink } = await run();
    await waitFor(() => polls(sink) >= 1);
    sim.fault({ status: 401, path: "/site_data", times: 1 });
    const seen = polls(sink);
    await waitFor(() => polls(sink) > seen);
    expect(sim.logins).toBe(2);
    expect(sink.availabilityLog.some((entry) => !entry.online)).toBe(false);
  });

  it("marks the site offline with the error during an outage and recovers by itself", async () => {
    const { sim, sink } = await run();
    await waitFor(() => polls(sink) >= 1);
    sim.fault({ status: 503 });
    await waitFor(() => sink.online("site") === false, 10_000, "offline");
    expect(sink.lastError("site")).toMatch(/^Climkit: POST site_data\/\w+\/electricity answered 503/);

    sim.fault({ garbage: true });
    await waitFor(() => /not JSON/.test(sink.lastError("site") ?? ""), 10_000, "garbage error");
    expect(sink.online("site")).toBe(false);

    sim.fault({ reset: true });
    await waitFor(() => /connection reset|socket/.test(sink.lastError("site") ?? ""), 10_000, "reset error");

    sim.fault(undefined);
    await waitFor(() => sink.online("site") === true, 15_000, "recovery");
    expect(sink.lastError("site")).toBe("");
  });

  it("says why when the login is refused, without the password", async () => {
    const { sink } = await run({ config: { password: "wrong-Pa55word" } });
    await waitFor(() => sink.online("site") === false, 10_000, "offline");
    expect(sink.lastError("site")).toBe("Climkit: login refused (401): check climkit[0].username/password");
    expect(sink.polls).toEqual([]);
  });

  it("never shows the password or a JWT in an error, even when the service echoes them", async () => {
    const { sim, sink } = await run();
    await waitFor(() => polls(sink) >= 1);
    const [token] = sim.issuedTokens();
    sim.fault({
      status: 400,
      body: JSON.stringify({ msg: `bad request for ${USER.password} with ${token}` }),
    });
    await waitFor(() => sink.online("site") === false, 10_000, "offline");
    const errors = sink.availabilityLog.map((entry) => entry.error).join("\n");
    expect(errors).toContain("answered 400");
    expect(errors).toContain("***");
    expect(errors).not.toContain(USER.password);
    expect(errors).not.toContain(token);
  });

  it("goes offline when no new interval arrives, and catches up when data flows again", async () => {
    const { sim, sink, clock } = await run();
    await waitFor(() => polls(sink) >= 1);
    sim.freeze();
    clock.now += 70 * 60_000;
    await waitFor(() => sink.online("site") === false, 10_000, "stale");
    // the latest interval ended 10:00 UTC, 12:00 in Zurich
    expect(sink.lastError("site")).toBe(
      "Climkit: no new 15-minute interval since 12:00 (expected one every 15 minutes)",
    );
    const rows = sim.rowsServed;
    sim.resume();
    await waitFor(() => sink.online("site") === true, 10_000, "recovered");
    expect(sink.value("site", "intervalEnd")).toBe(Date.parse("2026-06-21T11:15:00Z") / 1000);
    expect(sim.rowsServed - rows).toBe(3 * 5); // 10:00-11:15 UTC for the site and its 2 meters
  });

  it("recovers by itself when a sensor is removed upstream, and erases its values", async () => {
    const site: SimSite = { ...SITE, sensors: [...SITE.sensors] };
    const { sim, sink } = await run({ sim: { sites: [site] } });
    await waitFor(() => polls(sink) >= 1);
    expect(sink.value("site", "sensors/t1/value")).toEqual(expect.any(Number));
    site.sensors.length = 0;
    await waitFor(() => sink.online("site") === false, 10_000, "404 on the sensor");
    expect(sink.lastError("site")).toMatch(/sensor_data\/t1 answered 404/);
    await waitFor(() => sink.online("site") === true, 10_000, "rediscovered");
    expect(sink.value("site", "sensors/t1/value")).toBeNull();
    expect(sink.value("site", "sensors/t1/name")).toBeNull();
    expect(pathsOf(sim).filter((p) => p.endsWith("/sensors_list")).length).toBe(2);
  });

  it("numbers several discovered sites sites/1, sites/2 (list of ids) and polls both", async () => {
    const { sink } = await run({
      sim: { sites: [SITE, OTHER], listShape: "ids" },
      config: { sites: undefined },
    });
    await waitFor(() => polls(sink, "sites/1") >= 1 && polls(sink, "sites/2") >= 1, 15_000, "both sites");
    expect(sink.value("sites/1", "title")).toBe(SITE.name);
    expect(sink.value("sites/2", "title")).toBe(OTHER.name);
    expect(sink.devices.get("sites/2")?.describe().id).toBe(`climkit-${OTHER.id}`);
    expect(sink.state.has("site")).toBe(false);
  });

  it("uses the `site` topic when the account discovers a single installation (list of objects)", async () => {
    const { sim, sink } = await run({ sim: { listShape: "objects" }, config: { sites: undefined } });
    await waitFor(() => polls(sink) >= 1);
    expect(pathsOf(sim)).toContain("/all_installations");
    expect(sink.value("site", "title")).toBe(SITE.name);
  });

  it("stops promptly while a request hangs", async () => {
    const { sim, sink, source } = await run();
    await waitFor(() => polls(sink) >= 1);
    sim.fault({ delayMs: 5000 });
    await waitFor(
      () => sim.requests.length > 0 && sim.requests.at(-1)?.status === 0,
      5000,
      "hanging request",
    );
    const stopping = Date.now();
    await source.stop();
    expect(Date.now() - stopping).toBeLessThan(1500);
  });
});

describe("a Climkit account without sites: (issue 11 item 10)", () => {
  it("has a visible state before its first discovery: the login error, then online", async () => {
    const { sink } = await run({
      config: { sites: undefined, password: "wrong-password-1" },
    });
    // no site topic exists yet; the account's own topic says why
    await waitFor(() => sink.lastError("climkit/1"), 10_000, "the account's error");
    expect(sink.online("climkit/1")).toBe(false);
    expect(sink.lastError("climkit/1")).toMatch(/401|refused|password|credentials/i);
    expect(sink.devices.size).toBe(0);
  });

  it("reports the account online once its sites are discovered", async () => {
    const { sink } = await run({ config: { sites: undefined } });
    await waitFor(() => polls(sink) >= 1, 10_000, "first poll");
    expect(sink.online("climkit/1")).toBe(true);
    expect(sink.lastError("climkit/1")).toBe("");
  });
});

describe("a Climkit site polled on request (bridge/request/poll)", () => {
  it("reads the site again now", async () => {
    const { sim, sink } = await run({ config: { interval: 3_600_000 } });
    await waitFor(() => polls(sink) >= 1, 10_000, "first poll");
    const before = sim.requests.length;
    await sink.devices.get("site")?.pollNow?.();
    expect(polls(sink)).toBe(2);
    expect(sim.requests.length).toBeGreaterThan(before);
  });
});
