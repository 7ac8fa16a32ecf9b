import { EventEmitter } from "node:events";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import type { BridgeContext, BridgeEvents } from "../../src/extension.js";
import type { MessageHandler } from "../../src/mqtt/connection.js";
import type { Device, SurplusReading, Value, WriteResult } from "../../src/source.js";
import { SurplusFeed } from "../../src/surplus/feed.js";
import { createLogger } from "../../src/util/log.js";

// The feed's rhythm on a clock the test moves: readings go out every interval while the grid
// reading is fresh, stop when it is stale, and back off while the charger cannot be reached.

const TOPIC = "meter/grid";

class Harness {
  readonly handlers = new Map<string, MessageHandler>();
  readonly published = new Map<string, Value>();
  readonly sent: Array<{ at: number; reading: SurplusReading }> = [];
  answer: WriteResult = { ok: true, value: "" };
  readonly charger: Device & { feedSurplus(reading: SurplusReading): Promise<WriteResult> } = {
    describe: () => ({
      id: "goe-000001",
      topic: "loadpoints/1",
      kind: "loadpoint",
      name: "go-e",
      manufacturer: "go-e",
      model: "go-eCharger",
      entities: [],
    }),
    feedSurplus: async (reading) => {
      this.sent.push({ at: Date.now(), reading });
      return this.answer;
    },
  };
  readonly feed: SurplusFeed;

  constructor() {
    const config = parseConfig({
      goe: [
        {
          serial: "000001",
          loadpoint: 1,
          url: "http://192.0.2.1",
          surplus: { grid: TOPIC, pv: "meter/pv", interval: "4s", maxAge: "10s" },
        },
      ],
    });
    const context = {
      config,
      logger: createLogger({ level: "silent" }),
      connection: {
        subscribe: (filter: string, handler: MessageHandler) => this.handlers.set(filter, handler),
        unsubscribe: (filter: string) => this.handlers.delete(filter),
      },
      publisher: { set: (topic: string, value: Value) => this.published.set(topic, value) },
      events: new EventEmitter<BridgeEvents>(),
      devices: () => [this.charger],
    } as unknown as BridgeContext;
    this.feed = new SurplusFeed(context);
  }

  meter(topic: string, payload: string): void {
    this.handlers.get(topic)?.(topic, Buffer.from(payload), {} as never);
  }

  get live(): Value | undefined {
    return this.published.get("loadpoints/1/surplusFeed");
  }
}

let harness: Harness;

beforeEach(async () => {
  vi.useFakeTimers({
    toFake: ["setInterval", "clearInterval", "setTimeout", "clearTimeout", "Date", "performance"],
  });
  vi.setSystemTime(0);
  harness = new Harness();
  await harness.feed.start();
});

afterEach(async () => {
  await harness.feed.stop();
  vi.useRealTimers();
});

/** The meter publishes every second for `seconds`. */
async function meterFor(seconds: number, grid = "-2500"): Promise<void> {
  for (let s = 0; s < seconds; s++) {
    harness.meter(TOPIC, grid);
    await vi.advanceTimersByTimeAsync(1000);
  }
}

describe("surplus feed", () => {
  it("is not live before the first reading, sends it at once, then every interval", async () => {
    expect(harness.live).toBe(false);
    harness.meter("meter/pv", "6000");
    await meterFor(20);
    expect(harness.live).toBe(true);
    const times = harness.sent.map((send) => send.at);
    expect(times[0]).toBe(0);
    const gaps = times.slice(1).map((time, index) => time - times[index]!);
    for (const gap of gaps) expect(gap).toBeLessThanOrEqual(4000);
    expect(harness.sent.length).toBeGreaterThanOrEqual(5);
    expect(harness.sent.length).toBeLessThanOrEqual(6);
    // pv counts while fresh, then is left out
    expect(harness.sent[0]?.reading).toEqual({ grid: -2500, pv: 6000 });
    expect(harness.sent.at(-1)?.reading).toEqual({ grid: -2500 });
  });

  it("stops sending once the grid reading is older than maxAge, and says so", async () => {
    await meterFor(8);
    const before = harness.sent.length;
    await vi.advanceTimersByTimeAsync(12_000);
    expect(harness.live).toBe(false);
    const lastSend = harness.sent.at(-1)?.at ?? 0;
    expect(lastSend).toBeLessThanOrEqual(7000 + 10_000);
    expect(harness.sent.length - before).toBeLessThanOrEqual(3);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(harness.sent.at(-1)?.at).toBe(lastSend);
  });

  it("ignores payloads that are no number, so they do not keep the feed alive", async () => {
    await meterFor(2);
    expect(harness.live).toBe(true);
    for (let s = 0; s < 15; s++) {
      harness.meter(TOPIC, "unavailable");
      await vi.advanceTimersByTimeAsync(1000);
    }
    expect(harness.live).toBe(false);
  });

  it("backs off while the charger refuses or cannot be reached, and recovers", async () => {
    harness.answer = { ok: false, error: "go-e cloud: HTTP 502" };
    await meterFor(60);
    expect(harness.live).toBe(false);
    // 4 s interval: 8, 16, 32 s apart instead of 15 sends a minute
    expect(harness.sent.length).toBeGreaterThanOrEqual(3);
    expect(harness.sent.length).toBeLessThanOrEqual(5);
    harness.answer = { ok: true, value: "" };
    await meterFor(70);
    expect(harness.live).toBe(true);
  });

  it("never pauses longer than a minute however long the charger refuses", async () => {
    harness.answer = { ok: false, error: "go-e cloud: HTTP 502" };
    await meterFor(300);
    const times = harness.sent.map((entry) => entry.at);
    const gaps = times.slice(1).map((at, index) => at - times[index]!);
    // 4 s doubling: 8, 16, 32, 64 s would be next; the pause stays at 60 s
    expect(Math.max(...gaps)).toBe(60_000);
    expect(harness.sent.length).toBeGreaterThanOrEqual(6);
  });
});
