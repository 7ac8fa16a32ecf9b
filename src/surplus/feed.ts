import type { PowerInputConfig, SurplusConfig } from "../config/schema.js";
import type { BridgeContext, Extension } from "../extension.js";
import { type Device, receivesSurplus, type SurplusReading, type SurplusReceiver } from "../source.js";
import { readPower } from "./reading.js";

// The PV-surplus feed: live grid (and PV, battery) power from MQTT topics the user names, handed
// to the charger every few seconds while it is fresh. When the readings stop, the feed stops
// too, and the charger, which forgets a reading after about 10 s, falls back by itself: it never
// charges from data that stopped. The MQTT side lives here; the charger only offers
// `feedSurplus` (source.ts), so no upstream knows about topics.

type InputName = "grid" | "pv" | "battery";

/** After failed sends (the charger unreachable), the feed waits up to this long before trying again. */
const MAX_BACKOFF_MS = 60_000;

interface Input {
  config: PowerInputConfig;
  value?: number;
  /** performance.now() of the latest valid reading. */
  at?: number;
  /** The latest complaint about this topic, so a broken meter is logged once, not every second. */
  complaint?: string;
}

/** One charger's feed: its inputs, its rhythm, and whether the charger currently gets readings. */
class ChargerFeed {
  private readonly inputs = new Map<InputName, Input>();
  private readonly handlers: Array<{ topic: string; handler: (topic: string, payload: Buffer) => void }> = [];
  private timer: NodeJS.Timeout | undefined;
  private live: boolean | undefined;
  /** performance.now() of the latest reading handed to the charger. */
  private sentAt = Number.NEGATIVE_INFINITY;
  /** Failed sends in a row, and when the next may go: an unreachable charger is not hammered. */
  private failures = 0;
  private retryAt = Number.NEGATIVE_INFINITY;
  private charger: (Device & SurplusReceiver) | undefined;

  constructor(
    private readonly context: BridgeContext,
    private readonly config: SurplusConfig,
    /** `loadpoints/1` */
    private readonly topic: string,
  ) {
    for (const name of ["grid", "pv", "battery"] as const) {
      const input = config[name];
      if (input) this.inputs.set(name, { config: input });
    }
  }

  start(): void {
    for (const [name, input] of this.inputs) {
      const handler = (_topic: string, payload: Buffer) => this.receive(name, input, payload);
      this.handlers.push({ topic: input.config.topic, handler });
      this.context.connection.subscribe(input.config.topic, handler);
    }
    this.setLive(false, "no reading yet");
    this.timer = setInterval(() => void this.tick(), this.config.interval);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    for (const { topic, handler } of this.handlers) this.context.connection.unsubscribe(topic, handler);
    this.handlers.length = 0;
  }

  private receive(name: InputName, input: Input, payload: Buffer): void {
    const text = payload.toString("utf8");
    const watts = readPower(text, input.config);
    if (typeof watts === "string") {
      if (watts !== input.complaint) {
        this.context.logger.warn(
          { loadpoint: this.topic, input: name, topic: input.config.topic },
          `surplus feed: ${watts}; the reading is ignored`,
        );
        input.complaint = watts;
      }
      return;
    }
    input.complaint = undefined;
    input.value = watts;
    input.at = performance.now();
    // the first reading after a pause goes out at once; never more often than the interval
    const due = input.at - this.sentAt >= this.config.interval;
    if (name === "grid" && this.live !== true && due) void this.tick();
  }

  private fresh(input: Input | undefined, now: number): number | undefined {
    if (!input || input.at === undefined || input.value === undefined) return undefined;
    return now - input.at <= this.config.maxAge ? input.value : undefined;
  }

  private async tick(): Promise<void> {
    const now = performance.now();
    const grid = this.fresh(this.inputs.get("grid"), now);
    if (grid === undefined) {
      this.setLive(false, `no grid reading on ${this.config.grid.topic} for ${this.config.maxAge / 1000}s`);
      return;
    }
    const charger = this.findCharger();
    if (!charger || now < this.retryAt) return;
    this.sentAt = now;
    const reading: SurplusReading = { grid };
    const pv = this.fresh(this.inputs.get("pv"), now);
    const battery = this.fresh(this.inputs.get("battery"), now);
    if (pv !== undefined) reading.pv = pv;
    if (battery !== undefined) reading.battery = battery;
    const result = await charger.feedSurplus(reading);
    if (result.ok) {
      this.failures = 0;
      this.retryAt = Number.NEGATIVE_INFINITY;
      this.setLive(true, "");
    } else {
      this.failures += 1;
      this.retryAt = performance.now() + Math.min(this.config.interval * 2 ** this.failures, MAX_BACKOFF_MS);
      this.setLive(false, result.error);
    }
  }

  private findCharger(): (Device & SurplusReceiver) | undefined {
    if (this.charger) return this.charger;
    const device = this.context.devices().find((candidate) => candidate.describe().topic === this.topic);
    if (device && receivesSurplus(device)) this.charger = device;
    return this.charger;
  }

  private setLive(live: boolean, reason: string): void {
    if (live === this.live) return;
    const wasLive = this.live;
    this.live = live;
    this.context.publisher.set(`${this.topic}/surplusFeed`, live);
    if (live) this.context.logger.info({ loadpoint: this.topic }, "surplus feed live");
    else if (wasLive) this.context.logger.warn({ loadpoint: this.topic }, `surplus feed stopped: ${reason}`);
  }
}

/** Feeds every go-e charger that has a `surplus` section. */
export class SurplusFeed implements Extension {
  readonly name = "surplus";
  private readonly feeds: ChargerFeed[] = [];

  constructor(private readonly context: BridgeContext) {}

  async start(): Promise<void> {
    for (const charger of this.context.config.goe) {
      if (!charger.surplus) continue;
      const feed = new ChargerFeed(this.context, charger.surplus, `loadpoints/${charger.loadpoint}`);
      feed.start();
      this.feeds.push(feed);
    }
  }

  async stop(): Promise<void> {
    for (const feed of this.feeds) feed.stop();
    this.feeds.length = 0;
  }
}
