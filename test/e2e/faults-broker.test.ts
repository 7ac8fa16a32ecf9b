import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GoeSimulator } from "../../src/goe/simulator/server.js";
import { DaemonProcess } from "../helpers/daemon-process.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { linesToMap, mosquittoSub } from "../helpers/mqtt-cli.js";
import { MqttWatch } from "../helpers/mqtt-watch.js";
import { waitFor } from "../helpers/recording-sink.js";

// The broker (mosquitto without persistence) is killed hard three times while writes flow to
// three chargers. Each time it comes back empty, and the bridge must fill it again: the same
// retained topics with the same values as before the kill. Every write the bridge acknowledged
// must have reached its charger exactly once, and nothing may reach a charger that was not
// written. Writes are published only while the broker is up, one at a time per charger, each
// with an amperage that charger has not been sent before, so every /api/set names its write.

const ROOT = "ev2mqtt";
const SERIALS = ["500001", "500002", "500003"];
const ROUNDS = 3;
const AMPS = Array.from({ length: 27 }, (_, index) => 6 + index); // 6..32: each used once per charger

let broker: Mosquitto;
let sim: GoeSimulator;
let daemon: DaemonProcess;
let watch: MqttWatch;

beforeAll(async () => {
  broker = await Mosquitto.start();
  sim = new GoeSimulator({ chargers: SERIALS.map((serial) => ({ serial, mode: "local" as const })) });
  await sim.start();
  daemon = DaemonProcess.start({
    mqtt: { url: broker.url, topic: ROOT },
    log: { level: "warn" },
    goe: SERIALS.map((serial, index) => ({
      serial,
      loadpoint: index + 1,
      title: `Charger ${index + 1}`,
      url: sim.chargerUrl(serial),
      interval: "1s",
      timeout: "1s",
    })),
  });
  watch = await MqttWatch.connect(broker.url, `${ROOT}/#`);
});

afterAll(async () => {
  await watch?.close();
  await daemon?.stop();
  await sim?.stop();
  await broker?.stop();
});

