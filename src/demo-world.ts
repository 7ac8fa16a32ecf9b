import { ClimkitSimulator, defaultSite, type SimSite } from "./climkit/simulator/server.js";
import { GoeSimulator } from "./goe/simulator/server.js";
import { type CarState, OvmsSimulator } from "./ovms/simulator/server.js";

// The demo's simulators as one world: the car plugged in at the garage charger draws what the
// charger offers, stopping either stops both, the car's SoC rises with the energy the charger
// delivers, and the building's charge point meter (Climkit) measures both chargers. The
// simulators know nothing of each other; this file wires them through their public hooks.

export const GARAGE = "000001";
export const CARPORT = "000002";
export const CAR = "DEMO";
/** Usable battery of the demo car: 11 kW for a minute adds 0.35 % SoC. */
export const CAR_BATTERY_KWH = 52;

export const DEMO_CHARGERS = [
  {
    serial: GARAGE,
    token: "demo-cloud-token-000001",
    mode: "cloud" as const,
    carConnected: true,
    amp: 16,
    fna: "Garage",
  },
  { serial: CARPORT, mode: "local" as const, carConnected: false, amp: 10, fna: "Carport" },
];

export const DEMO_CLIMKIT = { username: "demo-building", password: "demo-climkit-password" };

export interface DemoWorldOptions {
  /** The simulators' clock (a scaled one in tests); default Date.now. */
  now?: () => number;
  /** How often time-driven changes (a charger's own timers) are carried over; default 1 s. */
  syncMs?: number;
}

export interface DemoUrls {
  restUrl: string;
  commandsUrl: string;
  climkitUrl: string;
}

export class DemoWorld {
  readonly goe: GoeSimulator;
  readonly climkit: ClimkitSimulator;
  readonly ovms: OvmsSimulator;
  private readonly now: () => number;
  private readonly syncMs: number;
  /** Whether the car wants to charge: it stops wanting when told to stop, or when it is full. */
  private wants = true;
  /** What the world last told the car, to tell the car's own changes from the charger's. */
  private told: Pick<CarState, "charging" | "pluggedIn"> | undefined;
  /** Both chargers' energy counters (Wh) over time, for the building's charge point meter. */
  private readonly energy: Array<[time: number, wh: number]> = [];
  private carFull = false;
  private timer: NodeJS.Timeout | undefined;
  private syncing = false;

  constructor(options: DemoWorldOptions = {}) {
    this.now = options.now ?? Date.now;
    this.syncMs = options.syncMs ?? 1000;
    this.goe = new GoeSimulator({ chargers: DEMO_CHARGERS, now: this.now });
    this.climkit = new ClimkitSimulator({ users: [DEMO_CLIMKIT], sites: [this.site()], now: this.now });
    this.ovms = new OvmsSimulator({
      now: this.now,
      vehicles: [
        {
          id: CAR,
          batteryKwh: CAR_BATTERY_KWH,
          connectedReportMs: 5000,
          state: { soc: 42, pluggedIn: true, charging: true, chargeState: "charging", chargeLimitSoc: 90 },
        },
      ],
    });
    // the counters as the chargers come into being: energy before that is none of the meter's
    this.recordEnergy();
  }

  async start(): Promise<DemoUrls> {
    await this.goe.start();
    const climkitUrl = await this.climkit.start();
    const { restUrl, commandsUrl } = await this.ovms.start();
    this.goe.on("set", () => this.sync());
    this.ovms.onReport(() => this.sync());
    this.sync();
    this.timer = setInterval(() => this.sync(), this.syncMs);
    this.timer.unref();
    return { restUrl, commandsUrl, climkitUrl };
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([this.goe.stop(), this.climkit.stop(), this.ovms.stop()]);
  }

  /** A car arrives at the carport (the demo shows a session start). */
  plugInCarport(): void {
    this.goe.plugIn(CARPORT);
    this.sync();
  }

  /** Energy both chargers delivered in [start, end), in kWh (0 before the demo started). */
  chargersKwh(start: number, end: number): number {
    return (this.counterAt(end) - this.counterAt(start)) / 1000;
  }

  /** Carries the charger's state over to the car and the car's wish over to the charger. */
  sync(): void {
    // a car report caused by this very sync must not start another one
    if (this.syncing) return;
    this.syncing = true;
    try {
      this.carryOver();
    } finally {
      this.syncing = false;
    }
  }

  private carryOver(): void {
    const car = this.ovms.carState(CAR);
    // the car changed by itself (a command to the car, or it is full): that is its wish now
    if (this.told && car.charging !== this.told.charging) this.wants = car.charging;
    if (car.chargeState === "done") this.wants = false;
    // a car that does not want to charge draws nothing: the charger reports it as complete
    if (this.carFull !== !this.wants) {
      this.carFull = !this.wants;
      this.goe.update(GARAGE, { carFull: this.carFull });
    }
    const charger = this.goe.status(GARAGE);
    const nrg = (charger.nrg as number[] | undefined) ?? [];
    const amps = nrg.slice(4, 7).filter((amp) => amp > 0);
    const delivering = charger.car === 2 && amps.length > 0;
    const pluggedIn = charger.car !== 1;
    const supply = { amps: amps[0] ?? 0, phases: Math.max(1, amps.length) };
    const charging = delivering;
    const stopped = car.chargeState === "done" ? "done" : "stopped";
    const changed =
      car.charging !== charging ||
      car.pluggedIn !== pluggedIn ||
      (charging && (car.supply?.amps !== supply.amps || car.supply?.phases !== supply.phases));
    if (changed) {
      this.ovms.setCarState(
        {
          charging,
          pluggedIn,
          supply,
          chargeState: charging ? "charging" : stopped,
        },
        CAR,
      );
    }
    this.told = { charging, pluggedIn };
    this.recordEnergy();
  }

  private recordEnergy(): void {
    const now = this.now();
    const wh = [GARAGE, CARPORT].reduce((sum, serial) => sum + Number(this.goe.status(serial).eto ?? 0), 0);
    const last = this.energy.at(-1);
    if (last && last[0] === now) last[1] = wh;
    else this.energy.push([now, wh]);
    // a day of samples is all the building's meter is asked about
    while ((this.energy[0]?.[0] ?? now) < now - 86_400_000) this.energy.shift();
  }

  /** The chargers' counter at a time, interpolated between samples. */
  private counterAt(time: number): number {
    const samples = this.energy;
    const first = samples[0];
    if (!first || time <= first[0]) return first?.[1] ?? 0;
    for (let index = 1; index < samples.length; index++) {
      const [t1, wh1] = samples[index] as [number, number];
      if (time <= t1) {
        const [t0, wh0] = samples[index - 1] as [number, number];
        return wh0 + ((wh1 - wh0) * (time - t0)) / (t1 - t0);
      }
    }
    return (samples.at(-1) as [number, number])[1];
  }

  /** The demo building: its charge point meter measures the two chargers. */
  private site(): SimSite {
    const site = defaultSite();
    site.meters = site.meters.map((meter) =>
      meter.type === "charge_point"
        ? {
            ...meter,
            name: "Bornes garage et carport",
            measured: (start, end) => this.chargersKwh(start, end),
          }
        : meter,
    );
    return site;
  }
}
