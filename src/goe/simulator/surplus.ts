// go-e's PV-surplus logic as the simulator models it: `ids` brings live grid (and PV, battery)
// power; with logic mode Eco (`lmo` 4) and "use PV surplus" (`fup`) the charger starts, adjusts
// and pauses charging from it. go-e documents the inputs (`ids`: "needed all 5 seconds",
// readable back as pgrid/ppv/pakku) and the thresholds' names (`fst` starting power, `sh` stop
// hysteresis, `acp` allow charge pause) but not the control rule. What the simulator assumes
// where the documentation is silent:
// - the charger decides once per `ids` it receives, from that reading and its own power at that
//   moment (the meter's grid power includes the charger); between two readings it holds still;
// - a reading counts for IDS_LIFETIME_MS (10 s); after that pgrid/ppv/pakku read `null` and the
//   charger stops charging from surplus (it never charges from data that stopped);
// - the power it may use is its own power minus the grid import, minus a discharging battery's
//   power (a charging battery, pAkku < 0, is ignored: the car comes first);
// - it starts when that reaches `fst` W; it charges with the most whole amps that fit, at least
//   the minimum current `mca`; below the minimum it pauses once the grid import at the minimum
//   would exceed `sh` W, but only if `acp` allows a pause, otherwise it stays at the minimum;
// - it ignores the grid target `pgt` and has no start or stop delay.

/** How long the charger keeps an `ids` reading. */
export const IDS_LIFETIME_MS = 10_000;
/** Firmware defaults the simulator starts with (the docs name none). */
export const SURPLUS_DEFAULTS = { fst: 1400, sh: 200, acp: true } as const;

const VOLTS = 230;

/** What the charger needs to know about itself when a reading arrives. */
export interface SurplusContext {
  /** Its power right now, W. */
  powerW: number;
  phases: number;
  minAmps: number;
  /** The highest current any other limit allows (amp, ama, cable, tcl). */
  limitAmps: number;
  fst: number;
  sh: number;
  acp: boolean;
}

export interface SurplusDecision {
  charging: boolean;
  amps: number;
}

export class SimSurplus {
  private reading: { pGrid: number; pPv?: number; pAkku?: number } | undefined;
  private receivedAt = 0;
  private decision: SurplusDecision = { charging: false, amps: 0 };
  /** Every accepted `ids`, with its time, for tests that check how often the bridge feeds. */
  readonly arrivals: number[] = [];

  /** A new reading: stores it and decides again. Readings without pGrid only refresh PV/battery. */
  feed(ids: Record<string, unknown>, now: number, context: SurplusContext): void {
    const number = (value: unknown) =>
      typeof value === "number" && Number.isFinite(value) ? value : undefined;
    const pGrid = number(ids.pGrid) ?? this.reading?.pGrid;
    if (pGrid === undefined) return;
    this.reading = { pGrid, pPv: number(ids.pPv), pAkku: number(ids.pAkku) };
    this.receivedAt = now;
    this.arrivals.push(now);
    if (this.arrivals.length > 1000) this.arrivals.splice(0, 500);
    this.decision = decide(this.reading, context, this.decision.charging);
  }

  /** When the current reading runs out, if there is one. */
  expiresAt(): number | undefined {
    return this.reading ? this.receivedAt + IDS_LIFETIME_MS : undefined;
  }

  /** Forgets a reading older than the lifetime. */
  expire(now: number): void {
    const at = this.expiresAt();
    if (at !== undefined && at <= now) {
      this.reading = undefined;
      this.decision = { charging: false, amps: 0 };
    }
  }

  fresh(): boolean {
    return this.reading !== undefined;
  }

  /** What the charger decided from the latest reading; nothing once it expired. */
  current(): SurplusDecision {
    return this.decision;
  }

  /** The status keys that echo the reading. */
  echo(): { pgrid: number | null; ppv: number | null; pakku: number | null } {
    return {
      pgrid: this.reading?.pGrid ?? null,
      ppv: this.reading?.pPv ?? null,
      pakku: this.reading?.pAkku ?? null,
    };
  }
}

function decide(
  reading: { pGrid: number; pAkku?: number },
  context: SurplusContext,
  wasCharging: boolean,
): SurplusDecision {
  const phases = Math.max(1, context.phases);
  const available = context.powerW - reading.pGrid - Math.max(0, reading.pAkku ?? 0);
  const fitting = Math.floor(available / (phases * VOLTS));
  const amps = Math.min(Math.max(fitting, context.minAmps), context.limitAmps);
  if (!wasCharging) {
    return available >= context.fst && amps >= context.minAmps
      ? { charging: true, amps }
      : { charging: false, amps: 0 };
  }
  if (fitting >= context.minAmps) return { charging: true, amps };
  // at the minimum current the grid would deliver the rest
  const importAtMinimum = context.minAmps * phases * VOLTS - available;
  if (context.acp && importAtMinimum > context.sh) return { charging: false, amps: 0 };
  return { charging: true, amps: context.minAmps };
}
