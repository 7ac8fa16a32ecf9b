import type { Value } from "../source.js";

/**
 * evcc's encoding: one plain value per topic. Numbers with at most 3 decimals and trailing
 * zeros trimmed, booleans as true/false, strings as they are, null as the empty payload that
 * erases a retained value; NaN and ±Infinity are no value either, so empty too.
 */
export function encodeValue(value: Value): string {
  if (value === null) return "";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "string":
      return value;
    default:
      return encodeNumber(value);
  }
}

function encodeNumber(value: number): string {
  // no value: "NaN" or "+Inf" would be errors in Home Assistant and garbage to evcc
  if (!Number.isFinite(value)) return "";
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return value === 0 ? "0" : String(value);
  const fixed = value.toFixed(3);
  const trimmed = fixed.includes(".") ? fixed.replace(/\.?0+$/, "") : fixed;
  return trimmed === "-0" ? "0" : trimmed;
}
