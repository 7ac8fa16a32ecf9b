import mqtt, { type IPublishPacket, type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GoeSimulator } from "../../src/goe/simulator/server.js";
import { OvmsSimulator } from "../../src/ovms/simulator/server.js";
import { UNHANDLED_REJECTION } from "../../src/util/unhandled.js";
import { DaemonProcess } from "../helpers/daemon-process.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { MqttWatch } from "../helpers/mqtt-watch.js";
import { waitFor } from "../helpers/recording-sink.js";

// A hostile client on the broker (issue 13): the built daemon as a process, a real mosquitto
// speaking MQTT 5, a go-e charger simulator and an OVMS server simulator. Every write is
// published as an attacker with publish rights would; the test checks what a user would
// notice: an answer on /result for each, nothing reaching the charger or the car that should
// not, the daemon still running, and nothing learnt about a secret.

const ROOT = "ev2mqtt";
const LP1 = `${ROOT}/loadpoints/1`;
const LP2 = `${ROOT}/loadpoints/2`;
const CAR = `${ROOT}/vehicles/car`;
const PASSWORD = "ovms-Pw-Hostile-7Qz";
const PIN = "4711";
const PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype);

let broker: Mosquitto;
let goe: GoeSimulator;
let ovms: OvmsSimulator;
let daemon: DaemonProcess;
let watch: MqttWatch;
/** The attacker: an MQTT 5 client that sees what it gets back, correlation data included. */
let attacker: MqttClient;
const received: Array<{ topic: string; payload: string; correlation?: string; time: number }> = [];

interface Answer {
  ok: boolean;
  value?: unknown;
  error?: string;
}

beforeAll(async () => {
  broker = await Mosquitto.start();
  goe = new GoeSimulator({
    chargers: [
      { serial: "700001", mode: "local", carConnected: true, amp: 10 },
      { serial: "700002", mode: "local", carConnected: true, amp: 10 },
    ],
  });
  await goe.start();
  ovms = new OvmsSimulator({
    password: PASSWORD,
    vehicles: [{ id: "HOST", state: { pin: PIN, chargeMode: "standard" }, socPerMinute: 0 }],
    sessionLifetimeMs: 3_600_000,
  });
  const urls = await ovms.start();
  watch = await MqttWatch.connect(broker.url, "#");
  attacker = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clean: true });
  attacker.on("message", (topic: string, payload: Buffer, packet: IPublishPacket) => {
    received.push({
      topic,
      payload: payload.toString(),
      correlation: packet.properties?.correlationData?.toString(),
      time: Date.now(),
    });
  });
  await attacker.subscribeAsync([`${ROOT}/#`, "hostile/#", "homeassistant/#"], { qos: 1 });
  daemon = DaemonProcess.start(
    {
      mqtt: { url: broker.url, topic: ROOT, clientId: "ev2mqtt-hostile", protocolVersion: 5 },
      log: { level: "info" },
      goe: ["700001", "700002"].map((serial, index) => ({
        serial,
        loadpoint: index + 1,
        interval: "1s",
        timeout: "2s",
        url: goe.chargerUrl(serial),
      })),
      ovms: [
        {
          url: urls.restUrl,
          username: "demo",
          password: "${OVMS_PASSWORD}",
          commands: urls.commandsUrl,
          interval: "5s",
          timeout: "5s",
          commandTimeout: "2s",
          vehicles: [{ id: "HOST", name: "car", pin: "${OVMS_PIN}", shell: true }],
        },
      ],
    },
    { OVMS_PASSWORD: PASSWORD, OVMS_PIN: PIN },
  );
  await watch.waitForValue(`${ROOT}/status`, "online");
  await watch.waitForValue(`${LP1}/online`, "true");
  await watch.waitForValue(`${LP2}/online`, "true");
  await watch.waitForValue(`${CAR}/online`, "true", 20_000);
});

afterAll(async () => {
  await attacker?.endAsync(true);
  await daemon?.stop();
  await watch?.close();
  await goe?.stop();
  await ovms?.stop();
  await broker?.stop();
});

