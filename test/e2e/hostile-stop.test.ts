import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GoeSimulator } from "../../src/goe/simulator/server.js";
import { DaemonProcess } from "../helpers/daemon-process.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { mosquittoPub } from "../helpers/mqtt-cli.js";
import { MqttWatch } from "../helpers/mqtt-watch.js";

// Stopping under pressure, as systemd and impatient users do it: SIGTERM twice while a write
// hangs at the charger (it takes the set but answers only after 8 s), and SIGTERM after the
// broker was killed with answers in flight. The built daemon must ignore the second signal
// (and say so), answer the write with what it knows, log "ev2mqtt stopped" and exit 0, in time.

const ROOT = "ev2mqtt";
const SERIAL = "830001";

let broker: Mosquitto;
let sim: GoeSimulator;

beforeAll(async () => {
  broker = await Mosquitto.start();
  sim = new GoeSimulator({ chargers: [{ serial: SERIAL, mode: "local" }] });
  await sim.start();
});

afterAll(async () => {
  await sim?.stop();
  await broker?.stop();
});

function startDaemon(root: string): DaemonProcess {
  return DaemonProcess.start({
    mqtt: { url: broker.url, topic: root },
    log: { level: "info" },
    goe: [{ serial: SERIAL, loadpoint: 1, url: sim.chargerUrl(SERIAL), interval: "1s" }],
  });
}

/** Publishes a write the charger takes at once but answers only after 8 s; resolves once it arrived there. */
async function hangingWrite(root: string, amp: number): Promise<void> {
  sim.fault(SERIAL, { delayMs: 8000, paths: ["set"], times: 1 });
  const arrived = new Promise<void>((resolve) => sim.once("set", () => resolve()));
  await mosquittoPub(broker.port, `${root}/loadpoints/1/maxCurrent/set`, String(amp));
  await arrived;
}

describe("stopping", () => {
  it("ignores a second SIGTERM, answers the hanging write, and exits 0 within 5 s", async () => {
    const root = `${ROOT}-twice`;
    const watch = await MqttWatch.connect(broker.url, `${root}/#`);
    const daemon = startDaemon(root);
    try {
      await watch.waitForValue(`${root}/loadpoints/1/online`, "true");
      const since = Date.now();
      await hangingWrite(root, 11);
      // a second write waits behind the hanging one: it never leaves the bridge. Usually it is
      // queued by the time the signal comes ("not sent"); on a slow machine it may arrive while
      // the bridge stops ("stopping"): either way it must say so and never reach the charger
      await mosquittoPub(broker.port, `${root}/loadpoints/1/minCurrent/set`, "7");
      await new Promise((resolve) => setTimeout(resolve, 500));
      const signalled = Date.now();
      const exited = daemon.stop("SIGTERM");
      await new Promise((resolve) => setTimeout(resolve, 200));
      await daemon.stop("SIGTERM");
      const code = await exited;
      const took = Date.now() - signalled;

      expect(code).toBe(0);
      expect(took).toBeLessThan(5500);
      const answer = JSON.parse(
        (await watch.waitForMessage(`${root}/loadpoints/1/maxCurrent/result`, since, 2000)).payload,
      );
      // the charger has the set: the answer must not claim it was never sent
      expect(sim.setCalls(SERIAL).at(-1)).toEqual({ amp: 11 });
      console.info("answer at stop:", JSON.stringify(answer));
      expect(answer.ok).toBe(false);
      expect(answer.error).toMatch(/stopped/);
      expect(answer.error).toMatch(/^sent; not confirmed/);
      const queued = JSON.parse(
        (await watch.waitForMessage(`${root}/loadpoints/1/minCurrent/result`, since, 2000)).payload,
      );
      expect(queued).toMatchObject({ ok: false, error: expect.stringMatching(/^not sent|stopping/) });
      expect(sim.setCalls(SERIAL).some((call) => "mca" in call)).toBe(false);
      const lines = daemon.logLines();
      expect(lines.filter((line) => line.msg === "stopping")).toHaveLength(1);
      expect(
        lines.some((line) => /already stopping/.test(String(line.msg)) && line.signal === "SIGTERM"),
      ).toBe(true);
      expect(lines.at(-1)?.msg).toBe("ev2mqtt stopped");
      await watch.waitForValue(`${root}/status`, "offline", 2000);
    } finally {
      await daemon.stop();
      await watch.close();
    }
  });

  it("still says it stopped, and exits 0, when the broker was killed with answers in flight", async () => {
    const root = `${ROOT}-killed`;
    const watch = await MqttWatch.connect(broker.url, `${root}/#`);
    const daemon = startDaemon(root);
    try {
      await watch.waitForValue(`${root}/loadpoints/1/online`, "true");
      await hangingWrite(root, 12);
      await watch.close();
      await broker.kill();
      const signalled = Date.now();
      expect(await daemon.stop("SIGTERM")).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(5500);
      expect(daemon.logLines().at(-1)?.msg).toBe("ev2mqtt stopped");
    } finally {
      await daemon.stop();
      await broker.restart();
    }
  });
});
