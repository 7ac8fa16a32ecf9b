import { describe, expect, it } from "vitest";
import { MAX_LEVEL, topicLevel, topicProblem } from "../../src/util/topic.js";

// The one rule for topic levels made from upstream ids: every result is one level the broker
// accepts, ordinary ids stay as they are, and different ids stay different.

const HOSTILE = [
  "meter#1",
  "sensor+2",
  "a/b",
  "",
  "$SYS",
  "nul\u0000byte",
  "tab\there",
  "del\u007f",
  "50%",
  "%23",
  "lone\ud800surrogate",
  "\ufffe",
  "x".repeat(500),
  "é".repeat(300),
  `${"y".repeat(200)}1`,
  `${"y".repeat(200)}2`,
];

describe("topicLevel", () => {
  it("keeps ordinary ids as they are", () => {
    for (const id of ["6a01c0ffee0000000000a001", "DEMO", "Résidence Les Tilleuls", "car-1_x", "😀"]) {
      expect(topicLevel(id)).toBe(id);
    }
  });

  it("turns every hostile id into one level the broker accepts", () => {
    for (const id of HOSTILE) {
      const level = topicLevel(id);
      expect(topicProblem(`root/site/meters/${level}/energy`), JSON.stringify(id)).toBeUndefined();
      expect(level).not.toContain("/");
      expect(Buffer.byteLength(level)).toBeLessThanOrEqual(MAX_LEVEL);
    }
  });

  it("is percent-encoding: decodeURIComponent gives the id back", () => {
    for (const id of ["meter#1", "sensor+2", "a/b", "$SYS", "nul\u0000byte", "50%", "%23"]) {
      expect(decodeURIComponent(topicLevel(id))).toBe(id);
    }
    expect(topicLevel("meter#1")).toBe("meter%231");
    expect(topicLevel("$SYS")).toBe("%24SYS");
    expect(topicLevel("")).toBe("%");
  });

  it("never gives two different ids the same level", () => {
    const levels = new Set(HOSTILE.map(topicLevel));
    expect(levels.size).toBe(HOSTILE.length);
  });
});

describe("topicProblem", () => {
  it("names what the broker would refuse", () => {
    expect(topicProblem("a/#")).toMatch(/wildcard/);
    expect(topicProblem("a/+/b")).toMatch(/wildcard/);
    expect(topicProblem("a//b")).toMatch(/empty level/);
    expect(topicProblem("a/b\u0000")).toMatch(/control/);
    expect(topicProblem("$SYS/x")).toMatch(/\$/);
    expect(topicProblem("a/\ud800")).toMatch(/Unicode/);
    expect(topicProblem("x".repeat(70_000))).toMatch(/65535/);
    expect(topicProblem("ev2mqtt/site/meters/meter%231/energy")).toBeUndefined();
  });
});
