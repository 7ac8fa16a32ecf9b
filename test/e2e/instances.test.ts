import { hostname } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GoeSimulator } from "../../src/goe/simulator/server.js";
import { DaemonProcess } from "../helpers/daemon-process.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { linesToMap, mosquittoPub, mosquittoSub } from "../helpers/mqtt-cli.js";
import { MqttWatch } from "../helpers/mqtt-watch.js";
import { waitFor } from "../helpers/recording-sink.js";

// Issue 11 items 1 and 2, as the user met them: the service running plus a manual run with
// the same configuration on one broker, and the values of a charger that was removed from the
// configuration (or of the demo) left retained next to the real one's.

const ROOT = "ev2mqtt";
const SERIAL = "710001";

let broker: Mosquitto;
let sim: GoeSimulator;
let watch: MqttWatch;

beforeAll(async () => {
  broker = await Mosquitto.start();
  sim = new GoeSimulator({ chargers: [{ serial: SERIAL, mode: "local" }] });
  await sim.start();
  watch = await MqttWatch.connect(broker.url, `${ROOT}/#`);
});

afterAll(async () => {
  await watch?.close();
  await sim?.stop();
  await broker?.stop();
});

function config() {
  return {
    mqtt: { url: broker.url, topic: ROOT },
    goe: [{ serial: SERIAL, loadpoint: 1, url: sim.chargerUrl(SERIAL), interval: "1s" }],
  };
}

async function running(daemon: DaemonProcess): Promise<void> {
  await waitFor(
    () => daemon.text.includes('"msg":"ev2mqtt running"') || daemon.exitCode !== null,
    20_000,
    "ev2mqtt running",
  );
  expect(daemon.exitCode, daemon.text).toBeNull();
}

describe("one instance per root", () => {
  it("erases only the retained values of devices no longer configured, and refuses a second instance by name", async () => {
    // left over: a removed charger, a removed car, and something else's topic under the root
    await mosquittoPub(broker.port, `${ROOT}/loadpoints/2/chargePower`, "1500", ["-r"]);
    await mosquittoPub(broker.port, `${ROOT}/vehicles/oldcar/soc`, "50", ["-r"]);
    await mosquittoPub(broker.port, `${ROOT}/notes/owner`, "keep me", ["-r"]);

    const first = DaemonProcess.start(config());
    try {
      await running(first);
      await watch.waitForValue(`${ROOT}/loadpoints/1/online`, "true");
      await waitFor(async () => {
        const retained = linesToMap(
          await mosquittoSub(broker.port, `${ROOT}/#`, { seconds: 1, retainedOnly: true }),
        );
        return !retained.has(`${ROOT}/loadpoints/2/chargePower`) && retained;
      }, 10_000);
      const retained = linesToMap(
        await mosquittoSub(broker.port, `${ROOT}/#`, { seconds: 1, retainedOnly: true }),
      );
      expect(retained.has(`${ROOT}/vehicles/oldcar/soc`)).toBe(false);
      expect(retained.get(`${ROOT}/notes/owner`)).toBe("keep me");
      expect(retained.get(`${ROOT}/loadpoints/1/online`)).toBe("true");

      // a stable client id per host and root, named in bridge/info
      const info = JSON.parse(retained.get(`${ROOT}/bridge/info`) ?? "{}") as {
        instance?: { host: string; pid: number; clientId: string };
      };
      expect(info.instance?.clientId).toBe(`ev2mqtt-${hostname().replace(/[^A-Za-z0-9_-]+/g, "_")}-${ROOT}`);

      // the manual run to debug, with the same file: refused, naming the running one
      const before = Date.now();
      const second = await DaemonProcess.run(["--config", first.configFile]);
      expect(second.code).toBe(75);
      expect(second.output).toContain("another ev2mqtt instance is live on the root topic ev2mqtt/");
      expect(second.output).toContain(`pid ${info.instance?.pid}`);
      expect(second.output).toContain("--takeover");
      // and it never connected under the shared id: the first one was not thrown off
      expect(first.exitCode).toBeNull();
      expect(first.text).not.toContain("MQTT connection lost");
      expect(watch.countSince(before, (m) => m.topic === `${ROOT}/status`)).toBe(0);
      expect(watch.value(`${ROOT}/status`)).toBe("online");
    } finally {
      await first.stop();
    }
  });

  it("--takeover replaces the running instance, which stops instead of fighting over the root", async () => {
    const first = DaemonProcess.start(config());
    let second: DaemonProcess | undefined;
    try {
      await running(first);
      second = DaemonProcess.start(config(), {}, ["--takeover"]);
      await running(second);
      const code = await first.wait();
      expect(code).toBe(75);
      expect(first.text).toContain("another instance took over this root");
      await watch.waitForValue(`${ROOT}/bridge/info`, (payload) => payload.includes(`"pid":`));
      const since = Date.now();
      await watch.waitForMessage(`${ROOT}/updated`, since);
      expect(watch.value(`${ROOT}/status`)).toBe("online");
      expect(second.exitCode).toBeNull();
    } finally {
      await first.stop();
      await second?.stop();
    }
  });

  it("the demo pointed at the user's broker stays on its own root and client id", async () => {
    const real = DaemonProcess.start(config());
    let demo: DaemonProcess | undefined;
    try {
      await running(real);
      demo = DaemonProcess.start({ mqtt: { url: broker.url, topic: ROOT } }, {}, ["--demo"]);
      await running(demo);
      const demoWatch = await MqttWatch.connect(broker.url, "ev2mqtt-demo/#");
      try {
        await demoWatch.waitForValue("ev2mqtt-demo/loadpoints/1/online", "true");
      } finally {
        await demoWatch.close();
      }
      // the real bridge kept its connection and its charger; no demo value came under its root
      expect(real.text).not.toContain("MQTT connection lost");
      expect(watch.value(`${ROOT}/status`)).toBe("online");
      expect(watch.value(`${ROOT}/loadpoints/2/online`)).toBeUndefined();
      expect(watch.value(`${ROOT}/loadpoints/1/title`)).not.toBe("Garage");
    } finally {
      await demo?.stop();
      await real.stop();
    }
  });
});
