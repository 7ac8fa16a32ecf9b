import { describe, expect, it } from "vitest";
import { encodeSetQuery, readSetOutcome } from "../../src/goe/api.js";
import { DENIED_KEYS, planWrite } from "../../src/goe/writes.js";

const STATUS = { ama: 16, amp: 10, frc: 0, psm: 0, fup: false, lmo: 3 };

function params(key: string, payload: string, extra: string[] = []) {
  const plan = planWrite(key, payload, STATUS, new Set(extra));
  if ("error" in plan) throw new Error(plan.error);
  return plan.params;
}

function refusal(key: string, payload: string, extra: string[] = []): string {
  const plan = planWrite(key, payload, STATUS, new Set(extra));
  if (!("error" in plan)) throw new Error(`${key}=${payload} was accepted`);
  return plan.error;
}

describe("go-e writes", () => {
  it("maps the evcc writes to go-e keys", () => {
    expect(params("mode", "off")).toEqual({ frc: 1 });
    expect(params("mode", "NOW")).toEqual({ frc: 2 });
    expect(params("mode", "pv")).toEqual({ frc: 0, lmo: 4, fup: true, acp: true });
    expect(params("maxCurrent", "16")).toEqual({ amp: 16 });
    // what Home Assistant's number entity and Node-RED may send: a whole number all the same
    expect(params("maxCurrent", "16.0")).toEqual({ amp: 16 });
    expect(refusal("maxCurrent", "16.5")).toContain("must be a whole number of amps");
    expect(params("phasesConfigured", "3")).toEqual({ psm: 2 });
    expect(params("phases", "1")).toEqual({ psm: 1 });
    expect(params("phases", "0")).toEqual({ psm: 0 });
    expect(params("goe/fna", '"Garage"', ["fna"])).toEqual({ fna: "Garage" });
    expect(params("goe/fna", "Garage", ["fna"])).toEqual({ fna: "Garage" });
    expect(params("goe/dwo", "null")).toEqual({ dwo: null });
    expect(params("goe/ids", '{"pGrid":-1200,"pPv":3000}')).toEqual({ ids: { pGrid: -1200, pPv: 3000 } });
  });

  it("checks maxCurrent against the charger's own limit (ama)", () => {
    expect(refusal("maxCurrent", "17")).toBe('maxCurrent must be a whole number of amps, 6..16 (got "17")');
    expect(refusal("maxCurrent", "16.5")).toBe(
      'maxCurrent must be a whole number of amps, 6..16 (got "16.…" (4 characters))',
    );
    expect(refusal("maxCurrent", "5")).toContain("6..16");
    expect(refusal("maxCurrent", "10.5")).toContain("whole number");
    expect(refusal("maxCurrent", "ten")).toContain("whole number");
    expect(refusal("goe/amp", "40")).toContain("6..16");
  });

  it("refuses bad enums with the allowed values", () => {
    expect(refusal("mode", "fast")).toBe('mode must be off, now, pv or smart (got "fas…" (4 characters))');
    expect(refusal("phases", "2")).toContain("0 (auto), 1 or 3");
    expect(refusal("goe/frc", "3")).toContain("must be one of 0, 1, 2");
    expect(refusal("goe/fup", '"yes"')).toContain("must be one of true, false");
    expect(refusal("goe/fna", '"go"', ["fna"])).toContain("4..64");
    // free text that comes back through the scrubber: only where the configuration opens it
    expect(refusal("goe/fna", '"Garage"')).toContain("writable only when listed in writableKeys");
    expect(refusal("goe/ids", '{"pGrid":"x"}')).toContain("numbers");
    expect(refusal("goe/amp", "{")).toContain("not valid JSON");
    expect(refusal("chargePower", "5")).toContain("unknown setting (writable: mode, maxCurrent");
  });

  it("never writes dangerous keys, whatever the configuration opens", () => {
    for (const key of ["cak", "cae", "rst", "ama", "wifis", "oct", "c3i"]) {
      expect(DENIED_KEYS.has(key)).toBe(true);
      expect(refusal(`goe/${key}`, "1", [key])).toMatch(new RegExp(`go-e key ${key} can never be written`));
    }
    expect(refusal("goe/xyz", "1")).toContain("not writable");
    const opened = planWrite("goe/xyz", "1", STATUS, new Set(["xyz"]));
    expect("params" in opened && opened.params).toEqual({ xyz: 1 });
  });

  it("quotes strings in the /api/set query as the charger wants", () => {
    expect(encodeSetQuery({ amp: 16, fna: "my go-e", fup: true, dwo: null })).toBe(
      "amp=16&fna=%22my%20go-e%22&fup=true&dwo=null",
    );
    // what JSON would change never goes out: Infinity would arrive as null and lift the limit
    for (const params of [
      { dwo: Number.POSITIVE_INFINITY },
      { ids: { pGrid: Number.NaN } },
      { amp: undefined },
    ]) {
      expect(() => encodeSetQuery(params)).toThrow(/nothing was sent/);
    }
  });

  it("reads both set answers: the cloud's succeeded/failed and the local per-key object", () => {
    // the real cloud answer to set?amp=7&eto=0.0 (go-eCharger-API-v2#135)
    expect(readSetOutcome({ succeeded: [{ eto: 0 }], failed: [] }, ["amp", "eto"])).toEqual({
      accepted: ["eto"],
      rejected: new Map(),
    });
    expect(
      readSetOutcome({ succeeded: [], failed: [{ amp: "Value 40 exceeds range 6 to 32" }] }, ["amp"]),
    ).toEqual({
      accepted: [],
      rejected: new Map([["amp", "Value 40 exceeds range 6 to 32"]]),
    });
    expect(
      readSetOutcome({ bac: true, fna: "String length 2 exceeds range 4 to 64" }, ["bac", "fna"]),
    ).toEqual({
      accepted: ["bac"],
      rejected: new Map([["fna", "String length 2 exceeds range 4 to 64"]]),
    });
    expect(readSetOutcome([], ["amp"])).toBeUndefined();
    // a key is read from the answer only if the answer holds it, not from Object.prototype
    expect(readSetOutcome({ amp: true }, ["amp", "constructor", "toString"])).toEqual({
      accepted: ["amp"],
      rejected: new Map(),
    });
  });

  it("finds nothing under Object.prototype's names, at every level of a write", () => {
    for (const name of Object.getOwnPropertyNames(Object.prototype)) {
      expect(refusal(name, "1")).toContain("unknown setting");
      expect(refusal(`goe/${name}`, "1")).toMatch(/not a go-e key name|not writable/);
      expect(refusal(`goe/${name}`, "{}")).toMatch(/not a go-e key name|not writable/);
      expect(refusal("mode", name)).toContain("mode must be off, now, pv or smart");
      expect(refusal("phases", name)).toContain("phases must be");
      expect(refusal("maxCurrent", name)).toContain("maxCurrent must be");
    }
  });

  it("sends only finite numbers: 1e400 is Infinity once parsed", () => {
    expect(refusal("goe/dwo", "1e400")).toContain("finite");
    expect(refusal("goe/dwo", "-1e400")).toContain("finite");
    expect(refusal("goe/ids", '{"pGrid":1e999}')).toContain("finite");
    expect(refusal("goe/ids", '{"pGrid":1,"__proto__":2}')).toContain("pGrid, pPv, pAkku");
    expect(refusal("goe/amp", "1e400")).toContain("finite");
    expect(refusal("goe/xyz", "[1,1e400]", ["xyz"])).toContain("finite");
    expect(params("goe/dwo", "1e4")).toEqual({ dwo: 10000 });
  });
});
