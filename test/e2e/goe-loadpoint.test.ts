import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { GoeSimulator } from "../../src/goe/simulator/server.js";
import { DaemonProcess } from "../helpers/daemon-process.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { writeAndAnswer } from "../helpers/mqtt-cli.js";
import { MqttWatch } from "../helpers/mqtt-watch.js";
import { waitFor } from "../helpers/recording-sink.js";

// Issue 9's loadpoint settings end to end: the built daemon, a real mosquitto, mosquitto_pub
// for the writes, and the go-e simulator on a clock 60 times faster than the wall (so a kWh
// charges in seconds). A 16 A charger on the cloud with firmware 60.4 (cards as c<n>n/c<n>e)
// and a 32 A charger on the local API with older firmware (the `cards` array).

const TOKEN = "Cjk4BWbH8EcTFtY6dsWvTYz6CjBxifeO";
const ROOT = "ev2mqtt";
const PREFIX = "homeassistant";
const LP1 = `${ROOT}/loadpoints/1`;
const LP2 = `${ROOT}/loadpoints/2`;
const SMALL = "000011";
const BIG = "000012";
const SPEED = 60;
const START = Date.now();

let broker: Mosquitto;
let sim: GoeSimulator;
let daemon: DaemonProcess;
let watch: MqttWatch;
let ha: MqttWatch;

function write(topic: string, payload: string): Promise<Record<string, unknown>> {
  return writeAndAnswer(watch, broker.port, topic, payload);
}

function lastSet(serial: string): Record<string, unknown> | undefined {
  return sim.setCalls(serial).at(-1);
}

/** The retained discovery config of a loadpoint entity, once announced. */
async function discovery(serial: string, key: string): Promise<Record<string, unknown>> {
  const suffix = `/goe-${serial}__${key}/config`;
  const payload = await waitFor(
    () => [...ha.latest].find(([topic, value]) => topic.endsWith(suffix) && value !== "")?.[1],
    15_000,
    `the discovery config of ${serial} ${key}`,
  );
  return JSON.parse(payload) as Record<string, unknown>;
}

beforeAll(async () => {
  broker = await Mosquitto.start();
  sim = new GoeSimulator({
    now: () => START + (Date.now() - START) * SPEED,
    chargers: [
      {
        serial: SMALL,
        token: TOKEN,
        ama: 16,
        amp: 16,
        carConnected: true,
        fwv: "060.4",
        cards: ["Anna", "Ben"],
      },
      { serial: BIG, mode: "local", ama: 32, amp: 16, cards: ["Carla"], tof: -300, tds: 2 },
    ],
  });
  await sim.start();
  watch = await MqttWatch.connect(broker.url, `${ROOT}/#`);
  ha = await MqttWatch.connect(broker.url, `${PREFIX}/#`);
  daemon = DaemonProcess.start(
    {
      mqtt: { url: broker.url, topic: ROOT, clientId: "ev2mqtt-loadpoint-e2e" },
      log: { level: "info" },
      homeassistant: { discovery: true, prefix: PREFIX },
      goe: [
        { serial: SMALL, token: "${GOE_TOKEN}", loadpoint: 1, interval: "1s", url: sim.chargerUrl(SMALL) },
        { serial: BIG, loadpoint: 2, interval: "1s", url: sim.chargerUrl(BIG) },
      ],
    },
    { GOE_TOKEN: TOKEN },
  );
  await watch.waitForValue(`${LP1}/minCurrent`, "6");
  await watch.waitForValue(`${LP2}/minCurrent`, "6");
});

afterEach((context) => {
  if (context.task.result?.state !== "fail") return;
  const notable = daemon?.logLines().filter((line) => Number(line.level) >= 40);
  console.error(`daemon warnings:\n${notable?.map((line) => JSON.stringify(line)).join("\n")}`);
});

afterAll(async () => {
  await daemon?.stop();
  await watch?.close();
  await ha?.close();
  await sim?.stop();
  await broker?.stop();
});

