import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GoeSimulator } from "../../src/goe/simulator/server.js";
import { OvmsSimulator } from "../../src/ovms/index.js";
import { DaemonProcess } from "../helpers/daemon-process.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { MqttWatch } from "../helpers/mqtt-watch.js";
import { waitFor } from "../helpers/recording-sink.js";

// Upstreams that answer with a body far larger than any real answer (20 MB where a go-e status
// is 10 KB): the built daemon aborts the read at its per-upstream limit, marks the device
// offline with an error that says so, keeps running, and recovers once the answers are normal
// again. The daemon's RSS is printed for information (no assertion on it: memory is measured
// by `npm run bench`).

const ROOT = "ev2mqtt";
const SERIAL = "820001";
const HUGE = `{"pad":"${"x".repeat(20 * 1024 * 1024)}"}`;

let broker: Mosquitto;
let goe: GoeSimulator;
let ovms: OvmsSimulator;
let ovmsUrls: { restUrl: string; commandsUrl: string };

beforeAll(async () => {
  broker = await Mosquitto.start();
  goe = new GoeSimulator({ chargers: [{ serial: SERIAL, mode: "local" }] });
  await goe.start();
  ovms = new OvmsSimulator({ username: "u", password: "ovms-pass", vehicles: [{ id: "DEMO" }] });
  ovmsUrls = await ovms.start();
});

afterAll(async () => {
  await ovms?.stop();
  await goe?.stop();
  await broker?.stop();
});

function rssMb(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

describe("oversized upstream answers", () => {
  it("are aborted at the limit and reported as the device's error; the daemon recovers", async () => {
    const watch = await MqttWatch.connect(broker.url, `${ROOT}/#`);
    const daemon = DaemonProcess.start({
      mqtt: { url: broker.url, topic: ROOT },
      log: { level: "warn" },
      goe: [{ serial: SERIAL, loadpoint: 1, url: goe.chargerUrl(SERIAL), interval: "1s" }],
      ovms: [
        {
          url: ovmsUrls.restUrl,
          username: "u",
          password: "ovms-pass",
          interval: "5s",
          vehicles: [{ id: "DEMO", name: "car" }],
        },
      ],
    });
    try {
      await watch.waitForValue(`${ROOT}/loadpoints/1/online`, "true");
      await watch.waitForValue(`${ROOT}/vehicles/car/online`, "true");
      const before = rssMb(daemon.pid);

      goe.fault(SERIAL, { body: HUGE, paths: ["status"], times: 1 });
      ovms.fault({ status: 200, body: HUGE, times: 1 });
      const goeError = await watch.waitForValue(`${ROOT}/loadpoints/1/error`, (e) => /too large/.test(e));
      expect(goeError).toMatch(/answer too large .*at most 1 MB.*aborted/);
      expect(watch.value(`${ROOT}/loadpoints/1/online`)).toBe("false");
      const ovmsError = await watch.waitForValue(
        `${ROOT}/vehicles/car/error`,
        (e) => /too large/.test(e),
        20_000,
      );
      expect(ovmsError).toMatch(/at most 2 MB/);
      const during = rssMb(daemon.pid);

      // the fault runs out: the charger comes back by itself, and the daemon never stopped
      await watch.waitForValue(`${ROOT}/loadpoints/1/online`, "true", 20_000);
      await waitFor(() => watch.value(`${ROOT}/loadpoints/1/error`) === "" || undefined, 5000, "no error");
      expect(daemon.exitCode).toBeNull();
      expect(watch.value(`${ROOT}/status`)).toBe("online");
      console.info(
        `daemon RSS: ${before} MB before, ${during} MB with 20 MB answers, ${rssMb(daemon.pid)} MB after`,
      );
    } finally {
      await daemon.stop();
      await watch.close();
    }
    expect(daemon.exitCode).toBe(0);
  }, 60_000);
});
