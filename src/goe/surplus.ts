import type { Entity, SurplusReading, Values, WriteResult } from "../source.js";
import { describeError } from "../upstream/errors.js";
import { Priority, type UpstreamQueue } from "../upstream/queue.js";
import type { GoeApi } from "./api.js";

// PV-surplus input for a go-e charger: `ids` = {"pGrid","pPv","pAkku"} in W. go-e's signs are
// evcc's (pGrid < 0 feeds the grid, pAkku < 0 charges the battery). The charger needs it again
// at least every 5 s and forgets it after about 10 s; the caller keeps the rhythm, this only
// carries one reading at a time through the charger's queue.

/** The status keys in which the charger shows the reading it holds (`null` once it forgot it). */
export const SURPLUS_KEYS = ["pgrid", "ppv", "pakku"] as const;

/** What the charger reads back, on evcc-style names; absent keys stay as they are. */
const SURPLUS_NAMES = {
  pgrid: "surplusGridPower",
  ppv: "surplusPvPower",
  pakku: "surplusBatteryPower",
} as const;

export function mapSurplus(status: Record<string, unknown>, values: Values): Values {
  for (const key of SURPLUS_KEYS) {
    const value = status[key];
    if (value === null) values[SURPLUS_NAMES[key]] = null;
    else if (typeof value === "number" && Number.isFinite(value)) values[SURPLUS_NAMES[key]] = value;
  }
  return values;
}

/** The surplus values of a fed charger, for discovery. `surplusFeed` is published by the feed. */
export function surplusEntities(): Entity[] {
  const power = (key: string, name: string): Entity => ({
    key,
    name,
    kind: "sensor",
    quantity: "power",
    unit: "W",
    stateClass: "measurement",
    diagnostic: true,
  });
  return [
    { key: "surplusFeed", name: "Surplus feed live", kind: "binary", icon: "mdi:solar-power" },
    power("surplusGridPower", "Surplus input grid power"),
    power("surplusPvPower", "Surplus input PV power"),
    power("surplusBatteryPower", "Surplus input battery power"),
  ];
}

/** The `ids` object for a reading: whole watts, optional inputs left out. */
export function idsOf(reading: SurplusReading): Record<string, number> {
  const ids: Record<string, number> = { pGrid: Math.round(reading.grid) };
  if (reading.pv !== undefined) ids.pPv = Math.round(reading.pv);
  if (reading.battery !== undefined) ids.pAkku = Math.round(reading.battery);
  return ids;
}

/**
 * Sends readings as `ids`, one request at a time. At poll priority: writes and read-backs go
 * first, and polls and readings take turns, so a steady feed never starves the polls. A reading
 * that comes while the previous one still waits for its turn replaces it (the charger only
 * needs the newest).
 */
export class IdsSender {
  private waiting: { reading: SurplusReading; done: Promise<WriteResult> } | undefined;

  constructor(
    private readonly queue: UpstreamQueue,
    private readonly api: GoeApi,
  ) {}

  send(reading: SurplusReading): Promise<WriteResult> {
    if (this.waiting) {
      this.waiting.reading = reading;
      return this.waiting.done;
    }
    const entry = { reading, done: Promise.resolve<WriteResult>({ ok: true, value: null }) };
    // set before queuing: an idle queue starts the task at once, and it clears this
    this.waiting = entry;
    entry.done = this.queue
      .run(() => {
        // from here on a newer reading needs a request of its own
        if (this.waiting === entry) this.waiting = undefined;
        return this.api.set({ ids: idsOf(entry.reading) });
      }, Priority.poll)
      .then(
        (outcome): WriteResult => {
          const refused = outcome.rejected.get("ids");
          return refused
            ? { ok: false, error: `the charger refused ids: ${refused}` }
            : { ok: true, value: JSON.stringify(idsOf(entry.reading)) };
        },
        (error: unknown): WriteResult => ({ ok: false, error: describeError(error) }),
      );
    return entry.done;
  }
}