/** Every retained message on the broker, as a fresh client sees it right after subscribing. */
async function retainedState(): Promise<Map<string, string>> {
  const fresh = await MqttWatch.connect(broker.url, "#");
  // retained messages come right behind the SUBACK; wait until they stop coming
  let count = -1;
  while (count !== fresh.messages.length) {
    count = fresh.messages.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  await fresh.close();
  return new Map(fresh.messages.filter((m) => m.retain).map((m) => [m.topic, m.payload]));
}

interface Sent {
  amps: number;
  at: number;
  answer?: { ok: boolean; value?: unknown; error?: string };
}

class Writer {
  readonly sent: Sent[] = [];
  private next = 0;
  private stopped = false;
  paused = false;
  done: Promise<void> | undefined;

  constructor(
    private readonly loadpoint: number,
    private readonly brokerUp: () => boolean,
  ) {}

  start(): void {
    this.done = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  /** Resolves once no write of this charger is waiting for its answer. */
  async idle(): Promise<void> {
    this.paused = true;
    await waitFor(() => !this.busy, 10_000, `writer ${this.loadpoint} idle`);
  }

  private busy = false;

  private async loop(): Promise<void> {
    const resultTopic = `${ROOT}/loadpoints/${this.loadpoint}/maxCurrent/result`;
    while (!this.stopped && this.next < AMPS.length) {
      if (this.paused || !this.brokerUp() || !watch.mqtt.connected) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      this.busy = true;
      const write: Sent = { amps: AMPS[this.next++]!, at: Date.now() };
      this.sent.push(write);
      // QoS 0: the test client never re-sends on its own, so a duplicate could only be the bridge's
      watch.mqtt.publish(`${ROOT}/loadpoints/${this.loadpoint}/maxCurrent/set`, String(write.amps), {
        qos: 0,
      });
      try {
        const answer = await waitFor(
          () =>
            watch.messages.find((m) => {
              if (m.topic !== resultTopic || m.time < write.at) return false;
              const parsed = JSON.parse(m.payload) as Sent["answer"];
              return parsed?.value === write.amps || parsed?.ok === false;
            }),
          6000,
        );
        write.answer = JSON.parse(answer.payload) as Sent["answer"];
      } catch {
        // no answer: the write or its answer was lost with the broker
      }
      this.busy = false;
    }
  }
}

describe("the broker killed and restarted under load", () => {
  it("gets the complete retained state back every time and applies each acknowledged write exactly once", async () => {
    await waitFor(
      () => SERIALS.every((_, index) => watch.value(`${ROOT}/loadpoints/${index + 1}/online`) === "true"),
      15_000,
      "every charger online",
    );
    let up = true;
    const writers = SERIALS.map((_, index) => new Writer(index + 1, () => up));
    for (const writer of writers) writer.start();

    for (let round = 1; round <= ROUNDS; round++) {
      // writes flow for a while; the kill comes in the middle of them
      await new Promise((resolve) => setTimeout(resolve, 2000 + Math.random() * 1000));
      const before = await retainedState();
      const snapshotAt = Date.now();
      up = false;
      await broker.kill();
      await new Promise((resolve) => setTimeout(resolve, 300));
      await broker.restart();

      // the bridge reconnects on its own and republishes; then let in-flight writes settle
      await waitFor(async () => (await retainedState()).get(`${ROOT}/status`) === "online", 15_000, "status");
      up = true;
      await Promise.all(writers.map((writer) => writer.idle()));
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const after = await retainedState();

      expect([...after.keys()].sort(), `round ${round}: retained topics`).toEqual([...before.keys()].sort());
      const differences: string[] = [];
      for (const [topic, payload] of before) {
        const now = after.get(topic);
        if (now === payload || topic === `${ROOT}/updated`) continue;
        // a value may only differ if the bridge published that newer value after the snapshot
        const republished = watch.messages.some(
          (m) => m.topic === topic && m.time >= snapshotAt && m.payload === now,
        );
        if (!republished) differences.push(`${topic}: ${payload} → ${now}`);
      }
      expect(differences, `round ${round}: retained values`).toEqual([]);
      for (const [index, serial] of SERIALS.entries()) {
        expect(after.get(`${ROOT}/loadpoints/${index + 1}/maxCurrent`), `round ${round}: ${serial}`).toBe(
          String(sim.status(serial).amp),
        );
      }
      // one check with the real client too
      const cli = linesToMap(
        await mosquittoSub(broker.port, `${ROOT}/#`, { seconds: 1, retainedOnly: true }),
      );
      expect(cli.get(`${ROOT}/status`)).toBe("online");
      expect(cli.size).toBe([...after.keys()].filter((topic) => topic.startsWith(`${ROOT}/`)).length);

      for (const writer of writers) writer.paused = false;
    }
    for (const writer of writers) await writer.stop();

    for (const [index, serial] of SERIALS.entries()) {
      const { sent } = writers[index]!;
      const applied = sim.setCalls(serial).map((call) => call.amp);
      const acknowledged = sent.filter((write) => write.answer?.ok === true).map((write) => write.amps);
      expect(sent.length, serial).toBeGreaterThanOrEqual(5);
      // nothing applied twice, nothing applied that was not written, in the order written
      expect(new Set(applied).size, `${serial}: ${applied.join(",")}`).toBe(applied.length);
      const sentAmps = sent.map((write) => write.amps);
      expect(applied, serial).toEqual(sentAmps.filter((amps) => applied.includes(amps)));
      // every acknowledged write reached the charger exactly once
      for (const amps of acknowledged)
        expect(applied.filter((a) => a === amps).length, `${serial} ${amps}`).toBe(1);
      // writes are lost only around a kill: at most one per charger per kill
      expect(sent.length - acknowledged.length, `${serial} unanswered or refused`).toBeLessThanOrEqual(
        ROUNDS,
      );
      expect(sent.filter((write) => write.answer?.ok === false)).toEqual([]);
    }
    expect(daemon.exitCode).toBeNull();
  }, 58_000);
});
