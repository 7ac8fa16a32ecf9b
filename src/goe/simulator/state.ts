import { randomBytes } from "node:crypto";
import { localTimeText, secondsOfLocalDay } from "./clock.js";
import { COMPUTED, type GoeSimChargerOptions, type GoeSimMode, initialStatus } from "./initial.js";
import {
  automaticStopTarget,
  type Evaluation,
  electricKeys,
  evaluate,
  type LogicInput,
  VOLTS,
} from "./logic.js";
import { Meter } from "./meter.js";
import { PowerAverage } from "./power.js";
import { MIN_AMPS, SETTERS } from "./setters.js";
import { SimSurplus, SURPLUS_DEFAULTS } from "./surplus.js";

export type { GoeSimChargerOptions, GoeSimMode } from "./initial.js";

// One simulated go-eCharger. Nothing runs on a timer: every read or write first advances the
// state from the wall time elapsed since the last evaluation, so a thousand idle chargers cost
// nothing between polls. Power is constant between evaluations except at the moments the
// charger itself would notice (the energy limit `dwo` or automatic-stop energy `ate` is
// reached, `tcl` expires), which `advance` steps through exactly.
//
// Where the go-e docs are silent, the simulator assumes (and the bridge must not rely on more):
// - `mca` is a floor under `amp` (amp below mca charges at mca), capped by ama, the cable and
//   tcl; PV-surplus charging starts only when the surplus reaches mca on every phase; mca is
//   accepted from 6 up to ama.
// - `dwo` compares with `wh`, so a phase switch (which resets wh) lets a session charge past it.
// - automatic-stop mode (`lmo` 5) charges at once at the set current until `wh` reaches `ate`
//   (modelStatus 10, or 9 when `att` comes too soon to make it at this power), then stops with
//   car 4 "complete" and modelStatus 18; `att` is the next occurrence of that local time of day.
//   frc 2 (force on) overrides it; frc 1 stops it.
// - writing a different `psm` while a car is connected resets `wh` to 0; `eto` keeps counting.
// - the charger's clock is UTC + `tof` minutes + 1 h under `tds` daylight saving (clock.ts).
// - a session started with card n (`trx` n+1) credits its energy to card n (cards.ts).
// - go-e's defaults for `fst`/`sh` are not documented: the simulator starts at 1400 W / 200 W.
// - how `ids` drives PV-surplus charging (fst, sh, acp, the 10 s lifetime): surplus.ts.

/** The outcome of one key of an `/api/set`, before it is shaped into a cloud or local body. */
export type GoeSimSetResult =
  | { key: string; ok: true; value: unknown }
  | { key: string; ok: false; error: string };

// fw 60.4: tcl falls back to null unless refreshed within 10 minutes
const TCL_LIFETIME_MS = 600_000;
const CABLE_AMPS = 32;

export class GoeSimCharger {
  readonly serial: string;
  readonly mode: GoeSimMode;
  token: string | undefined;
  private readonly raw: Record<string, unknown>;
  private readonly pins = new Map<string, unknown>();
  private connected: boolean;
  private carPhases: 1 | 3;
  private carFull = false;
  private pvSurplusW = 0;
  private cableAmps = CABLE_AMPS;
  private evaluatedAt: number;
  private readonly bootedAt: number;
  private tclExpiresAt: number | undefined;
  private readonly power: PowerAverage;
  private readonly meter: Meter;
  private readonly surplus = new SimSurplus();
  private evaluation!: Evaluation;

  constructor(options: GoeSimChargerOptions, now: number) {
    if (!/^\d{6}$/.test(options.serial))
      throw new Error(`go-e simulator: serial must be 6 digits, got ${options.serial}`);
    this.serial = options.serial;
    this.mode = options.mode ?? "cloud";
    this.token = options.token;
    this.connected = options.carConnected ?? false;
    this.carPhases = options.phases ?? 3;
    this.evaluatedAt = now;
    this.bootedAt = now;
    this.power = new PowerAverage(now);
    const ama = options.ama ?? 32;
    this.raw = initialStatus(options, ama);
    this.meter = new Meter(options.cards);
    this.refresh(now);
  }

  /** A number-valued raw key, or `fallback` when a test stored something else there. */
  number(key: string, fallback: number): number {
    const value = this.raw[key];
    return typeof value === "number" && Number.isFinite(value) ? value : fallback;
  }

  private optionalNumber(key: string): number | undefined {
    const value = this.raw[key];
    return typeof value === "number" && Number.isFinite(value) ? value : undefined;
  }

