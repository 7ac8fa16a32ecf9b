import { execFile } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GoeSimulator } from "../../src/goe/simulator/server.js";
import { DaemonProcess } from "../helpers/daemon-process.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { mosquittoPub, mosquittoSub } from "../helpers/mqtt-cli.js";
import { MqttWatch } from "../helpers/mqtt-watch.js";
import { waitFor } from "../helpers/recording-sink.js";

// Issue 11 item 13: runtime control as Zigbee2MQTT users know it, through mosquitto_pub and
// mosquitto_sub against the built daemon on a real mosquitto.

const ROOT = "ev2mqtt";
const SERIAL = "720001";

let broker: Mosquitto;
let sim: GoeSimulator;
let watch: MqttWatch;
let daemon: DaemonProcess;

beforeAll(async () => {
  broker = await Mosquitto.start();
  sim = new GoeSimulator({ chargers: [{ serial: SERIAL, mode: "local" }] });
  await sim.start();
  watch = await MqttWatch.connect(broker.url, `${ROOT}/#`);
  daemon = DaemonProcess.start(
    {
      mqtt: { url: broker.url, topic: ROOT },
      // polled rarely, so a poll on request is visible on the simulator
      goe: [{ serial: SERIAL, loadpoint: 1, url: sim.chargerUrl(SERIAL), interval: "1h" }],
    },
    { EV2MQTT_LOG_LEVEL: "warn" },
  );
  await watch.waitForValue(`${ROOT}/loadpoints/1/online`, "true", 20_000);
});

afterAll(async () => {
  await daemon?.stop();
  await watch?.close();
  await sim?.stop();
  await broker?.stop();
});

/** Publishes a request with mosquitto_pub and returns the JSON answer on bridge/response. */
async function request(what: string, payload: string): Promise<Record<string, unknown>> {
  // the answer is the first message on the response topic after this request went out
  // (counted, not timed: two answers can arrive within one millisecond)
  const seen = watch.messages.length;
  await mosquittoPub(broker.port, `${ROOT}/bridge/request/${what}`, payload);
  const answer = await waitFor(
    () => watch.messages.slice(seen).find((message) => message.topic === `${ROOT}/bridge/response/${what}`),
    10_000,
    `an answer to ${what}`,
  );
  return JSON.parse(answer.payload) as Record<string, unknown>;
}

