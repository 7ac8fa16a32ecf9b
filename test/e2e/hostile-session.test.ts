import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GoeSimulator } from "../../src/goe/simulator/server.js";
import { DaemonProcess } from "../helpers/daemon-process.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { waitFor } from "../helpers/recording-sink.js";
import { TcpProxy } from "../helpers/tcp-proxy.js";

// Writes published while the bridge is away from its broker: a network cut (a proxy between
// the built daemon and a real mosquitto, cut and restored), a broker restart (mosquitto with
// persistence, as Debian configures it), and the bridge's own restart. The bridge holds a
// persistent session, so the broker keeps its `/set` messages; each one is carried out when
// the bridge is back, or answered as stale when it waited longer than `mqtt.staleWriteAfter`
// (scaled down to 5 s here). None is lost: every write gets an answer on its `/result`.

const ROOT = "ev2mqtt";
const SERIAL = "810001";
const SET = `${ROOT}/loadpoints/1/maxCurrent/set`;
const RESULT = `${ROOT}/loadpoints/1/maxCurrent/result`;
const STALE_AFTER_S = 5;

interface Answer {
  ok: boolean;
  value?: unknown;
  error?: string;
}

let broker: Mosquitto;
let proxy: TcpProxy;
let sim: GoeSimulator;
/** The user's client: its own persistent session, so it misses no answer across a broker restart. */
let user: MqttClient;
const answers: Array<{ time: number; answer: Answer }> = [];

function config() {
  return {
    mqtt: {
      url: proxy.url,
      topic: ROOT,
      clientId: "ev2mqtt-session-test",
      staleWriteAfter: `${STALE_AFTER_S}s`,
    },
    log: { level: "info" },
    goe: [{ serial: SERIAL, loadpoint: 1, url: sim.chargerUrl(SERIAL), interval: "1s" }],
  };
}

beforeAll(async () => {
  broker = await Mosquitto.start(undefined, { persistence: true });
  proxy = await TcpProxy.start(broker.port);
  sim = new GoeSimulator({ chargers: [{ serial: SERIAL, mode: "local" }] });
  await sim.start();
  user = await mqtt.connectAsync(broker.url, {
    clientId: "session-test-user",
    clean: false,
    protocolVersion: 5,
    properties: { sessionExpiryInterval: 600 },
    reconnectPeriod: 100,
  });
  user.on("message", (topic, payload) => {
    if (topic === RESULT)
      answers.push({ time: Date.now(), answer: JSON.parse(payload.toString()) as Answer });
  });
  await user.subscribeAsync(RESULT, { qos: 1 });
});

afterAll(async () => {
  await user?.endAsync(true);
  await proxy?.close();
  await sim?.stop();
  await broker?.stop();
});

/** Publishes writes (queued by the client while the broker is away) and returns when they are sent or queued. */
function write(...amps: number[]): void {
  for (const amp of amps) user.publish(SET, String(amp), { qos: 1 });
}

async function answersSince(count: number, since: number): Promise<Answer[]> {
  await waitFor(
    () => answers.filter((entry) => entry.time >= since).length >= count || undefined,
    20_000,
    `${count} answers`,
  );
  return answers.filter((entry) => entry.time >= since).map((entry) => entry.answer);
}

/** Waits for the answer that confirms `amp`: writes before it in a burst may be answered first. */
async function answered(amp: number, since: number): Promise<void> {
  await waitFor(
    () =>
      answers.some((entry) => entry.time >= since && entry.answer.ok && entry.answer.value === amp) ||
      undefined,
    20_000,
    `the answer confirming ${amp}`,
  );
}

function amps(): number[] {
  return sim.setCalls(SERIAL).map((call) => Number(call.amp));
}

async function online(daemon: DaemonProcess, connects: number): Promise<void> {
  await waitFor(
    () => daemon.logLines().filter((line) => line.msg === "MQTT connected").length >= connects || undefined,
    15_000,
    `MQTT connect #${connects}`,
  );
}

