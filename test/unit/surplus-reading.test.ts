import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { describeConfig } from "../../src/summary.js";
import { readPower } from "../../src/surplus/reading.js";

const plain = { topic: "t", scale: 1, invert: false, json: undefined };

describe("surplus feed: reading a meter's payload", () => {
  it("reads plain numbers, scales and inverts them", () => {
    expect(readPower("-1234.5", plain)).toBe(-1234.5);
    expect(readPower(" 2.5\n", { ...plain, scale: 1000 })).toBe(2500);
    expect(readPower("800", { ...plain, invert: true })).toBe(-800);
  });

  it("reads a number at a dotted JSON path, also inside arrays and as a string", () => {
    const tasmota = '{"Time":"2025-07-01T12:00:00","ENERGY":{"Power":-420}}';
    expect(readPower(tasmota, { ...plain, json: "ENERGY.Power" })).toBe(-420);
    expect(readPower('{"meters":[{"power":"12.5"}]}', { ...plain, json: "meters.0.power" })).toBe(12.5);
  });

  it("names what is wrong instead of reading a number that is not there", () => {
    expect(readPower("", plain)).toBe("empty payload");
    expect(readPower("unavailable", plain)).toMatch(/not a number/);
    expect(readPower('{"a":1}', plain)).toMatch(/not a number/);
    expect(readPower("oops", { ...plain, json: "a" })).toMatch(/not JSON/);
    expect(readPower('{"a":{"b":null}}', { ...plain, json: "a.b" })).toMatch(/not a number/);
    expect(readPower('{"a":1}', { ...plain, json: "a.b" })).toMatch(/no a\.b/);
    expect(readPower("Infinity", plain)).toMatch(/not a number/);
  });
});

describe("surplus feed: configuration", () => {
  const charger = { serial: "000001", loadpoint: 1, url: "http://192.0.2.1" };

  it("takes a topic alone or with scale, invert and json, and defaults the rhythm", () => {
    const config = parseConfig({
      goe: [{ ...charger, surplus: { grid: "meter/power", battery: { topic: "bat/p", invert: true } } }],
    });
    expect(config.goe[0]?.surplus).toEqual({
      grid: { topic: "meter/power", scale: 1, invert: false, json: undefined },
      battery: { topic: "bat/p", scale: 1, invert: true },
      interval: 4000,
      maxAge: 10_000,
    });
  });

  it("refuses an interval go-e would not keep up with, a missing grid input and a wildcard topic", () => {
    expect(() => parseConfig({ goe: [{ ...charger, surplus: { grid: "m", interval: "8s" } }] })).toThrow(
      /goe\[0\]\.surplus\.interval.*at most 5s/s,
    );
    expect(() => parseConfig({ goe: [{ ...charger, surplus: { pv: "m" } }] })).toThrow(
      /goe\[0\]\.surplus\.grid/,
    );
    expect(() => parseConfig({ goe: [{ ...charger, surplus: { grid: "meters/+/power" } }] })).toThrow(
      /wildcards/,
    );
  });

  it("--check names the feed's inputs and says whether REST writes are open", () => {
    const lines = (extra: object) =>
      describeConfig(
        parseConfig({ goe: [{ ...charger, surplus: { grid: "meter/power", pv: "pv/power" } }], ...extra }),
      ).join("\n");
    expect(lines({})).toContain(
      "PV-surplus feed: grid from meter/power, pv from pv/power; ids every 4s while readings are under 10s old",
    );
    expect(lines({})).toContain("no health endpoint, no REST API");
    expect(lines({ http: { listen: "127.0.0.1:9640" } })).toContain(
      "REST writes from this machine without a token",
    );
    expect(lines({ http: { listen: "0.0.0.0:9640" } })).toContain(
      "WARNING: REST writes refused: set http.token",
    );
    const withToken = lines({ http: { listen: "0.0.0.0:9640", token: "a-token-of-twenty-chars" } });
    expect(withToken).toContain("REST writes need the token");
    expect(withToken).not.toContain("a-token-of-twenty-chars");
  });
});