describe("bridge requests", () => {
  it("takes an empty payload for no request (what clearing a retained one looks like), {} for one", async () => {
    const seen = watch.messages.length;
    await mosquittoPub(broker.port, `${ROOT}/bridge/request/info`, "");
    // answered in order: an answer to the empty one would come before this one's
    expect(await request("info", "{}")).toMatchObject({ status: "ok" });
    const answers = watch.messages.slice(seen).filter((m) => m.topic === `${ROOT}/bridge/response/info`);
    expect(answers).toHaveLength(1);
  });

  it("info and health_check answer with the transaction echoed; bridge/health is retained", async () => {
    const info = await request("info", '{"transaction":"t-1"}');
    expect(info).toMatchObject({
      status: "ok",
      transaction: "t-1",
      data: { topic: ROOT, log_level: "warn" },
    });
    const health = await request("health_check", '{"transaction":2}');
    expect(health).toMatchObject({
      status: "ok",
      transaction: 2,
      data: {
        healthy: true,
        devices: { "loadpoints/1": { online: true, error: "" } },
        counts: { online: 1 },
      },
    });
    // retained, so a dashboard that subscribes later sees it at once
    await watch.waitForValue(`${ROOT}/bridge/health`, (payload) => payload.includes('"online":1'));
    const retained = await mosquittoSub(broker.port, `${ROOT}/bridge/health`, {
      seconds: 2,
      count: 1,
      retainedOnly: true,
    });
    expect(JSON.parse(retained[0]!.slice(retained[0]!.indexOf(" ") + 1))).toMatchObject({
      healthy: true,
      counts: { devices: 1, online: 1, offline: 0 },
    });
  });

  it("log_level changes the level at once (from EV2MQTT_LOG_LEVEL=warn to debug) and shows in bridge/info", async () => {
    // at warn, the requests above left no info line
    expect(daemon.logLines().filter((line) => Number(line.level) < 40)).toEqual([]);
    const answer = await request("log_level", "debug");
    expect(answer).toEqual({ status: "ok", data: { value: "debug" } });
    await watch.waitForValue(`${ROOT}/bridge/info`, (payload) => payload.includes('"log_level":"debug"'));
    expect(daemon.logLines().some((line) => line.msg === "log level changed" && line.level === 30)).toBe(
      true,
    );
    const refused = await request("log_level", '{"value":"loud","transaction":3}');
    expect(refused).toMatchObject({ status: "error", transaction: 3 });
    expect(String(refused.error)).toContain(
      'log_level must be one of fatal, error, warn, info, debug, trace, silent (got "lou…" (4 characters))',
    );
    const lines = daemon.logLines().length;
    await request("log_level", "warn");
    await request("info", "{}");
    // the change itself is logged at info before it takes effect; nothing after it
    expect(
      daemon
        .logLines()
        .slice(lines)
        .filter((line) => line.msg === "bridge request" && line.request === "info"),
    ).toEqual([]);
  });

  it("poll polls one device now; unknown devices and requests are refused with what exists", async () => {
    const before = sim.requests(SERIAL).length;
    const answer = await request("poll", '{"device":"loadpoints/1","transaction":"p"}');
    expect(answer).toEqual({
      status: "ok",
      transaction: "p",
      data: { device: "loadpoints/1", online: true, error: "" },
    });
    expect(sim.requests(SERIAL).length).toBeGreaterThan(before);
    const unknown = await request("poll", "loadpoints/9");
    expect(unknown).toMatchObject({
      status: "error",
      error: 'no device "loa…" (12 characters) (devices: loadpoints/1)',
    });
    const nonsense = await request("frobnicate", "{}");
    expect(String(nonsense.error)).toContain(
      "unknown request (known: info, health_check, log_level, poll, restart)",
    );
  });

  it("answers on an MQTT 5 response topic, but never onto a /set or state topic", async () => {
    const replies = await MqttWatch.connect(broker.url, ["reply/#", `${ROOT}/loadpoints/1/mode/set`], 5);
    try {
      const publish = (responseTopic: string) =>
        new Promise<void>((resolve, reject) =>
          execFile(
            "mosquitto_pub",
            [
              "-p",
              String(broker.port),
              "-V",
              "mqttv5",
              "-t",
              `${ROOT}/bridge/request/info`,
              "-m",
              "{}",
              "-q",
              "1",
              "-D",
              "publish",
              "response-topic",
              responseTopic,
              "-D",
              "publish",
              "correlation-data",
              "c-42",
            ],
            (error) => (error ? reject(error) : resolve()),
          ),
        );
      await publish("reply/me");
      const reply = await replies.waitForMessage("reply/me", 0);
      expect(JSON.parse(reply.payload)).toMatchObject({ status: "ok", data: { topic: ROOT } });
      const since = Date.now();
      await publish(`${ROOT}/loadpoints/1/mode/set`);
      await publish(`${ROOT}/loadpoints/1/chargePower`);
      await waitFor(() => daemon.text.includes("response topic refused"), 10_000, "refusal in the log");
      expect(replies.countSince(since, (m) => m.topic === `${ROOT}/loadpoints/1/mode/set`)).toBe(0);
      expect(watch.countSince(since, (m) => m.topic === `${ROOT}/loadpoints/1/chargePower`)).toBe(0);
    } finally {
      await replies.close();
    }
  });

  it("restart stops and starts the bridge in the same process, and it comes back online", async () => {
    const pid = (
      JSON.parse(watch.value(`${ROOT}/bridge/info`) ?? "{}") as {
        instance?: { pid?: number; since?: string };
      }
    ).instance;
    // left retained by mistake (mosquitto_pub -r): acted on now, as it arrives live ...
    await mosquittoPub(broker.port, `${ROOT}/bridge/request/info`, '{"transaction":"kept"}', ["-r"]);
    const seen = watch.messages.length;
    const answer = await request("restart", '{"transaction":"r"}');
    expect(answer).toEqual({ status: "ok", transaction: "r", data: { restarting: true } });
    await watch.waitForValue(
      `${ROOT}/bridge/info`,
      (payload) => !payload.includes(`"since":"${pid?.since}"`),
    );
    await watch.waitForValue(`${ROOT}/status`, "online");
    const info = JSON.parse(watch.value(`${ROOT}/bridge/info`) ?? "{}") as { instance?: { pid?: number } };
    expect(info.instance?.pid).toBe(pid?.pid);
    expect(daemon.exitCode).toBeNull();
    await watch.waitForValue(`${ROOT}/loadpoints/1/online`, "true");
    // ... but refused and cleared when the restarted bridge finds it on the broker
    const stale = await waitFor(
      () =>
        watch.messages
          .slice(seen)
          .find((m) => m.topic === `${ROOT}/bridge/response/info` && m.payload.includes('"status":"error"')),
      10_000,
      "the stale request refused",
    );
    expect(JSON.parse(stale.payload)).toMatchObject({
      transaction: "kept",
      error: "a retained request is stale and never acted on (publish without retain)",
    });
    const retained = await mosquittoSub(broker.port, `${ROOT}/bridge/request/#`, {
      seconds: 1,
      retainedOnly: true,
    });
    expect(retained).toEqual([]);
  });

  it("Home Assistant's Log level select and Restart button work through the configs the bridge announced", async () => {
    // what HA does: read the retained discovery configs, publish to their command topics
    const ha = await MqttWatch.connect(broker.url, "homeassistant/+/+/+/config");
    const config = async (component: string, objectId: string) => {
      const payload = await ha.waitForValue(
        `homeassistant/${component}/${ROOT}/${objectId}/config`,
        (p) => p !== "",
      );
      return JSON.parse(payload) as Record<string, string>;
    };
    const select = await config("select", "bridge__log_5flevel");
    const button = await config("button", "bridge__restart");
    await ha.close();
    expect(select.state_topic).toBe(`${ROOT}/bridge/info`);

    await mosquittoPub(broker.port, select.command_topic!, "info");
    await watch.waitForValue(select.state_topic!, (payload) => JSON.parse(payload).log_level === "info");

    const since = (
      JSON.parse(watch.value(`${ROOT}/bridge/info`) ?? "{}") as { instance?: { since?: string } }
    ).instance?.since;
    const restarts = () => daemon.logLines().filter((line) => line.msg === "restarting").length;
    const restartsBefore = restarts();
    await mosquittoPub(broker.port, button.command_topic!, button.payload_press ?? "");
    await watch.waitForValue(`${ROOT}/bridge/info`, (payload) => !payload.includes(`"since":"${since}"`));
    expect(restarts()).toBe(restartsBefore + 1);
    await mosquittoPub(broker.port, select.command_topic!, "warn");
  });
});
