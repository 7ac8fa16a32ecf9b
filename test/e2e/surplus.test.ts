import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { GoeSimulator } from "../../src/goe/simulator/server.js";
import { DaemonProcess } from "../helpers/daemon-process.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { mosquittoPub } from "../helpers/mqtt-cli.js";
import { MqttWatch } from "../helpers/mqtt-watch.js";
import { waitFor } from "../helpers/recording-sink.js";

// The PV-surplus feed end to end: a meter publishes grid power on a real mosquitto, the built
// daemon hands it to the simulated go-e as `ids`, and the charger charges from it. Intervals
// are scaled down (ids every 2 s, stale after 3 s); go-e's own 10 s memory is not.

const ROOT = "ev2mqtt";
const LP = `${ROOT}/loadpoints/1`;
const SERIAL = "000001";
const METER = "home/meter/sml";

let broker: Mosquitto;
let sim: GoeSimulator;
let daemon: DaemonProcess;
let watch: MqttWatch;

beforeAll(async () => {
  broker = await Mosquitto.start();
  sim = new GoeSimulator({ chargers: [{ serial: SERIAL, mode: "local", carConnected: true, amp: 16 }] });
  await sim.start();
  watch = await MqttWatch.connect(broker.url, [`${ROOT}/#`]);
  daemon = DaemonProcess.start({
    mqtt: { url: broker.url, topic: ROOT, clientId: "ev2mqtt-surplus" },
    log: { level: "debug" },
    homeassistant: { discovery: false },
    goe: [
      {
        serial: SERIAL,
        loadpoint: 1,
        interval: "1s",
        timeout: "2s",
        url: sim.chargerUrl(SERIAL),
        // the meter publishes kW as JSON, export positive: the opposite of what go-e wants
        surplus: {
          grid: { topic: METER, json: "power.total", scale: 1000, invert: true },
          pv: `${METER}/pv`,
          interval: "2s",
          maxAge: "3s",
        },
      },
    ],
  });
  await watch.waitForValue(`${ROOT}/status`, "online");
});

afterEach((context) => {
  if (context.task.result?.state !== "fail") return;
  const notable = daemon?.logLines().filter((line) => Number(line.level) >= 30);
  console.error(`daemon log:\n${notable?.map((line) => JSON.stringify(line)).join("\n")}`);
});

afterAll(async () => {
  await daemon?.stop();
  await watch?.close();
  await sim?.stop();
  await broker?.stop();
});

/** A meter publishing every `everyMs` until stopped; returns when the last reading went out. */
function meter(exportKw: () => number, everyMs: number) {
  let stopped = false;
  let last = 0;
  const running = (async () => {
    while (!stopped) {
      await watch.mqtt.publishAsync(METER, JSON.stringify({ power: { total: exportKw() } }), { qos: 0 });
      await watch.mqtt.publishAsync(`${METER}/pv`, "7000", { qos: 0 });
      last = Date.now();
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await running;
      return last;
    },
  };
}

describe("PV-surplus feed", () => {
  it("keeps ids alive while the meter publishes, charges from it, and stops when it goes quiet", async () => {
    await watch.waitForValue(`${LP}/surplusFeed`, "false");
    const since = Date.now();
    await mosquittoPub(broker.port, `${LP}/mode/set`, "pv");
    await watch.waitForValue(`${LP}/mode`, "pv");
    expect(sim.status(SERIAL)).toMatchObject({ lmo: 4, fup: true, acp: true, frc: 0 });
    const statusBefore = sim.requests(SERIAL).filter((r) => r.endpoint === "status").length;

    // 6.2 kW export, read as -6200 W grid power; a broken reading in between is ignored
    const feeding = meter(() => 6.2, 1000);
    await watch.waitForValue(`${LP}/surplusFeed`, "true");
    await watch.waitForValue(`${LP}/charging`, "true");
    await watch.waitForValue(`${LP}/surplusGridPower`, (value) => Number(value) < 0);
    await mosquittoPub(broker.port, METER, "n/a");
    const feedStarted = sim.idsArrivals(SERIAL)[0] ?? 0;
    // a user's write still gets through while the feed runs
    const writeSent = Date.now();
    await mosquittoPub(broker.port, `${LP}/maxCurrent/set`, "12");
    const answer = await watch.waitForMessage(`${LP}/maxCurrent/result`, writeSent);
    expect(JSON.parse(answer.payload)).toEqual({ ok: true, value: 12 });
    // keep feeding for a while: the charger must hear from the bridge at most 5 s apart
    await waitFor(() => (Date.now() - feedStarted > 7000 ? true : undefined), 15_000, "7 s of feeding");
    const lastReading = await feeding.stop();

    // kW × 1000, export positive inverted: what go-e wants
    const sent = sim.setCalls(SERIAL).filter((call) => "ids" in call);
    // the first grid reading goes out at once, possibly before the PV one arrived
    expect(sent.find((call) => Object.hasOwn(call.ids as object, "pPv"))).toEqual({
      ids: { pGrid: -6200, pPv: 7000 },
    });
    expect(sim.status(SERIAL).ppv).toBe(7000);

    // the bridge stops; the charger forgets the reading 10 s after the last one and stops
    await watch.waitForValue(`${LP}/surplusFeed`, "false", 15_000);
    await watch.waitForValue(`${LP}/charging`, "false", 20_000);
    // null erases the retained value: an empty payload
    await waitFor(
      () => (watch.value(`${LP}/surplusGridPower`) === "" ? true : undefined),
      5000,
      "pgrid erased",
    );

    const arrivals = sim.idsArrivals(SERIAL);
    const fed = arrivals.filter((time) => time <= lastReading);
    expect(fed.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < arrivals.length; i++)
      expect(arrivals[i]! - arrivals[i - 1]!).toBeLessThanOrEqual(5000);
    const lastIds = arrivals.at(-1) ?? 0;
    expect(lastIds - lastReading).toBeLessThanOrEqual(15_000);
    expect(sim.status(SERIAL)).toMatchObject({ pgrid: null, car: 3 });

    // the feed took turns with the polls (1 s interval), and it is no user write: no /result
    const statusCalls = sim.requests(SERIAL).filter((r) => r.endpoint === "status").length;
    expect(statusCalls - statusBefore).toBeGreaterThanOrEqual(5);
    const results = watch.messages.filter((m) => m.time >= since && m.topic.endsWith("/result"));
    expect(results.map((m) => m.topic)).toEqual([`${LP}/mode/result`, `${LP}/maxCurrent/result`]);
    expect(daemon.text).toContain("not JSON");
    expect(daemon.exitCode).toBeNull();
  });
});
