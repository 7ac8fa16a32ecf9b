// A simulated car with an OVMS module, for the OVMS server simulator. Imports nothing of the
// product. The module "reports" by storing v2 records (S, D, L, W or Y) with their time, as the
// real server stores the car's messages; the REST API and the v2 server serve those stored
// records, so data is only as fresh as the car's last report. Time is read from an injectable
// clock and everything advances lazily when the car is looked at.

import { type CommandOutcome, executeCommand } from "./commands.js";
import { chargePowerW, encodeMessages, fMessage } from "./messages.js";

export type ChargeMode = "standard" | "storage" | "range" | "performance";

export interface CarState {
  soc: number;
  /** "K" kilometres or "M" miles: the units of every distance the car sends. */
  units: "K" | "M";
  /** Estimated range at 100 % SoC, in the car's units (the range sent scales with the SoC). */
  fullRange: number;
  /** In the car's units (the D record sends tenths). */
  odometer: number;
  pluggedIn: boolean;
  charging: boolean;
  chargeState: string;
  chargeMode: ChargeMode;
  chargeCurrent: number;
  chargeLimitSoc: number;
  lineVoltage: number;
  locked: boolean;
  awake: boolean;
  latitude: number;
  longitude: number;
  temperatures: {
    battery: number;
    motor: number;
    pem: number;
    charger: number;
    cabin: number;
    ambient: number;
  };
  /** Tyre pressures in kPa, in the order fl, fr, rl, rr. */
  tyresKpa: [number, number, number, number];
  /** Which TPMS record the module sends: V3 'Y' (kPa), v2 'W' (psi), both (V3 modules), or none. */
  tpms: "Y" | "W" | "both" | "none";
  /** Whether the module is connected to the server (v_net_connected). */
  moduleConnected: boolean;
  /** The PIN that lock/unlock (commands 20/22) need. */
  pin: string;
  /**
   * What the charging station offers while the car is plugged in at one that says (the demo
   * wires a simulated charger here): the car draws `amps` on `phases` while charging. Without
   * it the car draws its own `chargeCurrent` on one phase.
   */
  supply?: { amps: number; phases: number };
}

export interface SimCarOptions {
  id: string;
  state?: Partial<CarState>;
  /** SoC percentage points per minute while charging (unless `batteryKwh` is given). */
  socPerMinute?: number;
  /** Usable battery: given, the SoC rises by the energy the car draws instead of `socPerMinute`. */
  batteryKwh?: number;
  /** Report interval with no peer connected (the module's "idle" interval). */
  idleReportMs?: number;
  /** Report interval while an app or API peer is connected. */
  connectedReportMs?: number;
  /** No records stored at all: every record endpoint answers `{}`. */
  noRecords?: boolean;
  /**
   * `/api/tpms` dies on a stored Y record, as on the real server (`max()` not imported,
   * ApiHttpCore.pm 551), answering `404 not found`. Off by default, so REST-only tests see tyres.
   */
  tpmsDies?: boolean;
}

export interface StoredRecord {
  code: string;
  message: string;
  /** Clock time (ms) the server received it. */
  time: number;
}

export type { CommandOutcome } from "./commands.js";

export class SimCar {
  readonly id: string;
  readonly tpmsDies: boolean;
  private state: CarState;
  private readonly socPerMinute: number;
  private readonly batteryKwh: number | undefined;
  private readonly idleReportMs: number;
  private readonly connectedReportMs: number;
  private lastAdvance: number;
  private lastReport = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private halted = false;
  /** Reports the module has sent (each a full set of records: its data use). */
  reports = 0;
  private readonly stored = new Map<string, StoredRecord>();
  /** Peers that make the module report faster: API sessions and v2 app (`A`) clients. */
  readonly peers = new Set<string>();
  private readonly listeners = new Set<(records: StoredRecord[]) => void>();

  constructor(
    options: SimCarOptions,
    private readonly now: () => number,
  ) {
    this.id = options.id;
    this.tpmsDies = options.tpmsDies ?? false;
    this.socPerMinute = options.socPerMinute ?? 0.5;
    this.batteryKwh = options.batteryKwh;
    this.idleReportMs = options.idleReportMs ?? 600_000;
    this.connectedReportMs = options.connectedReportMs ?? 10_000;
    this.state = {
      soc: 78,
      units: "K",
      fullRange: 230,
      odometer: 12345.6,
      pluggedIn: false,
      charging: false,
      chargeState: "stopped",
      chargeMode: "standard",
      chargeCurrent: 13,
      chargeLimitSoc: 90,
      lineVoltage: 230,
      locked: true,
      awake: false,
      latitude: 47.376887,
      longitude: 8.541694,
      temperatures: { battery: 21, motor: 19, pem: 20, charger: 18, cabin: 17.5, ambient: 14 },
      tyresKpa: [240, 242, 230, 231],
      tpms: "Y",
      moduleConnected: true,
      pin: "4711",
      ...options.state,
    };
    this.lastAdvance = now();
    if (!options.noRecords) {
      this.store([{ code: "F", message: fMessage(), time: now() }]);
      this.report();
    }
  }

