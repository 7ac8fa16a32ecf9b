import type { PowerInputConfig } from "../config/schema.js";

/**
 * A meter's MQTT payload → watts in the convention asked for: a plain number (`-1234.5`), or
 * with `json` the number at a dotted path (`ENERGY.Power`, `meters.0.power`), then times
 * `scale`, then the sign flipped if `invert`. Anything else is a reason in words.
 */
export function readPower(payload: string, input: PowerInputConfig): number | string {
  const text = payload.trim();
  if (text === "") return "empty payload";
  let raw: unknown = text;
  if (input.json) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return `payload is not JSON (${excerpt(text)})`;
    }
    for (const part of input.json.split(".")) {
      if (value === null || typeof value !== "object" || !Object.hasOwn(value, part)) {
        return `no ${input.json} in the payload (${excerpt(text)})`;
      }
      value = (value as Record<string, unknown>)[part];
    }
    raw = value;
  }
  const number =
    typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : NaN;
  if (!Number.isFinite(number)) return `not a number: ${excerpt(String(text))}`;
  const watts = number * input.scale;
  return input.invert ? -watts : watts;
}

function excerpt(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
