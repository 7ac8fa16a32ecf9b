import { randomBytes } from "node:crypto";

// One simulated go-eCharger. Nothing runs on a timer: every read or write first advances the
// state from the wall time elapsed since the last evaluation, so a thousand idle chargers cost
// nothing between polls. Power is constant between evaluations except at two moments the
// charger itself would notice (the energy limit `dwo` is reached, `tcl` expires), which
// `advance` steps through exactly.

export type GoeSimMode = "cloud" | "local";

export interface GoeSimChargerOptions {
  serial: string;
  token?: string;
  mode?: GoeSimMode;
  ama?: number;
  amp?: number;
  carConnected?: boolean;
  phases?: 1 | 3;
  fna?: string;
}

/** The outcome of one key of an `/api/set`, before it is shaped into a cloud or local body. */
export type GoeSimSetResult =
  | { key: string; ok: true; value: unknown }
  | { key: string; ok: false; error: string };

const VOLTS = 230;
const MIN_AMPS = 6;
const TPA_WINDOW_MS = 30_000;
// fw 60.4: tcl falls back to null unless refreshed within 10 minutes
const TCL_LIFETIME_MS = 600_000;
const CABLE_AMPS = 32;

/** Keys the simulator computes itself; `update` pins them to a fixed value instead. */
const COMPUTED = new Set([
  "car",
  "alw",
  "acu",
  "modelStatus",
  "nrg",
  "pha",
  "tpa",
  "cdi",
  "rbt",
  "utc",
  "loc",
]);

interface Evaluation {
  car: number;
  alw: boolean;
  acu: number | null;
  modelStatus: number;
  /** Amps per phase actually flowing, 0 when not charging. */
  current: number;
  phases: number;
}

interface Setter {
  check(value: unknown, charger: GoeSimCharger): string | undefined;
  apply?(value: unknown, charger: GoeSimCharger, now: number): void;
  /** Write-only keys (ids, cak) do not show up in the status afterwards. */
  writeOnly?: boolean;
}

