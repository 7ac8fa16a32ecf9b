import type { Values } from "../source.js";
import type { GoeStatus } from "./api.js";
import { chargerTimeText, chargerZone, nextOccurrence } from "./timezone.js";

// The loadpoint settings and identities a go-e owner uses daily, in evcc's names: minimum
// current, energy limit, departure plan, PV-surplus thresholds, cable lock and RFID cards.
// Pure, like mapping.ts: every key is read leniently and an absent key leaves its value alone.

/** Settings that rarely change: asked for on the first poll and then every SETTINGS_EVERY_MS. */
export const SETTINGS_KEYS = [
  "mca",
  "dwo",
  "ate",
  "att",
  "tof",
  "tds",
  "fst",
  "sh",
  "cards",
  ...Array.from({ length: 10 }, (_, n) => [`c${n}n`, `c${n}e`]).flat(),
] as const;

export const SETTINGS_EVERY_MS = 30_000;

/** go-e logic mode `lmo` of automatic stop (next trip), which a departure plan uses. */
export const LMO_AUTOMATIC_STOP = 5;
export const LMO_DEFAULT = 3;

/** go-e `cus` (cable unlock status) in words. */
const CABLE_LOCK = ["unknown", "unlocked", "unlockFailed", "locked", "lockFailed", "lockUnlockPowerout"];

function finite(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** kWh with Wh resolution, so 12.5 kWh written is 12.5 read back (not 12.499999). */
export function kWh(wh: number): number {
  return Math.round(wh) / 1000;
}

export interface RfidCard {
  /** 1..10: the number `trx` uses for the card (go-e's slot n is card n + 1). */
  number: number;
  name: string;
  energyWh: number | undefined;
}

/** The configured RFID cards, from c<n>n/c<n>e (firmware 60+) or the older `cards` array. */
export function rfidCards(status: GoeStatus): RfidCard[] {
  const cards: RfidCard[] = [];
  if (Array.isArray(status.cards)) {
    status.cards.forEach((card, slot) => {
      if (!card || typeof card !== "object") return;
      const { name, energy } = card as Record<string, unknown>;
      if (typeof name === "string" && name !== "") {
        cards.push({ number: slot + 1, name, energyWh: finite(energy) });
      }
    });
    return cards;
  }
  for (let slot = 0; slot < 10; slot++) {
    const name = status[`c${slot}n`];
    if (typeof name === "string" && name !== "") {
      cards.push({ number: slot + 1, name, energyWh: finite(status[`c${slot}e`]) });
    }
  }
  return cards;
}

/** The card keys that change now: the active card's energy is read live, the others with the settings. */
export function activeCardKeys(status: GoeStatus | undefined): string[] {
  const trx = status?.trx;
  if (typeof trx !== "number" || !Number.isInteger(trx) || trx < 1 || trx > 10) return [];
  return Array.isArray(status?.cards) ? ["cards"] : [`c${trx - 1}e`];
}

/** Who the session is charged to: a card's name, `no card` (trx 0) or `none` (no session). */
function activeCard(status: GoeStatus): string | undefined {
  if (!("trx" in status)) return undefined;
  const trx = status.trx;
  if (trx === null) return "none";
  if (trx === 0) return "no card";
  if (typeof trx !== "number" || !Number.isInteger(trx)) return undefined;
  return rfidCards(status).find((card) => card.number === trx)?.name ?? `card ${trx}`;
}

export function mapSettings(status: GoeStatus, nowMs: number, values: Values = {}): Values {
  const mca = finite(status.mca);
  if (mca !== undefined) values.minCurrent = mca;
  if ("dwo" in status) {
    const dwo = finite(status.dwo);
    // evcc's "no limit" is 0
    values.limitEnergy = dwo === undefined || dwo <= 0 ? 0 : kWh(dwo);
  }
  const fst = finite(status.fst);
  // evcc counts grid power (export negative): a start at 1400 W surplus is -1400 W
  if (fst !== undefined) values.enableThreshold = fst === 0 ? 0 : -fst;
  const sh = finite(status.sh);
  if (sh !== undefined) values.disableThreshold = sh;

  const lmo = finite(status.lmo);
  if (lmo !== undefined) {
    const active = lmo === LMO_AUTOMATIC_STOP;
    values.planActive = active;
    const ate = finite(status.ate);
    const att = finite(status.att);
    const zone = chargerZone(status);
    if (!active) {
      values.planEnergy = 0;
      values.planTime = null;
    } else {
      if (ate !== undefined) values.planEnergy = kWh(ate);
      if (att !== undefined && zone)
        values.planTime = chargerTimeText(nextOccurrence(att, nowMs, zone), zone);
    }
  }

  const cus = finite(status.cus);
  if (cus !== undefined) values.cableLock = CABLE_LOCK[cus] ?? `cus${cus}`;
  const card = activeCard(status);
  if (card !== undefined) values.rfidCard = card;
  for (const { number, name, energyWh } of rfidCards(status)) {
    values[`rfidCards/${number}/name`] = name;
    if (energyWh !== undefined) values[`rfidCards/${number}/energy`] = kWh(energyWh);
  }
  return values;
}
