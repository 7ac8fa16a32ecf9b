import { describe, expect, it } from "vitest";
import { encodeValue } from "../../src/mqtt/encode.js";

describe("evcc value encoding", () => {
  it.each([
    [230, "230"],
    [5.966, "5.966"],
    [5.96649, "5.966"],
    [13.8, "13.8"],
    [0.1 + 0.2, "0.3"],
    [-1200.5, "-1200.5"],
    [-0.0001, "0"],
    [0, "0"],
    [1795318033, "1795318033"],
    // no value, as Home Assistant reads it (unknown), not an error in its log
    [Number.NaN, ""],
    [Number.POSITIVE_INFINITY, ""],
    [Number.NEGATIVE_INFINITY, ""],
    [true, "true"],
    [false, "false"],
    ["pv", "pv"],
    [null, ""],
  ])("%s → %j", (value, expected) => {
    expect(encodeValue(value)).toBe(expected);
  });
});
