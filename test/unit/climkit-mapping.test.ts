import { describe, expect, it } from "vitest";
import { describeSite } from "../../src/climkit/describe.js";
import {
  dayValues,
  meterIntervalValues,
  meterKind,
  siteEnergies,
  siteIntervalValues,
} from "../../src/climkit/mapping.js";
import { SiteNumbering } from "../../src/climkit/numbering.js";
import {
  latestSensorReading,
  type MeterInfo,
  parseInstallationInfo,
  parseInstallations,
  parseMeterRows,
  parseMeters,
  parseSiteRows,
} from "../../src/climkit/parse.js";
import { IntervalSeries } from "../../src/climkit/series.js";
import { localClock, parseTimestamp, startOfLocalDay, toNaiveUtc } from "../../src/climkit/time.js";
import { UpstreamError } from "../../src/upstream/errors.js";

const ZURICH = "Europe/Zurich";
const what = "Climkit: test";

// reference/upstreams.md §C: a real meter_data reply of a consumer meter, and PV meter rows
const CONSUMER_REPLY =
  '[{"ext":0.028,"timestamp":"2026-03-22 05:30:00+01:00","self":0.001,"total":0.029},{"ext":0.02,"timestamp":"2026-03-22 05:45:00+01:00","self":0,"total":0.02}]';
const PV_ROWS = [{ total: 0.024, timestamp: "2026-03-22 08:00:00+01:00" }];

const consumer: MeterInfo = { id: "m1", type: "electricity", name: "Appartement", mode: "consumption" };
const pv: MeterInfo = { id: "pv", type: "electricity", name: "PV", mode: "production" };

describe("Climkit timestamps", () => {
  it("reads local time with offset and a space separator, as the service sends it", () => {
    expect(parseTimestamp("2026-03-22 05:30:00+01:00")).toBe(Date.UTC(2026, 2, 22, 4, 30));
    expect(parseTimestamp("2026-07-01 00:15:00+02:00")).toBe(Date.UTC(2026, 5, 30, 22, 15));
    expect(parseTimestamp("2026-03-22T05:30:00-0330")).toBe(Date.UTC(2026, 2, 22, 9, 0));
  });

  it("treats naive timestamps as UTC and accepts T, Z and fractions", () => {
    expect(parseTimestamp("2022-08-15 20:15:00")).toBe(Date.UTC(2022, 7, 15, 20, 15));
    expect(parseTimestamp("2022-08-15T20:15:00")).toBe(Date.UTC(2022, 7, 15, 20, 15));
    expect(parseTimestamp("2022-08-15T20:15:00.250Z")).toBe(Date.UTC(2022, 7, 15, 20, 15, 0, 250));
  });

  it("reads epoch numbers (seconds or ms) and MongoDB {$date}", () => {
    expect(parseTimestamp(1774153800)).toBe(1774153800_000);
    expect(parseTimestamp(1774153800_000)).toBe(1774153800_000);
    expect(parseTimestamp({ $date: 1774153800_000 })).toBe(1774153800_000);
  });

  it("refuses garbage instead of inventing a time", () => {
    for (const bad of [
      "",
      "yesterday",
      "2026-13-01 00:00:00",
      "2026-03-22 25:00:00",
      null,
      {},
      [],
      -5,
      Number.NaN,
    ]) {
      expect(parseTimestamp(bad)).toBeUndefined();
    }
  });

  it("writes t_s as naive UTC", () => {
    expect(toNaiveUtc(Date.UTC(2026, 2, 22, 4, 30))).toBe("2026-03-22T04:30:00");
  });

  it("finds the start of the site's local day, also on DST days", () => {
    // 29 March 2026: Zurich springs forward, the local day lasts 23 hours
    expect(startOfLocalDay(Date.UTC(2026, 2, 29, 12), ZURICH)).toBe(Date.UTC(2026, 2, 28, 23));
    expect(startOfLocalDay(Date.UTC(2026, 2, 30, 12), ZURICH)).toBe(Date.UTC(2026, 2, 29, 22));
    // 00:30 local on 22 March is still 21 March in UTC
    expect(startOfLocalDay(Date.UTC(2026, 2, 21, 23, 30), ZURICH)).toBe(Date.UTC(2026, 2, 21, 23));
    expect(localClock(Date.UTC(2026, 2, 22, 9, 45), ZURICH, Date.UTC(2026, 2, 22, 12))).toBe("10:45");
    expect(localClock(Date.UTC(2026, 2, 21, 9, 45), ZURICH, Date.UTC(2026, 2, 22, 12))).toBe(
      "2026-03-21 10:45",
    );
  });
});

