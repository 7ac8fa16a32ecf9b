import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GoeSimulator } from "../../src/goe/simulator/server.js";
import { DaemonProcess } from "../helpers/daemon-process.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { linesToMap, mosquittoPub, mosquittoSub } from "../helpers/mqtt-cli.js";
import { MqttWatch } from "../helpers/mqtt-watch.js";
import { waitFor } from "../helpers/recording-sink.js";

// SIGTERM while a write is under way (the charger takes 1.5 s to answer the /api/set): the
// write is still answered, a write that comes in while stopping is answered too, the status
// goes offline (retained), and the process exits 0 within 5 s.

const ROOT = "ev2mqtt";
const SLOW = "700001";
const OTHER = "700002";

let broker: Mosquitto;
let sim: GoeSimulator;
let watch: MqttWatch;

beforeAll(async () => {
  broker = await Mosquitto.start();
  sim = new GoeSimulator({
    chargers: [
      { serial: SLOW, mode: "local" },
      { serial: OTHER, mode: "local" },
    ],
  });
  await sim.start();
  watch = await MqttWatch.connect(broker.url, `${ROOT}/#`);
});

afterAll(async () => {
  await watch?.close();
  await sim?.stop();
  await broker?.stop();
});

interface Answer {
  ok: boolean;
  value?: unknown;
  error?: string;
}

describe("SIGTERM during a pending write", () => {
  it("answers the write, goes offline and exits 0 within 5 s", async () => {
    const daemon = DaemonProcess.start({
      mqtt: { url: broker.url, topic: ROOT },
      log: { level: "info" },
      goe: [SLOW, OTHER].map((serial, index) => ({
        serial,
        loadpoint: index + 1,
        url: sim.chargerUrl(serial),
        interval: "1s",
      })),
    });
    try {
      await watch.waitForValue(`${ROOT}/loadpoints/1/online`, "true");
      await watch.waitForValue(`${ROOT}/loadpoints/2/online`, "true");
      await watch.waitForValue(`${ROOT}/status`, "online");

      // the charger takes the set at once but answers only after 1.5 s
      sim.fault(SLOW, { delayMs: 1500, paths: ["set"], times: 1 });
      const arrived = new Promise<number>((resolve) => sim.once("set", () => resolve(Date.now())));
      const since = Date.now();
      await mosquittoPub(broker.port, `${ROOT}/loadpoints/1/maxCurrent/set`, "10");
      await arrived;
      const signalled = Date.now();
      const exited = daemon.stop("SIGTERM");
      // a write that comes in while the bridge stops is answered as well
      watch.mqtt.publish(`${ROOT}/loadpoints/2/maxCurrent/set`, "12", { qos: 1 });
      const code = await exited;
      const took = Date.now() - signalled;

      expect(code).toBe(0);
      expect(took).toBeLessThan(5000);
      const answer = await watch.waitForMessage(`${ROOT}/loadpoints/1/maxCurrent/result`, since, 2000);
      const pending = JSON.parse(answer.payload) as Answer;
      if (pending.ok) expect(pending.value).toBe(10);
      else expect(pending.error).toMatch(/stopping/);
      expect(sim.setCalls(SLOW)).toEqual([{ amp: 10 }]);

      const late = await watch.waitForMessage(`${ROOT}/loadpoints/2/maxCurrent/result`, since, 2000);
      const lateAnswer = JSON.parse(late.payload) as Answer;
      if (lateAnswer.ok) expect(lateAnswer.value).toBe(12);
      else expect(lateAnswer.error).toMatch(/stopping/);
      // refused means it never reached the charger
      expect(sim.setCalls(OTHER).length).toBe(lateAnswer.ok ? 1 : 0);

      await watch.waitForValue(`${ROOT}/status`, "offline", 2000);
      const retained = linesToMap(
        await mosquittoSub(broker.port, `${ROOT}/status`, { seconds: 1, count: 1 }),
      );
      expect(retained.get(`${ROOT}/status`)).toBe("offline");
      const lines = daemon.logLines();
      expect(lines.some((line) => line.msg === "stopping" && line.signal === "SIGTERM")).toBe(true);
      expect(lines.some((line) => line.msg === "ev2mqtt stopped")).toBe(true);
      expect(lines.filter((line) => Number(line.level) >= 50)).toEqual([]);
    } finally {
      await daemon.stop();
    }
  });

  it("exits 0 within 5 s on SIGINT too, with the broker gone", async () => {
    const daemon = DaemonProcess.start({
      mqtt: { url: broker.url, topic: `${ROOT}-int` },
      log: { level: "warn" },
      goe: [{ serial: OTHER, loadpoint: 1, url: sim.chargerUrl(OTHER), interval: "1s" }],
    });
    try {
      await watch.mqtt.subscribeAsync(`${ROOT}-int/status`);
      await waitFor(() => watch.value(`${ROOT}-int/status`) === "online", 10_000, "online");
      await broker.kill();
      const started = Date.now();
      expect(await daemon.stop("SIGINT")).toBe(0);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await daemon.stop();
      await broker.restart();
    }
  });
});