function describe(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

/** A limit that is either fixed or read from the charger (amp's upper limit is ama). */
type Bound = number | ((charger: GoeSimCharger) => number);

function int(min: Bound, max: Bound) {
  return (value: unknown, charger: GoeSimCharger): string | undefined => {
    if (typeof value !== "number" || !Number.isInteger(value))
      return `Expected integer, got ${describe(value)}`;
    const low = typeof min === "number" ? min : min(charger);
    const high = typeof max === "number" ? max : max(charger);
    if (value < low || value > high) return `Value ${value} exceeds range ${low} to ${high}`;
    return undefined;
  };
}

function nullable(check: Setter["check"]): Setter["check"] {
  return (value, charger) => (value === null ? undefined : check(value, charger));
}

// Error texts follow what the charger answers where it is known (fna, read-only keys, bad JSON).
const SETTERS: Record<string, Setter> = {
  amp: { check: int(MIN_AMPS, (charger) => charger.number("ama", 32)) },
  ama: { check: int(MIN_AMPS, 32) },
  frc: { check: int(0, 2) },
  psm: { check: int(0, 2) },
  lmo: { check: int(3, 5) },
  acs: { check: int(0, 2) },
  ust: { check: int(0, 2) },
  fup: {
    check: (value) => (typeof value === "boolean" ? undefined : `Expected bool, got ${describe(value)}`),
  },
  dwo: {
    check: nullable((value) =>
      typeof value === "number" && Number.isFinite(value) && value >= 0
        ? undefined
        : `Expected null or a number >= 0, got ${describe(value)}`,
    ),
  },
  trx: { check: nullable(int(0, 10)) },
  tcl: {
    check: nullable(int(MIN_AMPS, 32)),
    apply: (value, charger, now) => charger.setTemporaryLimit(value, now),
  },
  fna: {
    check: (value) => {
      if (typeof value !== "string") return `Expected string, got ${describe(value)}`;
      if (value.length < 4 || value.length > 64) return `String length ${value.length} exceeds range 4 to 64`;
      return undefined;
    },
  },
  ids: {
    check: (value) =>
      value !== null && typeof value === "object" && !Array.isArray(value)
        ? undefined
        : `Expected object, got ${describe(value)}`,
    apply: (value, charger) => charger.applyIds(value as Record<string, unknown>),
    writeOnly: true,
  },
  // any value makes the charger generate a new cloud token: the old one stops working
  cak: { check: () => undefined, apply: (_value, charger) => charger.regenerateToken(), writeOnly: true },
};

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
  private wh = 0;
  private eto = 0;
  private chargingMs = 0;
  private evaluatedAt: number;
  private readonly bootedAt: number;
  private tclExpiresAt: number | undefined;
  private power = 0;
  private tpaAtChange = 0;
  private powerChangedAt: number;
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
    this.powerChangedAt = now - TPA_WINDOW_MS;
    const ama = options.ama ?? 32;
    // the idle shape of the fw 053.1 capture (reference A3), minus keys nobody reads
    this.raw = {
      acs: 0,
      acu: null,
      adi: true,
      alw: false,
      ama,
      amp: options.amp ?? 16,
      ara: true,
      bac: true,
      car: 1,
      cbl: null,
      cdi: { type: 1, value: 0 },
      clp: [6, 10, 12, 14, 16],
      dwo: null,
      err: 0,
      eto: 0,
      fhz: 50.0,
      fna: options.fna ?? `go-e-${options.serial}`,
      frc: 0,
      fup: false,
      fwv: "055.8",
      lmo: 3,
      loc: "",
      modelStatus: 15,
      nrg: [],
      pakku: null,
      pgrid: null,
      pha: [],
      ppv: null,
      psm: 0,
      rbc: 7,
      rbt: 9_578_733,
      rssi: -58,
      sse: options.serial,
      tcl: null,
      tma: [24.25, 28.25],
      tpa: 0,
      trx: null,
      ust: 0,
      utc: "",
      var: ama > 16 ? 22 : 11,
      wh: 0,
      wst: 3,
    };
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
    // at most one step per event (dwo reached, tcl expired) plus the remainder
    for (let step = 0; step < 4 && this.evaluatedAt < now; step++) {
      let until = now;
      let limitReached = false;
      if (this.tclExpiresAt !== undefined && this.tclExpiresAt < until) {
        until = Math.max(this.tclExpiresAt, this.evaluatedAt);
      }
      const dwo = this.optionalNumber("dwo");
      if (this.power > 0 && dwo !== undefined) {
        const at = this.evaluatedAt + ((dwo - this.wh) / this.power) * 3_600_000;
        if (at <= until) {
          until = Math.max(at, this.evaluatedAt);
          limitReached = true;
        }
      }
      const elapsed = until - this.evaluatedAt;
      const energy =
        limitReached && dwo !== undefined ? Math.max(0, dwo - this.wh) : (this.power * elapsed) / 3_600_000;
      this.wh += energy;
      this.eto += energy;
      if (this.power > 0) this.chargingMs += elapsed;
      this.evaluatedAt = until;
      if (this.tclExpiresAt !== undefined && this.tclExpiresAt <= until) {
        this.raw.tcl = null;
        this.tclExpiresAt = undefined;
      }
      this.refresh(until);
    }
    this.evaluatedAt = Math.max(this.evaluatedAt, now);
  }

  /** The status object as `/api/status` returns it without a filter. */
  status(now: number): Record<string, unknown> {
    this.advance(now);
    const { car, alw, acu, modelStatus, current, phases } = this.evaluation;
    const amps = [0, 1, 2].map((phase) => (phase < phases ? current : 0));
    const watts = amps.map((amp) => amp * VOLTS);
    const pf = amps.map((amp) => (amp > 0 ? 100 : 0));
    const iso = new Date(now).toISOString();
    const out: Record<string, unknown> = {
      ...this.raw,
      car,
      alw,
      acu,
      modelStatus,
      cbl: this.connected ? this.cableAmps : null,
      nrg: [VOLTS, VOLTS, VOLTS, 0, ...amps, ...watts, 0, this.power, ...pf, 0],
      pha: [...amps.map((amp) => amp > 0), true, true, true],
      tpa: Math.round(this.tpa(now) * 10) / 10,
      wh: Math.round(this.wh * 1000) / 1000,
      eto: Math.floor(this.eto),
      cdi: { type: 1, value: Math.round(this.chargingMs) },
      rbt: this.number("rbt", 0) + (now - this.bootedAt),
      // go-e writes microseconds after the milliseconds, separated by a dot
      utc: `${iso.slice(0, 23)}.000`,
      loc: `${iso.slice(0, 23)}.000 +00:00`,
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
      const setter = SETTERS[key];
      if (!setter) {
        const error = key in known ? "tried to set api key without setter" : `unknown api key ${key}`;
        results.push({ key, ok: false, error });
        continue;
      }
      const error = setter.check(value, this);
      if (error !== undefined) {
        results.push({ key, ok: false, error });
        continue;
      }
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
    this.wh = 0;
    this.chargingMs = 0;
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
        if (key === "wh") this.wh = value;
        else if (key === "eto") this.eto = value;
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

  /** `ids` feeds the charger's PV inputs, which it echoes as pgrid/ppv/pakku. */
  applyIds(ids: Record<string, unknown>): void {
    for (const [from, to] of [
      ["pGrid", "pgrid"],
      ["pPv", "ppv"],
      ["pAkku", "pakku"],
    ] as const) {
      if (typeof ids[from] === "number") this.raw[to] = ids[from];
    }
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
      powerW: this.power,
      pinned: Object.fromEntries(this.pins),
    };
  }

  private refresh(now: number): void {
    this.evaluation = this.evaluate();
    const power = this.evaluation.current * this.evaluation.phases * VOLTS;
    if (power !== this.power) {
      this.tpaAtChange = this.tpa(now);
      this.powerChangedAt = now;
      this.power = power;
    }
  }

  /** The 30 s average power, assuming the average before the last change held steady. */
  private tpa(now: number): number {
    const since = now - this.powerChangedAt;
    if (since >= TPA_WINDOW_MS) return this.power;
    return (this.tpaAtChange * (TPA_WINDOW_MS - since) + this.power * since) / TPA_WINDOW_MS;
  }

  private evaluate(): Evaluation {
    const frc = this.number("frc", 0);
    const psm = this.number("psm", 0);
    const phases = Math.min(this.carPhases, psm === 1 ? 1 : 3);
    const limit = Math.min(
      this.number("amp", 16),
      this.number("ama", 32),
      this.cableAmps,
      this.optionalNumber("tcl") ?? Number.POSITIVE_INFINITY,
    );
    if (!this.connected) {
      return { car: 1, alw: false, acu: null, modelStatus: modelStatusOfForce(frc), current: 0, phases: 0 };
    }
    let allowed = true;
    let current = limit;
    let modelStatus = 15;
    let limitReached = false;
    const dwo = this.optionalNumber("dwo");
    if (frc === 1) {
      allowed = false;
      modelStatus = 4;
    } else if (this.number("acs", 0) === 1 && this.raw.trx === null) {
      // access control: waits for an RFID card or an app authorisation (trx)
      allowed = false;
      modelStatus = 2;
    } else if (dwo !== undefined && this.wh >= dwo) {
      allowed = false;
      limitReached = true;
      modelStatus = 6;
    } else if (frc === 2) {
      modelStatus = 3;
    } else if (this.number("lmo", 3) === 4 && this.raw.fup === true) {
      const surplusAmps = Math.floor(this.pvSurplusW / (phases * VOLTS));
      allowed = surplusAmps >= MIN_AMPS;
      current = Math.min(surplusAmps, limit);
      modelStatus = allowed ? 12 : 15;
    }
    const charging = allowed && !this.carFull;
    return {
      car: charging ? 2 : (allowed && this.carFull) || limitReached ? 4 : 3,
      alw: allowed,
      acu: allowed ? current : 0,
      modelStatus,
      current: charging ? current : 0,
      phases: charging ? phases : 0,
    };
  }
}

function modelStatusOfForce(frc: number): number {
  if (frc === 1) return 4;
  if (frc === 2) return 3;
  return 15;
}
