import { SURPLUS_DEFAULTS } from "./surplus.js";

// What a simulated charger is made of (its options) and the status it starts with.

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
  /** Firmware: 60.0 and newer report cards as c<n>n/c<n>e, older as a `cards` array. */
  fwv?: string;
  /** Names of the RFID cards in slots 0.., as the app shows them. */
  cards?: string[];
  /** Time zone offset in minutes (default 60, Central Europe) and DST rule (default 1, EU). */
  tof?: number;
  tds?: 0 | 1 | 2;
}

/** Keys the simulator computes itself; `update` pins them to a fixed value instead. */
export const COMPUTED = new Set([
  "car",
  "alw",
  "acu",
  "modelStatus",
  "nrg",
  "pha",
  "tpa",
  "cdi",
  "cus",
  "rbt",
  "utc",
  "loc",
]);

/** The idle shape of the fw 053.1 capture (reference A3), minus keys nobody reads. */
export function initialStatus(options: GoeSimChargerOptions, ama: number): Record<string, unknown> {
  return {
    acp: SURPLUS_DEFAULTS.acp,
    acs: 0,
    acu: null,
    adi: true,
    alw: false,
    ama,
    amp: options.amp ?? 16,
    ate: 18_000,
    att: 21_600,
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
    fst: SURPLUS_DEFAULTS.fst,
    fup: false,
    fwv: options.fwv ?? "055.8",
    lmo: 3,
    loc: "",
    mca: 6,
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
    sh: SURPLUS_DEFAULTS.sh,
    sse: options.serial,
    tcl: null,
    tds: options.tds ?? 1,
    tma: [24.25, 28.25],
    tof: options.tof ?? 60,
    tpa: 0,
    trx: null,
    ust: 0,
    utc: "",
    var: ama > 16 ? 22 : 11,
    wh: 0,
    wst: 3,
  };
}