/** Waits until the bridge has taken what the broker kept for it (it logs how many, and how many were stale). */
async function caughtUp(daemon: DaemonProcess, times: number): Promise<Record<string, unknown>> {
  const lines = () =>
    daemon
      .logLines()
      .filter((line) => line.msg === "MQTT: delivered the messages the broker kept for the bridge");
  await waitFor(() => lines().length >= times || undefined, 15_000, `catch-up #${times}`);
  return lines()[times - 1] ?? {};
}

describe("writes while the bridge is away from the broker", () => {
  it("carries out writes from a short network cut, answers those of a long one as stale, and survives a broker restart", async () => {
    const daemon = DaemonProcess.start(config());
    try {
      await online(daemon, 1);
      await waitFor(() => sim.requests(SERIAL).length > 0 || undefined, 10_000, "a poll");

      // a cut of about a second: the broker keeps the writes, the bridge is back at once
      let since = Date.now();
      proxy.cut();
      await waitFor(
        () =>
          daemon.logLines().some((line) => line.msg === "MQTT connection lost; reconnecting") || undefined,
        5000,
        "the bridge noticing the cut",
      );
      write(7, 8, 9);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      proxy.restore();
      await answered(9, since);
      const short = await answersSince(3, since);
      expect(short.filter((answer) => /stale/.test(answer.error ?? ""))).toEqual([]);
      expect(amps().at(-1)).toBe(9);

      // a cut longer than the limit: the write is answered as stale and never reaches the charger;
      // one whose publisher set an MQTT 5 message expiry (2 minutes) is carried out: its
      // publisher said how long it stays good, and the broker would have dropped it after
      since = Date.now();
      const setsBefore = sim.setCalls(SERIAL).length;
      proxy.cut();
      write(11);
      user.publish(SET, "10", { qos: 1, properties: { messageExpiryInterval: 120 } });
      await new Promise((resolve) => setTimeout(resolve, (STALE_AFTER_S + 2) * 1000));
      proxy.restore();
      // (an answer sent just before the cut may come once more: QoS 1 is at least once)
      const stale = await waitFor(
        () => answers.find((entry) => entry.time >= since && /stale/.test(entry.answer.error ?? "")),
        20_000,
        "the stale answer",
      );
      expect(stale.answer).toMatchObject({ ok: false });
      expect(stale.answer.error).toMatch(/stale: .*away for \d+s.*staleWriteAfter: 5s/);
      expect(answers.filter((entry) => entry.time >= since && entry.answer.value === 11)).toEqual([]);
      await answered(10, since);
      // a fresh write right after is carried out
      since = Date.now();
      write(12);
      await answered(12, since);
      expect(amps().slice(setsBefore)).toEqual([10, 12]);

      // the broker restarts (persistence on): writes the user's client queued meanwhile and
      // sent as soon as the broker was back reach the bridge through its kept session
      since = Date.now();
      await broker.stop();
      write(13, 14);
      await broker.restart();
      await answered(14, since);
      const restart = await answersSince(2, since);
      expect(restart.filter((answer) => /stale/.test(answer.error ?? ""))).toEqual([]);
      expect(amps().at(-1)).toBe(14);
      expect(await daemon.stop()).toBe(0);
    } finally {
      await daemon.stop();
    }
    expect(daemon.logLines().filter((line) => Number(line.level) >= 50)).toEqual([]);
  }, 90_000);

  it("answers a write published while the bridge was not running, instead of losing it", async () => {
    // the session of the previous test is kept by the broker: the bridge was away, for how long
    // it cannot know, so what the broker kept is answered as stale
    const since = Date.now();
    const setsBefore = sim.setCalls(SERIAL).length;
    write(15);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const daemon = DaemonProcess.start(config());
    try {
      const [answer] = await answersSince(1, since);
      expect(answer?.ok).toBe(false);
      expect(answer?.error).toMatch(/stale: .*not running/);
      expect(await caughtUp(daemon, 1)).toMatchObject({ kept: 1, stale: 1 });
      write(16);
      await waitFor(() => amps().at(-1) === 16 || undefined, 10_000, "amp 16 at the charger");
      expect(amps().slice(setsBefore)).toEqual([16]);
    } finally {
      await daemon.stop();
    }
  }, 30_000);
});