describe("go-e loadpoint settings in evcc's names", () => {
  it("publishes minimum current, energy limit, plan, thresholds, cable lock and cards", async () => {
    await watch.waitForValue(`${LP1}/cableLock`, "locked");
    expect(watch.value(`${LP1}/limitEnergy`)).toBe("0");
    expect(watch.value(`${LP1}/enableThreshold`)).toBe("-1400");
    expect(watch.value(`${LP1}/disableThreshold`)).toBe("200");
    expect(watch.value(`${LP1}/planActive`)).toBe("false");
    expect(watch.value(`${LP1}/planEnergy`)).toBe("0");
    expect(watch.value(`${LP1}/rfidCard`)).toBe("none");
    expect(watch.value(`${LP1}/rfidCards/1/name`)).toBe("Anna");
    expect(watch.value(`${LP1}/rfidCards/2/name`)).toBe("Ben");
    expect(watch.value(`${LP2}/cableLock`)).toBe("unlocked");
    expect(watch.value(`${LP2}/rfidCards/1/name`)).toBe("Carla");
  });

  it("carries every new write to the charger as its go-e key, reads it back and answers ok", async () => {
    type Case = [string, string, Record<string, unknown>, unknown, string];
    const small: Case[] = [
      [`${LP1}/minCurrent`, "8", { mca: 8 }, 8, "8"],
      [`${LP1}/limitEnergy`, "120.5", { dwo: 120_500 }, 120.5, "120.5"],
      [`${LP1}/mode`, "smart", { frc: 0, lmo: 4, fup: true, acp: true }, "pv", "pv"],
      [`${LP1}/planEnergy`, "15", { lmo: 5, ate: 15_000 }, 15, "15"],
      [
        `${LP1}/planTime`,
        "07:30",
        { lmo: 5, att: 27_000 },
        expect.stringMatching(/T07:30:00\+0[12]:00$/),
        "",
      ],
      [`${LP1}/planTime`, "none", { lmo: 4 }, "none", ""],
    ];
    const big: Case[] = [
      [`${LP2}/enableThreshold`, "-20000", { fst: 20_000 }, -20_000, "-20000"],
      [`${LP2}/disableThreshold`, "300", { sh: 300 }, 300, "300"],
      [`${LP2}/minCurrent`, "16", { mca: 16 }, 16, "16"],
      [`${LP2}/limitEnergy`, "7", { dwo: 7000 }, 7, "7"],
      [`${LP2}/limitEnergy`, "none", { dwo: null }, 0, "0"],
    ];
    // one charger's writes one after the other, both chargers at once (each has its own queue)
    const run = async (serial: string, cases: Case[]) => {
      for (const [topic, payload, params, value, published] of cases) {
        expect(await write(topic, payload), `${topic} ${payload}`).toEqual({ ok: true, value });
        expect(lastSet(serial), `${topic} ${payload}`).toEqual(params);
        if (published !== "") await watch.waitForValue(topic, published);
      }
    };
    await Promise.all([run(SMALL, small), run(BIG, big)]);
    // the plan was published while it ran, and ended with the logic mode it began in (pv)
    expect(sim.status(SMALL)).toMatchObject({ lmo: 4, ate: 15_000, att: 27_000, mca: 8, dwo: 120_500 });
    expect(sim.status(BIG)).toMatchObject({ fst: 20_000, sh: 300, mca: 16, dwo: null });
    await watch.waitForValue(`${LP1}/planActive`, "false");
    expect(await write(`${LP1}/mode`, "now")).toEqual({ ok: true, value: "now" });
  });

  it("converts an RFC 3339 planTime with the charger's own time zone, and publishes the plan", async () => {
    // the charger at BIG keeps New York time (tof -300, US DST); 3 h from now, on its clock
    const departure = new Date(Math.ceil(Date.now() / 60_000) * 60_000 + 3 * 3_600_000);
    const answer = await write(`${LP2}/planTime`, departure.toISOString());
    expect(answer.ok).toBe(true);
    expect(Date.parse(String(answer.value))).toBe(departure.getTime());
    expect(String(answer.value)).toMatch(/-0[45]:00$/);
    const offsetHours = String(answer.value).endsWith("-04:00") ? -4 : -5;
    const local = new Date(departure.getTime() + offsetHours * 3_600_000);
    expect(sim.status(BIG)).toMatchObject({
      lmo: 5,
      att: local.getUTCHours() * 3600 + local.getUTCMinutes() * 60,
    });
    await watch.waitForValue(`${LP2}/planActive`, "true");
    await watch.waitForValue(`${LP2}/planTime`, String(answer.value));
    expect(await write(`${LP2}/planEnergy`, "none")).toEqual({ ok: true, value: "none" });
    expect(sim.status(BIG).lmo).toBe(3);
    await watch.waitForValue(`${LP2}/planActive`, "false");
  });

  it("refuses out-of-range and inconsistent values with a reason, sending nothing", async () => {
    const before = [sim.setCalls(SMALL).length, sim.setCalls(BIG).length];
    const refused: Array<[string, string, string]> = [
      [`${LP1}/minCurrent`, "17", "6..16"],
      [`${LP1}/minCurrent`, "5", "6..16"],
      [`${LP1}/maxCurrent`, "7", "below minCurrent 8"],
      [`${LP2}/minCurrent`, "20", "above maxCurrent 16"],
      [`${LP1}/limitEnergy`, "-1", "0..200"],
      [`${LP1}/limitEnergy`, "500", "0..200"],
      [`${LP1}/planEnergy`, "lots", "0..200"],
      [`${LP1}/planTime`, "25:00", "HH:MM"],
      [`${LP1}/planTime`, new Date(Date.now() + 3 * 86_400_000).toISOString(), "more than 24 h ahead"],
      [`${LP1}/planTime`, new Date(Date.now() - 3_600_000).toISOString(), "in the past"],
      [`${LP1}/enableThreshold`, "100", "-11040..0"],
      [`${LP1}/enableThreshold`, "-20000", "-11040..0"],
      [`${LP1}/disableThreshold`, "-5", "cannot be negative"],
      [`${LP1}/disableThreshold`, "12000", "0..11040"],
      [`${LP1}/mode`, "minpv", "no exact equivalent"],
      [`${LP1}/cableLock`, "locked", "unknown setting"],
    ];
    for (const [topic, payload, reason] of refused) {
      const answer = await write(topic, payload);
      expect(answer.ok, `${topic} ${payload}`).toBe(false);
      expect(String(answer.error), `${topic} ${payload}`).toContain(reason);
    }
    // an empty payload is what clearing a retained /set looks like: ignored, not even answered
    // (both from one client at QoS 1: an answer to the empty one would come before the other's)
    const since = watch.now();
    await watch.mqtt.publishAsync(`${LP1}/planTime/set`, "", { qos: 1 });
    await watch.mqtt.publishAsync(`${LP1}/planTime/set`, "25:00", { qos: 1 });
    await waitFor(
      () =>
        watch.messages.find(
          (message) =>
            message.time >= since &&
            message.topic === `${LP1}/planTime/result` &&
            message.payload.includes("HH:MM"),
        ),
      15_000,
      "the answer to 25:00",
    );
    expect(watch.countSince(since, (message) => message.topic === `${LP1}/planTime/result`)).toBe(1);
    expect([sim.setCalls(SMALL).length, sim.setCalls(BIG).length]).toEqual(before);
    expect(sim.status(SMALL)).toMatchObject({ mca: 8, amp: 16, dwo: 120_500, fst: 1400, sh: 200 });
  });

  it("stops the session when limitEnergy is reached", async () => {
    // the limit first, then the car: at 60× a 16 A session reaches 0.5 kWh in under 3 s
    expect(await write(`${LP2}/limitEnergy`, "0.5")).toEqual({ ok: true, value: 0.5 });
    expect(sim.status(BIG).dwo).toBe(500);
    sim.plugIn(BIG);
    await watch.waitForValue(`${LP2}/connected`, "true");
    await waitFor(() => sim.status(BIG).car === 4, 15_000, "the charger to stop the session by itself");
    expect(sim.status(BIG)).toMatchObject({ car: 4, wh: 500, modelStatus: 6 });
    await watch.waitForValue(`${LP2}/chargerStatusReason`, "notChargingEnergyLimit");
    await watch.waitForValue(`${LP2}/charging`, "false");
    await watch.waitForValue(`${LP2}/sessionEnergy`, (value) => Math.abs(Number(value) - 500) <= 1);
  });

  it("keeps sessionEnergy growing across the charger's wh reset on a phase switch", async () => {
    await watch.waitForValue(`${LP1}/charging`, "true");
    await watch.waitForValue(`${LP1}/sessionEnergy`, (value) => Number(value) > 1000);
    const before = Number(watch.value(`${LP1}/sessionEnergy`));
    expect(await write(`${LP1}/phasesConfigured`, "1")).toEqual({ ok: true, value: 1 });
    // the charger restarted its own counter; the bridge's count goes on from where it was
    expect(Number(sim.status(SMALL).wh)).toBeLessThan(before);
    await watch.waitForValue(`${LP1}/sessionEnergy`, (value) => Number(value) > before + 100);
    const wh = Number(sim.status(SMALL).wh);
    expect(Number(watch.value(`${LP1}/sessionEnergy`))).toBeGreaterThan(wh + before - 100);
    expect(await write(`${LP1}/phasesConfigured`, "3")).toEqual({ ok: true, value: 3 });
  });

  it("names the card that charges and counts its energy, on new and old firmware", async () => {
    sim.update(SMALL, { trx: 2 });
    sim.update(BIG, { dwo: null, trx: 1 });
    await watch.waitForValue(`${LP1}/rfidCard`, "Ben");
    await watch.waitForValue(`${LP2}/rfidCard`, "Carla");
    await watch.waitForValue(`${LP1}/rfidCards/2/energy`, (value) => Number(value) > 0.5);
    await watch.waitForValue(`${LP2}/rfidCards/1/energy`, (value) => Number(value) > 0.5);
    expect(watch.value(`${LP1}/rfidCards/1/energy`)).toBe("0");
    sim.update(SMALL, { trx: 0 });
    await watch.waitForValue(`${LP1}/rfidCard`, "no card");
  });

  it("announces the new controls to Home Assistant with ranges that follow the charger", async () => {
    const min16 = await discovery(SMALL, "minCurrent");
    const min32 = await discovery(BIG, "minCurrent");
    expect(min16).toMatchObject({
      command_topic: `${LP1}/minCurrent/set`,
      min: 6,
      max: 16,
      unit_of_measurement: "A",
    });
    expect(min32).toMatchObject({ command_topic: `${LP2}/minCurrent/set`, min: 6, max: 32 });
    expect(await discovery(SMALL, "enableThreshold")).toMatchObject({
      min: -11_040,
      max: 0,
      unit_of_measurement: "W",
    });
    expect(await discovery(BIG, "enableThreshold")).toMatchObject({ min: -22_080, max: 0 });
    expect(await discovery(BIG, "disableThreshold")).toMatchObject({ min: 0, max: 22_080 });
    expect(await discovery(SMALL, "limitEnergy")).toMatchObject({
      min: 0,
      max: 200,
      unit_of_measurement: "kWh",
    });
    expect(await discovery(SMALL, "planEnergy")).toMatchObject({ command_topic: `${LP1}/planEnergy/set` });
    expect(await discovery(SMALL, "planTime")).toMatchObject({
      command_topic: `${LP1}/planTime/set`,
      state_topic: `${LP1}/planTime`,
    });
    expect(await discovery(SMALL, "cableLock")).toMatchObject({ state_topic: `${LP1}/cableLock` });
    expect(await discovery(SMALL, "rfidCards__2__energy")).toMatchObject({
      name: "Card Ben energy",
      unit_of_measurement: "kWh",
      state_class: "total_increasing",
    });
    const planTopic = [...ha.latest.keys()].find((topic) => topic.endsWith(`goe-${SMALL}__planTime/config`));
    expect(planTopic?.startsWith(`${PREFIX}/text/`)).toBe(true);
  });
});
