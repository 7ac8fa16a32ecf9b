// RFID cards and the energy charged on each. Firmware 60.0 and newer report a card as the keys
// `c<n>n` (name) and `c<n>e` (Wh); older firmware as one `cards` array of
// `{"name","energy","cardId"}` (reference A3). A session started with card n (`trx` = n + 1)
// credits what it charges to that card; `trx` 0 (started without a card) credits nobody.

export const CARD_SLOTS = 10;

/** Whether firmware `fwv` ("055.8", "060.4") reports cards as c<n>n/c<n>e keys. */
export function cardKeysFirmware(fwv: unknown): boolean {
  const major = typeof fwv === "string" ? Number.parseFloat(fwv) : Number.NaN;
  return Number.isFinite(major) && major >= 60;
}

export class CardBook {
  private readonly names: string[];
  private readonly energies: number[];

  constructor(names: readonly string[] = []) {
    this.names = Array.from({ length: CARD_SLOTS }, (_, n) => names[n] ?? "");
    this.energies = Array(CARD_SLOTS).fill(0);
  }

  /** Adds `wh` to the card that `trx` names, if any. */
  credit(trx: unknown, wh: number): void {
    if (typeof trx !== "number" || !Number.isInteger(trx) || trx < 1 || trx > CARD_SLOTS) return;
    this.energies[trx - 1] = (this.energies[trx - 1] ?? 0) + wh;
  }

  rename(slot: number, name: string): void {
    if (slot >= 0 && slot < CARD_SLOTS) this.names[slot] = name;
  }

  /** The card keys of the status, in the shape the firmware uses. */
  status(fwv: unknown): Record<string, unknown> {
    const energy = (n: number) => Math.floor(this.energies[n] ?? 0);
    if (cardKeysFirmware(fwv)) {
      const out: Record<string, unknown> = {};
      for (let n = 0; n < CARD_SLOTS; n++) {
        out[`c${n}n`] = this.names[n];
        out[`c${n}e`] = energy(n);
      }
      return out;
    }
    return {
      cards: this.names.map((name, n) => ({ name, energy: energy(n), cardId: name !== "" })),
    };
  }
}
