import { CardBook } from "./cards.js";

// The charger's energy counters: `wh` for the session (go-e restarts it on a phase switch),
// `eto` for its lifetime, `cdi` the time spent charging, and the energy per RFID card.

export class Meter {
  /** Wh since the car connected, as `wh` shows it. */
  wh = 0;
  /** Wh over the charger's life, as `eto` shows it (whole Wh). */
  eto = 0;
  private chargingMs = 0;
  private readonly cards: CardBook;

  constructor(cardNames?: readonly string[]) {
    this.cards = new CardBook(cardNames);
  }

  /** Counts `energy` Wh charged over `elapsedMs`, on the card `trx` names (if any). */
  add(energy: number, elapsedMs: number, charging: boolean, trx: unknown): void {
    this.wh += energy;
    this.eto += energy;
    this.cards.credit(trx, energy);
    if (charging) this.chargingMs += elapsedMs;
  }

  startSession(): void {
    this.wh = 0;
    this.chargingMs = 0;
  }

  /** The status keys of the counters, cards in the shape of firmware `fwv`. */
  status(fwv: unknown): Record<string, unknown> {
    return {
      wh: Math.round(this.wh * 1000) / 1000,
      eto: Math.floor(this.eto),
      cdi: { type: 1, value: Math.round(this.chargingMs) },
      ...this.cards.status(fwv),
    };
  }
}