describe("Climkit lists", () => {
  it("reads all_installations as a list of ids (2019 doc)", () => {
    expect(parseInstallations(["5f2b1c9e8d7a6b5c4d3e2f10", "5f2b1c9e8d7a6b5c4d3e2f11"], what)).toEqual([
      { id: "5f2b1c9e8d7a6b5c4d3e2f10" },
      { id: "5f2b1c9e8d7a6b5c4d3e2f11" },
    ]);
  });

  it("reads all_installations as a list of objects with _id, id, site_id or {$oid}", () => {
    const body = [
      { _id: "a", name: "Les Tilleuls" },
      { id: "b" },
      { site_id: "c" },
      { _id: { $oid: "d" } },
      { _id: "a" },
      { name: "no id" },
      42,
      null,
    ];
    expect(parseInstallations(body, what).map((site) => site.id)).toEqual(["a", "b", "c", "d", "42"]);
    expect(parseInstallations(body, what)[0]?.name).toBe("Les Tilleuls");
    expect(parseInstallations({ data: ["x"] }, what)).toEqual([{ id: "x" }]);
  });

  it("refuses a body that is no list with a readable error", () => {
    expect(() => parseInstallations({ msg: "Internal error" }, what)).toThrow(UpstreamError);
    expect(() => parseInstallations("<html>", what)).toThrow(/expected a list, got string/);
  });

  it("reads meter_info with prim_ad as string or number and fills gaps", () => {
    const meters = parseMeters(
      [
        { id: "aaa", type: "electricity", prim_ad: "10", virtual: false },
        { id: "bbb", type: "cold_water", name: "Eau froide", mode: "consumption", prim_ad: 11 },
        { type: "heating" },
      ],
      what,
    );
    expect(meters).toEqual([
      { id: "aaa", type: "electricity", name: "aaa", mode: "" },
      { id: "bbb", type: "cold_water", name: "Eau froide", mode: "consumption" },
    ]);
  });

  it("keeps a valid time zone from installation_infos and drops an unknown one", () => {
    expect(parseInstallationInfo({ name: "X", timezone: "Europe/Zurich", site_ref: 17 }, what)).toEqual({
      name: "X",
      timezone: "Europe/Zurich",
      ref: "17",
    });
    expect(parseInstallationInfo({ timezone: "Mars/Olympus" }, what).timezone).toBeUndefined();
    expect(() => parseInstallationInfo([], what)).toThrow(UpstreamError);
  });
});

