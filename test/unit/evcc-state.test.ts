import { describe, expect, it } from "vitest";
import { evccObject } from "../../src/http/evcc-state.js";
import type { Value } from "../../src/source.js";

describe("evcc state shape", () => {
  it("nests topic levels and turns l1..l3 into evcc's per-phase arrays", () => {
    const values = new Map<string, Value>([
      ["chargePower", 4140],
      ["chargeCurrents/l1", 6],
      ["chargeCurrents/l2", 6],
      ["chargeCurrents/l3", 6],
      ["chargeVoltages/l1", 230],
      ["rfidCards/1/name", "Anna"],
      ["rfidCards/1/energy", 12.5],
      ["title", "Garage"],
    ]);
    expect(evccObject(values)).toEqual({
      chargePower: 4140,
      chargeCurrents: [6, 6, 6],
      chargeVoltages: [230, null, null],
      rfidCards: { 1: { name: "Anna", energy: 12.5 } },
      title: "Garage",
    });
  });

  it("keeps an upstream id such as __proto__ a key of its own, never Object.prototype", () => {
    const state = evccObject(
      new Map<string, Value>([
        ["meters/__proto__/power", 5],
        ["meters/constructor/power", 6],
        ["__proto__", 7],
      ]),
    );
    expect(({} as Record<string, unknown>).power).toBeUndefined();
    expect(JSON.parse(JSON.stringify(state))).toEqual(
      JSON.parse('{"meters":{"__proto__":{"power":5},"constructor":{"power":6}},"__proto__":7}'),
    );
  });

  it("nests per-phase arrays at any depth", () => {
    const values = new Map<string, Value>([
      ["meters/abc/power", 100],
      ["meters/abc/phases/l1", 1],
      ["meters/abc/phases/l2", 2],
      ["meters/abc/phases/l3", 3],
    ]);
    expect(evccObject(values)).toEqual({ meters: { abc: { power: 100, phases: [1, 2, 3] } } });
  });
});