/** Publishes writes at once, then waits until each result topic got as many answers as writes went to it. */
async function answersTo(writes: Array<[topic: string, payload: string | Buffer]>): Promise<Answer[]> {
  const since = Date.now();
  await Promise.all(writes.map(([topic, payload]) => attacker.publishAsync(topic, payload, { qos: 1 })));
  const wanted = new Map<string, number>();
  for (const [topic] of writes) {
    const result = `${topic.slice(0, -"/set".length)}/result`;
    wanted.set(result, (wanted.get(result) ?? 0) + 1);
  }
  const got = (topic: string) => received.filter((m) => m.topic === topic && m.time >= since);
  await waitFor(
    () => [...wanted].every(([topic, count]) => got(topic).length >= count) || undefined,
    20_000,
    `answers on ${[...wanted.keys()].join(", ")}`,
  );
  return [...wanted.keys()].flatMap((topic) => got(topic).map((m) => JSON.parse(m.payload) as Answer));
}

function upstreamCalls(): { goe: number; car: number } {
  return {
    goe: goe.setCalls("700001").length + goe.setCalls("700002").length,
    car: ovms.commands,
  };
}

describe("a hostile client on the broker", () => {
  it("gets a refusal for every name from Object.prototype, on every /set path, and changes nothing", async () => {
    const before = upstreamCalls();
    const writes: Array<[string, string]> = [];
    for (const name of PROTOTYPE_NAMES) {
      writes.push(
        [`${LP1}/${name}/set`, "1"],
        [`${LP1}/goe/${name}/set`, "1"],
        [`${LP1}/goe/${name}/set`, "{}"],
        [`${LP1}/mode/set`, name],
        [`${LP1}/phases/set`, name],
        [`${LP1}/maxCurrent/set`, name],
        [`${CAR}/${name}/set`, "true"],
        [`${CAR}/chargeMode/set`, name],
        [`${ROOT}/loadpoints/${name}/maxCurrent/set`, "10"],
        [`${ROOT}/${name}/set`, "1"],
      );
    }
    const answers = await answersTo(writes);
    expect(answers).toHaveLength(writes.length);
    expect(answers.filter((answer) => answer.ok)).toEqual([]);
    expect(answers.filter((answer) => /\[object|undefined|function/.test(answer.error ?? ""))).toEqual([]);
    expect(upstreamCalls()).toEqual(before);
    expect(daemon.exitCode).toBeNull();
  });

  it("sends no value that is not finite or not in its own table, and one bad key spoils no merged set", async () => {
    const before = upstreamCalls();
    const refused = await answersTo([
      [`${LP1}/goe/dwo/set`, "1e400"],
      [`${LP1}/goe/dwo/set`, "-1e400"],
      [`${LP1}/goe/ids/set`, '{"pGrid":1e999}'],
      [`${LP1}/goe/amp/set`, "1e400"],
      [`${LP1}/maxCurrent/set`, "1e400"],
      [`${LP1}/mode/set`, "__proto__"],
      [`${LP1}/phases/set`, "constructor"],
      [`${CAR}/chargeMode/set`, "constructor"],
      [`${CAR}/chargeCurrent/set`, "1e400"],
    ]);
    expect(refused.map((answer) => answer.ok)).toEqual(refused.map(() => false));
    expect(upstreamCalls()).toEqual(before);
    expect(goe.status("700001")).toMatchObject({ amp: 10 });
    expect(goe.status("700001").dwo ?? null).toBeNull();

    // a valid and an invalid write at the same moment: the valid one alone goes out
    const merged = await answersTo([
      [`${LP1}/maxCurrent/set`, "11"],
      [`${LP1}/goe/dwo/set`, "1e400"],
      [`${LP1}/goe/frc/set`, "7"],
    ]);
    expect(merged).toContainEqual({ ok: true, value: 11 });
    expect(merged.filter((answer) => !answer.ok)).toHaveLength(2);
    expect(goe.setCalls("700001").at(-1)).toEqual({ amp: 11 });
  });

  it("answers every write of a 1000-write storm within seconds, the one that took effect among them", async () => {
    const count = 1000;
    const values = Array.from({ length: count }, (_, index) => 6 + (index % 11));
    values[count - 1] = 8;
    const setsBefore = goe.setCalls("700002").length;
    const statusBefore = goe.requests("700002").filter((r) => r.endpoint === "status").length;
    // the answers come to a listener of their own: a client subscribed to everything would get
    // 4000 messages at once (the writes, their clearing, /result, the replies), more than
    // mosquitto queues for one client (max_queued_messages 1000), and lose some
    const listener = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clean: true });
    const stormReplies: Array<{ correlation: string; payload: string }> = [];
    listener.on("message", (_topic: string, payload: Buffer, packet: IPublishPacket) => {
      const correlation = packet.properties?.correlationData?.toString();
      if (correlation !== undefined) stormReplies.push({ correlation, payload: payload.toString() });
    });
    await listener.subscribeAsync("hostile/storm", { qos: 1 });
    await Promise.all(
      values.map((value, index) =>
        attacker.publishAsync(`${LP2}/maxCurrent/set`, String(value), {
          qos: 1,
          properties: { responseTopic: "hostile/storm", correlationData: Buffer.from(String(index)) },
        }),
      ),
    );
    // every write answered within a few seconds of the storm's end, i.e. of its effect
    await waitFor(() => stormReplies.length >= count || undefined, 8000, "an answer to every write");
    const byWrite = new Map(
      stormReplies.map((m) => [Number(m.correlation), JSON.parse(m.payload) as Answer]),
    );
    expect(byWrite.size).toBe(count);
    expect(byWrite.get(count - 1)).toEqual({ ok: true, value: 8 });
    expect(goe.status("700002").amp).toBe(8);
    for (const [index, answer] of byWrite) {
      // confirmed with its own value, or overtaken by a later one and told so
      if (answer.ok) expect(answer.value, `write ${index}`).toBe(values[index]);
      else
        expect(answer.error, `write ${index}`).toMatch(/^superseded by \d+ \(a later write of maxCurrent\)$/);
    }
    // merged and confirmed together: a handful of calls, not one per write
    const sets = goe.setCalls("700002").length - setsBefore;
    const reads = goe.requests("700002").filter((r) => r.endpoint === "status").length - statusBefore;
    expect(sets).toBeGreaterThan(0);
    expect(sets).toBeLessThan(30);
    expect(reads).toBeLessThan(30);
    await listener.endAsync(true);
    // and a write after the storm is not kept waiting behind it
    const after = await answersTo([[`${LP2}/maxCurrent/set`, "9"]]);
    expect(after).toEqual([{ ok: true, value: 9 }]);
  });

  it("sends a storm of car writes one at a time, superseded while waiting: a few commands, not hundreds", async () => {
    const before = ovms.commandLog.length;
    const amps = Array.from({ length: 200 }, (_, index) => 6 + (index % 10));
    amps[amps.length - 1] = 13;
    const writes: Array<[string, string]> = [
      ...amps.map((value): [string, string] => [`${CAR}/chargeCurrent/set`, String(value)]),
      ...Array.from({ length: 100 }, (): [string, string] => [`${CAR}/wakeup/set`, "PRESS"]),
    ];
    const answers = await answersTo(writes);
    const sent = ovms.commandLog.slice(before);
    // the first of each key goes at once; everything that waited behind it became one more
    expect(sent.filter((line) => line.startsWith("C15")).length).toBeLessThanOrEqual(3);
    expect(sent.filter((line) => line.startsWith("C18")).length).toBeLessThanOrEqual(3);
    expect(ovms.carState().chargeCurrent).toBe(13);
    for (const answer of answers) {
      if (!answer.ok) expect(answer.error).toMatch(/^superseded by \d+ \(a later write of chargeCurrent\)$/);
    }
    expect(answers).toContainEqual({ ok: true, value: 13 });
    expect(answers.filter((answer) => answer.ok && answer.value === true)).toHaveLength(100);
  });

  it("answers blank payloads and /set at depths where no value lives, and ignores only an empty one", async () => {
    const before = upstreamCalls();
    const blanks = await answersTo([
      [`${LP1}/maxCurrent/set`, " "],
      [`${LP1}/maxCurrent/set`, "\t\t"],
      [`${LP1}/maxCurrent/set`, "\u2028"],
      [`${LP1}/maxCurrent/set`, " ".repeat(1024 * 1024)],
      [`${CAR}/chargeMode/set`, "  \n "],
    ]);
    expect(blanks.map((answer) => answer.ok)).toEqual([false, false, false, false, false]);
    expect(blanks.filter((answer) => /blank|too long/.test(answer.error ?? ""))).toHaveLength(5);
    const deep = await answersTo([
      [`${ROOT}/set`, "1"],
      [`${ROOT}/x/set`, "1"],
      [`${ROOT}/a/b/c/d/e/f/set`, "1"],
      [`${ROOT}/${Array(14).fill("z").join("/")}/set`, "1"],
      [`${LP1}/maxCurrent/set/set`, "1"],
    ]);
    expect(deep.map((answer) => answer.ok)).toEqual([false, false, false, false, false]);
    // an empty payload (what clearing a retained /set looks like) gets no answer
    const since = Date.now();
    await attacker.publishAsync(`${LP1}/goe/fup/set`, "", { qos: 1 });
    const [marker] = await answersTo([[`${LP1}/goe/fup/set`, "maybe"]]);
    expect(marker?.ok).toBe(false);
    expect(received.filter((m) => m.topic === `${LP1}/goe/fup/result` && m.time >= since)).toHaveLength(1);
    expect(upstreamCalls()).toEqual(before);
  });

  it("never answers onto a /set, state or discovery topic named as the response topic", async () => {
    const before = upstreamCalls();
    await watch.waitForValue(`${LP1}/maxCurrent`, "11");
    const targets = [
      `${CAR}/wakeup/set`,
      `${CAR}/command/set`,
      `${LP1}/maxCurrent`,
      `${ROOT}/status`,
      "homeassistant/number/ev2mqtt/config",
      "zigbee2mqtt/bridge/request/device/remove",
    ];
    const since = Date.now();
    for (const responseTopic of targets) {
      for (const [topic, payload] of [
        [`${LP1}/mode/set`, "bogus"],
        [`${LP1}/maxCurrent/set`, "7"],
      ] as const) {
        await attacker.publishAsync(topic, payload, {
          qos: 1,
          properties: { responseTopic, correlationData: Buffer.from("x") },
        });
      }
    }
    const results = () =>
      received.filter(
        (m) =>
          (m.topic === `${LP1}/mode/result` || m.topic === `${LP1}/maxCurrent/result`) && m.time >= since,
      );
    await waitFor(() => results().length >= targets.length * 2 || undefined, 10_000, "the answers");
    for (const message of results()) {
      const answer = JSON.parse(message.payload) as Answer;
      expect(answer.ok).toBe(false);
      expect(answer.error).toMatch(/^refused: the MQTT 5 response topic/);
    }
    // nothing landed on the targets: no wake-up, no shell command, state and discovery intact.
    // Only the bridge's answers count: the storm test's own wake-up presses may still be
    // arriving from the broker
    const answers = (m: { topic: string; payload: string; time: number }) =>
      targets.includes(m.topic) && m.time >= since && m.payload.startsWith('{"ok"');
    expect(watch.messages.filter(answers)).toEqual([]);
    expect(upstreamCalls()).toEqual(before);
    expect(watch.value(`${LP1}/maxCurrent`)).toBe("11");
    expect(watch.value(`${ROOT}/status`)).toBe("online");

    // an ordinary response topic still gets its answer, with the correlation data
    const asked = Date.now();
    await attacker.publishAsync(`${LP1}/mode/set`, "now", {
      qos: 1,
      properties: { responseTopic: "hostile/replies/1", correlationData: Buffer.from("req-7") },
    });
    const reply = await waitFor(
      () => received.find((m) => m.topic === "hostile/replies/1" && m.time >= asked),
      10_000,
      "the answer on the response topic",
    );
    expect([JSON.parse(reply.payload), reply.correlation]).toEqual([{ ok: true, value: "now" }, "req-7"]);
  });

  it("learns nothing about the PIN from the answers, whatever it guesses", async () => {
    // 1000 four-digit guesses in ten writes per topic, the PIN among them; the same prefix
    // and length for all, so answers that differ could only come from the secret
    const writes: Array<[string, string]> = [];
    for (let batch = 0; batch < 10; batch++) {
      const guesses = Array.from({ length: 100 }, (_, i) => String(batch * 100 + i).padStart(4, "0"));
      if (batch === 4) guesses[42] = PIN;
      for (const topic of [`${LP1}/mode/set`, `${CAR}/chargeMode/set`]) {
        writes.push([topic, `try ${guesses.join(" ")}`]);
      }
    }
    // the charger's name would come back on its title topic through the scrubber: closed
    writes.push([`${CAR}/locked/set`, PIN], [`${CAR}/locked/set`, "0000"]);
    writes.push([`${LP1}/goe/fna/set`, `name ${PIN}`], [`${LP1}/goe/fna/set`, "name 0000"]);
    const before = upstreamCalls();
    const answers = await answersTo(writes);
    const texts = new Set(answers.map((answer) => JSON.stringify(answer)));
    // one answer text per topic: nothing depends on the guess
    expect(texts.size).toBe(4);
    expect([...texts].join("\n")).not.toContain("***");
    expect([...texts].join("\n")).not.toContain(PIN);
    expect(upstreamCalls()).toEqual(before);
  });

  it("is still running, and no rejection went unhandled", () => {
    expect(daemon.exitCode).toBeNull();
    expect(daemon.text).not.toContain(UNHANDLED_REJECTION);
    expect(daemon.text).not.toContain("write failed unexpectedly");
  });
});