  /** Brings energy counters and derived values up to `now`. */
  advance(now: number): void {
    // at most one step per event (dwo or ate reached, tcl expired) plus the remainder
    for (let step = 0; step < 4 && this.evaluatedAt < now; step++) {
      let until = now;
      let limitReached = false;
      if (this.tclExpiresAt !== undefined && this.tclExpiresAt < until) {
        until = Math.max(this.tclExpiresAt, this.evaluatedAt);
      }
      const idsExpiresAt = this.surplus.expiresAt();
      if (idsExpiresAt !== undefined && idsExpiresAt < until)
        until = Math.max(idsExpiresAt, this.evaluatedAt);
      const stopWh = this.energyStop();
      if (this.power.power > 0 && stopWh !== undefined) {
        const at = this.evaluatedAt + ((stopWh - this.meter.wh) / this.power.power) * 3_600_000;
        if (at <= until) {
          until = Math.max(at, this.evaluatedAt);
          limitReached = true;
        }
      }
      const elapsed = until - this.evaluatedAt;
      const energy =
        limitReached && stopWh !== undefined
          ? Math.max(0, stopWh - this.meter.wh)
          : (this.power.power * elapsed) / 3_600_000;
      this.meter.add(energy, elapsed, this.power.power > 0, this.raw.trx);
      this.evaluatedAt = until;
      if (this.tclExpiresAt !== undefined && this.tclExpiresAt <= until) {
        this.raw.tcl = null;
        this.tclExpiresAt = undefined;
      }
      this.surplus.expire(until);
      this.refresh(until);
    }
    this.evaluatedAt = Math.max(this.evaluatedAt, now);
  }

  /** The status object as `/api/status` returns it without a filter. */
  status(now: number): Record<string, unknown> {
    this.advance(now);
    const { car, alw, acu, modelStatus } = this.evaluation;
    const iso = new Date(now).toISOString();
    const out: Record<string, unknown> = {
      ...this.raw,
      car,
      alw,
      acu,
      modelStatus,
      cbl: this.connected ? this.cableAmps : null,
      // cable unlock status: Locked (3) while a car is connected, Unlocked (1) otherwise
      cus: this.connected ? 3 : 1,
      ...electricKeys(this.evaluation),
      tpa: Math.round(this.power.average(now) * 10) / 10,
      ...this.meter.status(this.raw.fwv),
      ...this.surplus.echo(),
      rbt: this.number("rbt", 0) + (now - this.bootedAt),
      // go-e writes microseconds after the milliseconds, separated by a dot
      utc: `${iso.slice(0, 23)}.000`,
      loc: localTimeText(now, this.number("tof", 0), this.number("tds", 0)),
    };
    for (const [key, value] of this.pins) out[key] = value;
    return out;
  }