describe("Climkit rows to values", () => {
  it("maps the real consumer meter reply: W averaged over the interval and kWh", () => {
    const rows = parseMeterRows(JSON.parse(CONSUMER_REPLY), what);
    expect(rows.map((row) => row.end)).toEqual([Date.UTC(2026, 2, 22, 4, 30), Date.UTC(2026, 2, 22, 4, 45)]);
    const values = meterIntervalValues(consumer, rows[0]!);
    expect(values["meters/m1/energy"]).toBe(0.029);
    expect(values["meters/m1/power"]).toBeCloseTo(116, 6); // 0.029 kWh in 15 min = 116 W
  });

  it("maps PV meter rows that carry only total and timestamp", () => {
    const [row] = parseMeterRows(PV_ROWS, what);
    expect(row?.end).toBe(Date.UTC(2026, 2, 22, 7, 0));
    const values = meterIntervalValues(pv, row!);
    expect(values["meters/pv/power"]).toBeCloseTo(96, 6);
    expect(values["meters/pv/energy"]).toBe(0.024);
  });

  it("publishes water in m³ without a power", () => {
    expect(meterKind("cold_water")).toEqual({ unit: "m³", power: false, quantity: "water" });
    const water: MeterInfo = { id: "w", type: "hot_water", name: "ECS", mode: "consumption" };
    const values = meterIntervalValues(water, { end: 0, total: 0.012 });
    expect(values).toEqual({ "meters/w/energy": 0.012 });
  });

  it("derives site powers: grid import positive, export negative", () => {
    const [importing, exporting] = parseSiteRows(
      [
        {
          timestamp: "2026-03-22 07:00:00+01:00",
          prod_total: 0.05,
          self: 0.05,
          from_ext: 0.2,
          to_ext: 0,
          conso_total: 0.25,
        },
        {
          timestamp: "2026-03-22 12:00:00+01:00",
          prod_total: 1.5,
          self: 0.3,
          from_ext: 0,
          to_ext: 1.2,
          conso_total: 0.3,
        },
      ],
      what,
    );
    const morning = siteIntervalValues(importing!);
    expect(morning.gridPower).toBeCloseTo(800, 6);
    expect(morning.homePower).toBeCloseTo(1000, 6);
    expect(morning.pvPower).toBeCloseTo(200, 6);
    expect(morning.intervalEnd).toBe(Date.UTC(2026, 2, 22, 6) / 1000);
    const noon = siteIntervalValues(exporting!);
    expect(noon.gridPower).toBeCloseTo(-4800, 6);
    expect(noon.gridExportEnergy).toBe(1.2);
    expect(noon.selfEnergy).toBe(0.3);
  });

  it("clamps negative artefacts where a negative is impossible, and reads numeric strings", () => {
    const [row] = parseSiteRows(
      [
        {
          timestamp: "2026-03-22 02:00:00+01:00",
          prod_total: -0.001,
          self: -0.001,
          from_ext: "0.12",
          to_ext: -0.002,
          conso_total: 0.12,
        },
      ],
      what,
    );
    const values = siteIntervalValues(row!);
    expect(values.pvPower).toBe(0);
    expect(values.pvEnergy).toBe(0);
    expect(values.selfEnergy).toBe(0);
    expect(values.gridPower).toBeCloseTo(480, 6); // export artefact clamped, not added to import
    expect(meterIntervalValues(pv, { end: 0, total: -0.001 })["meters/pv/power"]).toBe(0);
  });

  it("erases what a row does not carry instead of publishing 0", () => {
    const [row] = parseSiteRows([{ timestamp: "2026-03-22 02:00:00+01:00", conso_total: 0.1 }], what);
    const values = siteIntervalValues(row!);
    expect(values.pvPower).toBeNull();
    expect(values.gridPower).toBeNull();
    expect(values.homeEnergy).toBe(0.1);
  });

  it("drops rows without a readable timestamp and sorts the rest", () => {
    const rows = parseSiteRows(
      [
        { timestamp: "2026-03-22 10:15:00+01:00", conso_total: 2 },
        { timestamp: "garbage", conso_total: 9 },
        { conso_total: 9 },
        "row",
        { timestamp: "2026-03-22 10:00:00+01:00", conso_total: 1 },
      ],
      what,
    );
    expect(rows.map((row) => row.conso)).toEqual([1, 2]);
  });

  it("takes the newest sensor reading whatever the order", () => {
    const reading = latestSensorReading(
      [
        { timestamp: 1774170000, value: 11.5 },
        { timestamp: 1774170600, value: "12.5" },
        { timestamp: 1774170300, value: 12 },
        { timestamp: 1774170900, value: "n/a" },
      ],
      what,
    );
    expect(reading).toEqual({ time: 1774170600_000, value: 12.5 });
    expect(latestSensorReading([], what)).toBeUndefined();
  });
});

describe("Climkit day totals", () => {
  const row = (local: string, pvKWh: number) =>
    parseSiteRows([{ timestamp: local, prod_total: pvKWh, conso_total: 0.1 }], what)[0]!;

  it("sums the site-local day; the row ending at midnight belongs to the day before", () => {
    const series = new IntervalSeries(siteEnergies);
    const now = Date.UTC(2026, 2, 22, 9);
    expect(series.nextFrom(now, ZURICH, 0)).toBe(Date.UTC(2026, 2, 21, 23)); // local midnight
    series.add([row("2026-03-22 00:00:00+01:00", 5), row("2026-03-22 00:15:00+01:00", 0.5)], ZURICH);
    series.add([row("2026-03-22 00:30:00+01:00", -0.001), row("2026-03-22 00:45:00+01:00", 0.25)], ZURICH);
    expect(series.dayTotals()?.pvEnergy).toBeCloseTo(0.75, 9);
    expect(series.dayTotals()?.homeEnergy).toBeCloseTo(0.3, 9);
    expect(series.nextFrom(now, ZURICH, 0)).toBe(Date.UTC(2026, 2, 21, 23, 45));
  });

  it("ignores rows it already has (t_s read as inclusive)", () => {
    const series = new IntervalSeries(siteEnergies);
    series.nextFrom(Date.UTC(2026, 2, 22, 9), ZURICH, 0);
    expect(series.add([row("2026-03-22 08:00:00+01:00", 1)], ZURICH)).toBe(1);
    expect(
      series.add([row("2026-03-22 08:00:00+01:00", 1), row("2026-03-22 08:15:00+01:00", 2)], ZURICH),
    ).toBe(1);
    expect(series.dayTotals()?.pvEnergy).toBe(3);
  });

  it("starts a new day at local midnight", () => {
    const series = new IntervalSeries(siteEnergies);
    series.nextFrom(Date.UTC(2026, 2, 22, 22), ZURICH, 0);
    series.add([row("2026-03-22 23:45:00+01:00", 1), row("2026-03-23 00:00:00+01:00", 2)], ZURICH);
    expect(series.dayTotals()?.pvEnergy).toBe(3);
    series.add([row("2026-03-23 00:15:00+01:00", 0.5)], ZURICH);
    expect(series.dayTotals()?.pvEnergy).toBe(0.5);
  });

  it("publishes no day total for a day it did not see from its start", () => {
    // at 00:20 local, looking back only to midnight: yesterday's last interval is partly known
    const series = new IntervalSeries(siteEnergies);
    series.nextFrom(Date.UTC(2026, 2, 22, 23, 20), ZURICH, 0);
    series.add([row("2026-03-22 23:45:00+01:00", 1)], ZURICH);
    expect(series.dayTotals()).toBeUndefined();
    expect(dayValues(["pvEnergy"], series.dayTotals())).toEqual({ pvEnergyToday: null });
  });

  it("looks back far enough after midnight to total yesterday when its data still lags", () => {
    const series = new IntervalSeries(siteEnergies);
    // 00:20 local with the default 60-minute look-back: fetches from yesterday's midnight
    expect(series.nextFrom(Date.UTC(2026, 2, 22, 23, 20), ZURICH, 60 * 60_000)).toBe(
      Date.UTC(2026, 2, 21, 23),
    );
    series.add([row("2026-03-22 00:15:00+01:00", 0.5), row("2026-03-22 23:45:00+01:00", 1)], ZURICH);
    expect(series.dayTotals()?.pvEnergy).toBe(1.5);
  });
});

