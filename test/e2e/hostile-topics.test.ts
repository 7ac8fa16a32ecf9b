import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClimkitSimulator, defaultSite, hostileSite } from "../../src/climkit/simulator/server.js";
import { DaemonProcess } from "../helpers/daemon-process.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { MqttWatch } from "../helpers/mqtt-watch.js";
import { waitFor } from "../helpers/recording-sink.js";

// A Climkit site whose meter and sensor ids are not valid MQTT topic levels (`meter#1`,
// `$flat/2`, `temp+out`: the service allows them). Published as they are, `#` and `+` make
// mosquitto drop the bridge for a protocol error, after every reconnect. The built daemon on a
// real mosquitto must stay online and publish the values under percent-encoded levels. The
// broker's ACL also refuses one kind of topic (MQTT 5 answers "not authorized"): the bridge
// logs the refused publish with its topic, and carries on.

const ROOT = "ev2mqtt";
const SITE = `${ROOT}/site`;

let broker: Mosquitto;
let climkit: ClimkitSimulator;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), "ev2mqtt-acl-"));
  const acl = join(dir, "acl");
  // mosquitto started as root reads the file as the mosquitto user
  chmodSync(dir, 0o755);
  // everyone reads everything; the bridge may write all its topics but a meter's `mode`
  const writable = [
    `${ROOT}/+`,
    `${ROOT}/+/+/set`,
    `${ROOT}/bridge/#`,
    `${SITE}/+`,
    `${SITE}/sensors/#`,
    ...["name", "type", "unit", "power", "energy", "energyToday"].map((key) => `${SITE}/meters/+/${key}`),
    "homeassistant/#",
  ];
  writeFileSync(acl, ["topic read #", ...writable.map((topic) => `topic readwrite ${topic}`), ""].join("\n"));
  broker = await Mosquitto.start(`allow_anonymous true\nacl_file ${acl}\n`);
  climkit = new ClimkitSimulator({ sites: [hostileSite()] });
  await climkit.start();
});

afterAll(async () => {
  await climkit?.stop();
  await broker?.stop();
});

describe("upstream ids that are not topic-safe", () => {
  it("keeps the bridge online, publishes under encoded levels, and logs a refused publish", async () => {
    const watch = await MqttWatch.connect(broker.url, ["#"], 5);
    const daemon = DaemonProcess.start({
      mqtt: { url: broker.url, topic: ROOT },
      log: { level: "info" },
      climkit: [{ username: "api-user", password: "api-secret", url: climkit.url, interval: "1m" }],
    });
    try {
      await watch.waitForValue(`${ROOT}/status`, "online");
      await watch.waitForValue(`${SITE}/meters/meter%231/power`, (payload) => Number(payload) >= 0, 30_000);
      await watch.waitForValue(`${SITE}/meters/%24flat%2F2/name`, "Flat +2");
      await watch.waitForValue(`${SITE}/sensors/temp%2Bout/value`, (payload) =>
        Number.isFinite(Number(payload)),
      );
      await watch.waitForValue(`${SITE}/title`, "Site #1 / + test");
      await waitFor(
        () => daemon.logLines().find((line) => line.msg === "the broker refused a publish"),
        10_000,
        "the refused publish in the log",
      );

      // never dropped by the broker, never offline
      expect(watch.messages.filter((m) => m.topic === `${ROOT}/status`).map((m) => m.payload)).toEqual([
        "online",
      ]);
      const lines = daemon.logLines();
      expect(lines.filter((line) => line.msg === "MQTT connection lost; reconnecting")).toEqual([]);
      expect(lines.filter((line) => line.msg === "MQTT connected")).toHaveLength(1);
      // the refusal names its topic
      const refused = lines.filter((line) => line.msg === "the broker refused a publish").map((l) => l.topic);
      expect(refused).toContain(`${SITE}/meters/meter%231/mode`);
      // no topic on the broker holds a raw id
      const ours = watch.messages.filter((m) => m.topic.startsWith(`${SITE}/`)).map((m) => m.topic);
      expect(ours.filter((topic) => /meters\/(meter#1|\$flat)|sensors\/temp\+out/.test(topic))).toEqual([]);
      expect(decodeURIComponent("%24flat%2F2")).toBe("$flat/2");
      // the discovery of Home Assistant reaches the same topics
      const configs = watch.messages.filter((m) => m.topic.startsWith("homeassistant/") && m.payload !== "");
      expect(configs.some((m) => m.payload.includes(`${SITE}/meters/meter%231/power`))).toBe(true);
    } finally {
      await daemon.stop();
      await watch.close();
    }
    expect(daemon.exitCode).toBe(0);
  });

  // a broker that disconnects a client for any packet over 8 KB, and a site whose name is 10 KB:
  // with MQTT 5 the broker announces its limit and the bridge never sends what is over it; with
  // MQTT 3.1.1 it learns it from being dropped, and gives up on the publish after 3 tries
  for (const protocolVersion of [5, 4] as const) {
    it(`drops a publish that is too large for the broker, names it, and stays online (MQTT ${protocolVersion === 5 ? "5" : "3.1.1"})`, async () => {
      const strict = await Mosquitto.start("allow_anonymous true\nmax_packet_size 8192\n");
      const site = { ...defaultSite(), name: `Huge ${"n".repeat(10_000)}`, meters: [], sensors: [] };
      const huge = new ClimkitSimulator({ sites: [site] });
      await huge.start();
      const watch = await MqttWatch.connect(strict.url, [`${ROOT}/#`]);
      const daemon = DaemonProcess.start({
        mqtt: { url: strict.url, topic: ROOT, protocolVersion },
        log: { level: "info" },
        homeassistant: { discovery: false },
        climkit: [{ username: "api-user", password: "api-secret", url: huge.url, interval: "1m" }],
      });
      try {
        await waitFor(
          () => daemon.logLines().find((line) => line.topic === `${SITE}/title` && Number(line.level) >= 50),
          30_000,
          "the dropped publish in the log",
        );
        // the rest of the site is there, and the bridge stays online from then on
        await watch
          .waitForValue(`${SITE}/pvPower`, (payload) => Number(payload) >= 0, 30_000)
          .catch((e) => {
            console.log(
              daemon
                .logLines()
                .map((l) => JSON.stringify(l).slice(0, 300))
                .join("\n"),
            );
            throw e;
          });
        await watch.waitForValue(`${ROOT}/status`, "online");
        const connects = () => daemon.logLines().filter((line) => line.msg === "MQTT connected").length;
        const before = connects();
        await new Promise((resolve) => setTimeout(resolve, 2000));
        expect(connects()).toBe(before);
        if (protocolVersion === 5) expect(before).toBe(1);
        expect(watch.value(`${SITE}/title`)).toBeUndefined();
        // only the two messages that hold the 10 KB name (the site's title, bridge/info) are dropped
        const dropped = new Set(
          daemon
            .logLines()
            .filter((l) => Number(l.level) >= 50)
            .map((l) => l.topic),
        );
        expect(dropped).toEqual(new Set([`${SITE}/title`, `${ROOT}/bridge/info`]));
      } finally {
        await daemon.stop();
        await watch.close();
        await huge.stop();
        await strict.stop();
      }
    }, 60_000);
  }
});