  /** Decodes, validates and applies the keys of one `/api/set`, in query order. */
  set(params: Array<[string, string]>, now: number): GoeSimSetResult[] {
    this.advance(now);
    const known = this.status(now);
    const results: GoeSimSetResult[] = [];
    for (const [key, text] of params) {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        results.push({ key, ok: false, error: `invalid json InvalidInput: ${text}` });
        continue;
      }
      // reference A1: the real cloud answered eto=0 with "succeeded" and left eto alone
      if (key === "eto" && this.mode === "cloud") {
        results.push({ key, ok: true, value });
        continue;
      }
      const setter = SETTERS.get(key);
      if (!setter) {
        const error = Object.hasOwn(known, key)
          ? "tried to set api key without setter"
          : `unknown api key ${key}`;
        results.push({ key, ok: false, error });
        continue;
      }
      const error = setter.check(value, this);
      if (error !== undefined) {
        results.push({ key, ok: false, error });
        continue;
      }
      // the charger restarts its session counter on a phase switch (evcc#10452, #13726)
      if (key === "psm" && value !== this.raw.psm && this.connected) this.meter.wh = 0;
      if (setter.apply) setter.apply(value, this, now);
      if (!setter.writeOnly) this.raw[key] = value;
      results.push({ key, ok: true, value });
      this.refresh(now);
    }
    return results;
  }

  plugIn(now: number): void {
    this.advance(now);
    if (this.connected) return;
    this.connected = true;
    this.startSession();
    this.refresh(now);
  }

  unplug(now: number): void {
    this.advance(now);
    if (!this.connected) return;
    this.connected = false;
    this.startSession();
    // the transaction (RFID card) ends with the session
    this.raw.trx = null;
    this.refresh(now);
  }

  private startSession(): void {
    this.meter.startSession();
    this.carFull = false;
  }

  /**
   * Test hook. Internal knobs: `pvSurplusW`, `carFull`, `carConnected`, `carPhases`; `wh`, `eto`
   * and `cbl` set the counters/cable; computed keys (car, nrg, …) are pinned until set to
   * `undefined`; anything else is stored raw, unvalidated (`undefined` deletes it).
   */
  update(patch: Record<string, unknown>, now: number): void {
    this.advance(now);
    for (const [key, value] of Object.entries(patch)) {
      if (key === "pvSurplusW") this.pvSurplusW = typeof value === "number" ? value : 0;
      else if (key === "carFull") this.carFull = value === true;
      else if (key === "carPhases") this.carPhases = value === 1 ? 1 : 3;
      else if (key === "carConnected") {
        if (value === true) this.plugIn(now);
        else this.unplug(now);
      } else if (key === "wh" || key === "eto" || key === "cbl") {
        if (typeof value !== "number") continue;
        if (key === "wh") this.meter.wh = value;
        else if (key === "eto") this.meter.eto = value;
        else this.cableAmps = value;
      } else if (COMPUTED.has(key)) {
        if (value === undefined) this.pins.delete(key);
        else this.pins.set(key, value);
      } else if (key === "tcl") this.setTemporaryLimit(value, now);
      else if (value === undefined) delete this.raw[key];
      else this.raw[key] = value;
    }
    this.refresh(now);
  }

  setTemporaryLimit(value: unknown, now: number): void {
    this.raw.tcl = value ?? null;
    this.tclExpiresAt = value === null || value === undefined ? undefined : now + TCL_LIFETIME_MS;
  }

  /** `ids` feeds the charger's PV inputs, which it echoes as pgrid/ppv/pakku for 10 s. */
  applyIds(ids: Record<string, unknown>, now: number): void {
    const psm = this.number("psm", 0);
    this.surplus.feed(ids, now, {
      powerW: this.power.power,
      phases: Math.min(this.carPhases, psm === 1 ? 1 : 3),
      minAmps: this.number("mca", MIN_AMPS),
      limitAmps: Math.min(
        Math.max(this.number("amp", 16), this.number("mca", MIN_AMPS)),
        this.number("ama", 32),
        this.cableAmps,
        this.optionalNumber("tcl") ?? Number.POSITIVE_INFINITY,
      ),
      fst: this.number("fst", SURPLUS_DEFAULTS.fst),
      sh: this.number("sh", SURPLUS_DEFAULTS.sh),
      acp: this.raw.acp !== false,
    });
  }

  /** Times of the `ids` readings the charger took, for tests that check the feed's rhythm. */
  idsArrivals(): number[] {
    return [...this.surplus.arrivals];
  }

  regenerateToken(): void {
    if (this.token !== undefined) this.token = randomBytes(24).toString("base64url");
  }

  /** What the status does not show, for the control interface and tests. */
  internals(): Record<string, unknown> {
    return {
      mode: this.mode,
      carConnected: this.connected,
      carPhases: this.carPhases,
      carFull: this.carFull,
      pvSurplusW: this.pvSurplusW,
      powerW: this.power.power,
      pinned: Object.fromEntries(this.pins),
    };
  }

  /** The `wh` at which charging stops by itself: the energy limit or the automatic-stop energy. */
  private energyStop(): number | undefined {
    const stops = [this.optionalNumber("dwo"), automaticStopTarget(this.logicInput(this.evaluatedAt))];
    const defined = stops.filter((wh): wh is number => wh !== undefined);
    return defined.length > 0 ? Math.min(...defined) : undefined;
  }

  private refresh(now: number): void {
    this.evaluation = evaluate(this.logicInput(now));
    this.power.set(this.evaluation.current * this.evaluation.phases * VOLTS, now);
  }

  private logicInput(now: number): LogicInput {
    return {
      number: (key, fallback) => this.number(key, fallback),
      optionalNumber: (key) => this.optionalNumber(key),
      setting: (key) => this.raw[key],
      connected: this.connected,
      carPhases: this.carPhases,
      carFull: this.carFull,
      pvSurplusW: this.pvSurplusW,
      surplus: this.surplus.fresh() ? this.surplus.current() : undefined,
      cableAmps: this.cableAmps,
      wh: this.meter.wh,
      localSecondsOfDay: secondsOfLocalDay(now, this.number("tof", 0), this.number("tds", 0)),
    };
  }
}