  /** Called with the records of every new report (the v2 server forwards them live). */
  onReport(listener: (records: StoredRecord[]) => void): void {
    this.listeners.add(listener);
  }

  snapshot(): CarState {
    this.advance();
    return structuredClone(this.state);
  }

  /**
   * The module sends one raw record as it stands (`code` and the text after it), e.g. a garbled
   * one: the server stores and forwards it without looking inside.
   */
  sendRaw(code: string, message: string): void {
    this.store([{ code, message, time: this.now() }]);
  }

  /** Changes the car; the module reports at once when it is connected (F first when it connects). */
  set(patch: Partial<CarState>): void {
    this.advance();
    const connecting = patch.moduleConnected === true && !this.state.moduleConnected;
    this.state = { ...this.state, ...patch };
    if (connecting) this.store([{ code: "F", message: fMessage(), time: this.now() }]);
    if (patch.charging === true && patch.chargeState === undefined) this.state.chargeState = "charging";
    if (patch.charging === false && patch.chargeState === undefined) this.state.chargeState = "stopped";
    if (this.state.charging) this.state.pluggedIn = true;
    if (this.state.moduleConnected) this.report();
  }

  /** The server's stored records, after the module's reports that are due by now. */
  records(): Map<string, StoredRecord> {
    this.advance();
    const interval = this.peers.size > 0 ? this.connectedReportMs : this.idleReportMs;
    if (this.state.moduleConnected && this.now() - this.lastReport >= interval) this.report();
    return this.stored;
  }

  /** Ends the module's report timer (the simulator stops). */
  halt(): void {
    this.halted = true;
    clearTimeout(this.timer);
  }

  /**
   * The module also reports on its own timer, idle or connected interval, so that v2 clients
   * get its reports pushed without anyone reading REST. Real timers; the interval is judged on
   * the simulator's clock.
   */
  private schedule(): void {
    clearTimeout(this.timer);
    if (this.halted) return;
    const interval = this.peers.size > 0 ? this.connectedReportMs : this.idleReportMs;
    const due = Math.max(50, interval - (this.now() - this.lastReport));
    if (!Number.isFinite(due) || due > 2 ** 31 - 1) return;
    this.timer = setTimeout(() => {
      this.records();
      this.schedule();
    }, due);
    this.timer.unref?.();
  }

  /** A peer connects (API session or v2 app): the first one gets a full report at once. */
  addPeer(key: string): boolean {
    const first = this.peers.size === 0;
    this.peers.add(key);
    if (first && this.state.moduleConnected) this.report();
    return first;
  }

  /** Carries out a v2 command as the module would, and reports the new state. */
  command(code: number, params: string[]): CommandOutcome {
    this.advance();
    const state = this.state;
    const outcome = executeCommand(code, params, state, this.range());
    if (outcome.result === 0) this.report();
    return outcome;
  }

  private range(): number {
    return (this.state.fullRange * this.state.soc) / 100;
  }

  /** SoC rises while charging, until the limit (or 100 %), computed from the elapsed time. */
  private advance(): void {
    const now = this.now();
    const state = this.state;
    if (state.charging && now > this.lastAdvance) {
      const limit = state.chargeLimitSoc > 0 ? state.chargeLimitSoc : 100;
      const minutes = (now - this.lastAdvance) / 60_000;
      const gain =
        this.batteryKwh === undefined
          ? minutes * this.socPerMinute
          : (chargePowerW(state) * minutes) / 60 / (this.batteryKwh * 10);
      state.soc = Math.min(limit, state.soc + gain);
      if (state.soc >= limit) {
        state.charging = false;
        state.chargeState = "done";
      }
    }
    this.lastAdvance = now;
  }

  /** The module sends its records; the server stores them with the time of arrival. */
  private report(): void {
    const time = this.now();
    this.lastReport = time;
    this.reports += 1;
    const records = encodeMessages(this.state, this.range()).map(([code, message]) => ({
      code,
      message,
      time,
    }));
    this.store(records);
    this.schedule();
  }

  private store(records: StoredRecord[]): void {
    for (const record of records) this.stored.set(record.code, record);
    for (const listener of this.listeners) listener(records);
  }
}