describe("Climkit description and topics", () => {
  it("describes powers as measurements, day totals as total_increasing, interval energies without class", () => {
    const water: MeterInfo = { id: "w", type: "cold_water", name: "Eau", mode: "consumption" };
    const description = describeSite({
      id: "abc",
      topic: "site",
      name: "Les Tilleuls",
      meters: [pv, water],
      sensors: [{ id: "t", name: "Dehors", type: "temperature", unit: "°C" }],
    });
    expect(description).toMatchObject({
      id: "climkit-abc",
      topic: "site",
      kind: "site",
      manufacturer: "Climkit",
    });
    const entity = (key: string) => description.entities.find((e) => e.key === key);
    expect(entity("gridPower")).toMatchObject({ unit: "W", stateClass: "measurement", quantity: "power" });
    expect(entity("pvEnergyToday")).toMatchObject({ unit: "kWh", stateClass: "total_increasing" });
    expect(entity("pvEnergy")?.stateClass).toBeUndefined();
    expect(entity("meters/pv/power")).toMatchObject({ unit: "W" });
    expect(entity("meters/w/power")).toBeUndefined();
    expect(entity("meters/w/energyToday")).toMatchObject({ unit: "m³", quantity: "water" });
    expect(entity("sensors/t/value")).toMatchObject({ quantity: "temperature", unit: "°C" });
  });

  it("gives gas meters a unit and writes Climkit's `C` as °C, so HA keeps the device class (issue 12 item 7)", () => {
    const description = describeSite({
      id: "abc",
      topic: "site",
      name: "Les Tilleuls",
      meters: [{ id: "g", type: "gas", name: "Gaz", mode: "consumption" }],
      sensors: [{ id: "t", name: "Cave", type: "temperature", unit: "C" }],
    });
    const entity = (key: string) => description.entities.find((e) => e.key === key);
    expect(entity("meters/g/energyToday")).toMatchObject({
      unit: "m³",
      quantity: "gas",
      stateClass: "total_increasing",
    });
    expect(entity("sensors/t/value")).toMatchObject({ quantity: "temperature", unit: "°C" });
  });

  it("uses `site` for one account with one site, else sites/<n> in config order", async () => {
    const signal = new AbortController().signal;
    expect(await new SiteNumbering([undefined]).claim(0, 1, signal)).toEqual(["site"]);
    expect(await new SiteNumbering([undefined]).claim(0, 2, signal)).toEqual(["sites/1", "sites/2"]);
    const numbering = new SiteNumbering([undefined, 1]);
    expect(numbering.known(1)).toBeUndefined(); // waits for the first account's discovery
    const second = numbering.claim(1, 1, signal);
    expect(await numbering.claim(0, 2, signal)).toEqual(["sites/1", "sites/2"]);
    expect(await second).toEqual(["sites/3"]);
    expect(new SiteNumbering([1, 1]).known(1)).toEqual(["sites/2"]);
  });
});
