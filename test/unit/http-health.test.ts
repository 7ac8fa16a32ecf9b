import { request } from "node:http";
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { Daemon } from "../../src/daemon.js";
import { GoeSimulator } from "../../src/goe/simulator/server.js";
import { parseListen } from "../../src/http/health-server.js";
import { silentLogger } from "../../src/util/log.js";
import { freePort } from "../helpers/ports.js";
import { waitFor } from "../helpers/recording-sink.js";

const TOKEN = "hT9vQ2xL7mN4pR8sK1wZ3yB6cD0eF5gJ";
const MQTT_PASSWORD = "mqtt-pass-4f7a9c2e";

interface Reply {
  status: number;
  type: string;
  text: string;
}

function get(port: number, path: string, method = "GET"): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        text += chunk;
      });
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), text }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

/** The value of one sample line of a Prometheus text body, e.g. `ev2mqtt_polls_total{device="x"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

async function setUp(options: { brokerless?: boolean } = {}) {
  const sim = new GoeSimulator({
    chargers: [
      { serial: "100001", mode: "local" },
      { serial: "100002", token: TOKEN },
    ],
  });
  await sim.start();
  cleanup.push(() => sim.stop());
  const httpPort = await freePort();
  const mqttPort = await freePort();
  const config = parseConfig({
    mqtt: options.brokerless
      ? { url: `mqtt://127.0.0.1:${mqttPort}`, password: MQTT_PASSWORD, username: "bridge" }
      : { listen: `127.0.0.1:${mqttPort}` },
    log: { level: "silent" },
    http: { listen: `127.0.0.1:${httpPort}` },
    goe: [
      { serial: "100001", loadpoint: 1, url: sim.chargerUrl("100001"), interval: "1s", timeout: "1s" },
      {
        serial: "100002",
        loadpoint: 2,
        token: TOKEN,
        url: sim.chargerUrl("100002"),
        interval: "1s",
        timeout: "1s",
      },
    ],
  });
  const daemon = new Daemon(config, silentLogger());
  await daemon.start();
  cleanup.push(() => daemon.stop());
  return { sim, daemon, httpPort };
}

describe("health and metrics endpoint", () => {
  it("parses host:port and [v6]:port", () => {
    expect(parseListen("127.0.0.1:9640")).toEqual({ host: "127.0.0.1", port: 9640 });
    expect(parseListen("[::1]:9640")).toEqual({ host: "::1", port: 9640 });
  });

  it("answers /healthz with the broker, the loop and every device, and 503 once a device fails only in its entry", async () => {
    const { sim, httpPort } = await setUp();
    const healthy = await waitFor(async () => {
      const reply = await get(httpPort, "/healthz");
      const body = JSON.parse(reply.text) as {
        status: string;
        mqtt: { connected: boolean };
        devices: Record<string, { online: boolean; error: string }>;
      };
      return reply.status === 200 &&
        body.devices["loadpoints/1"]?.online === true &&
        body.devices["loadpoints/2"]?.online === true
        ? { reply, body }
        : undefined;
    }, 10_000);
    expect(healthy.reply.type).toBe("application/json");
    expect(healthy.body).toMatchObject({
      status: "ok",
      mqtt: { connected: true },
      devices: { "loadpoints/1": { online: true, error: "" }, "loadpoints/2": { online: true, error: "" } },
    });

    // a failing upstream is the device's problem, not the bridge's: still 200
    sim.fault("100002", { status: 401 });
    const failing = await waitFor(async () => {
      const body = JSON.parse((await get(httpPort, "/healthz")).text) as {
        devices: Record<string, { online: boolean; error: string }>;
      };
      return body.devices["loadpoints/2"]?.online === false ? body : undefined;
    }, 10_000);
    expect(failing.devices["loadpoints/2"]?.error).toMatch(/401/);
    expect((await get(httpPort, "/healthz")).status).toBe(200);
    expect(JSON.stringify(failing)).not.toContain(TOKEN);

    // a stalled event loop is unhealthy
    const until = performance.now() + 2800;
    while (performance.now() < until) {
      // busy: nothing else runs
    }
    const stalled = await get(httpPort, "/healthz");
    expect(stalled.status).toBe(503);
    expect(JSON.parse(stalled.text)).toMatchObject({ status: "unhealthy", mqtt: { connected: true } });
    await waitFor(async () => (await get(httpPort, "/healthz")).status === 200, 5000);
  });

  it("is 503 while the broker is unreachable", async () => {
    const { httpPort } = await setUp({ brokerless: true });
    const reply = await get(httpPort, "/healthz");
    expect(reply.status).toBe(503);
    expect(JSON.parse(reply.text)).toMatchObject({ status: "unhealthy", mqtt: { connected: false } });
    expect(reply.text).not.toContain(MQTT_PASSWORD);
    const metrics = await get(httpPort, "/metrics");
    expect(sample(metrics.text, "ev2mqtt_mqtt_connected")).toBe(0);
    expect(metrics.text).not.toContain(MQTT_PASSWORD);
  });

  it("serves Prometheus metrics from its own registry", async () => {
    const { sim, daemon, httpPort } = await setUp();
    await waitFor(async () => {
      const text = (await get(httpPort, "/metrics")).text;
      return (sample(text, 'ev2mqtt_polls_total{device="loadpoints/2"}') ?? 0) >= 2;
    }, 10_000);
    sim.fault("100001", { status: 503, times: 1 });
    sim.fault("100002", { reset: true, times: 1 });
    await waitFor(async () => {
      const text = (await get(httpPort, "/metrics")).text;
      return text.includes('kind="server"') && text.includes('kind="network"');
    }, 10_000);

    const reply = await get(httpPort, "/metrics");
    expect(reply.status).toBe(200);
    expect(reply.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = reply.text;
    const host = new URL(sim.url).host;
    for (const name of [
      "ev2mqtt_polls_total",
      "ev2mqtt_upstream_errors_total",
      "ev2mqtt_upstream_request_duration_seconds",
      "ev2mqtt_queue_depth",
      "ev2mqtt_queue_wait_seconds",
      "ev2mqtt_mqtt_messages_published_total",
      "ev2mqtt_mqtt_messages_received_total",
      "ev2mqtt_writes_total",
      "ev2mqtt_device_online",
      "process_resident_memory_bytes",
      "process_cpu_seconds_total",
      "nodejs_eventloop_lag_seconds",
    ]) {
      expect(text, name).toContain(`# TYPE ${name} `);
    }
    expect(
      sample(text, `ev2mqtt_upstream_errors_total{host="${host}",kind="server"}`),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, `ev2mqtt_upstream_errors_total{host="${host}",kind="network"}`),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, `ev2mqtt_upstream_request_duration_seconds_count{host="${host}"}`),
    ).toBeGreaterThanOrEqual(4);
    expect(text).toMatch(/ev2mqtt_queue_depth\{queue="goe:100001"\} \d/);
    expect(text).toMatch(/ev2mqtt_queue_wait_seconds\{queue="goe:100002"\} [\d.e-]+/);
    expect(sample(text, "ev2mqtt_mqtt_messages_published_total")).toBeGreaterThan(10);
    expect(sample(text, 'ev2mqtt_device_online{device="loadpoints/1"}')).toBeDefined();
    expect(sample(text, 'ev2mqtt_writes_total{result="ok"}')).toBe(0);
    expect(text).not.toContain(TOKEN);

    // a write, refused and done, shows up with its result and the message that carried it
    const { default: mqtt } = await import("mqtt");
    const client = await mqtt.connectAsync(daemon.brokerUrl());
    cleanup.push(() => client.endAsync());
    await client.publishAsync("ev2mqtt/loadpoints/1/maxCurrent/set", "99", { qos: 1 });
    await client.publishAsync("ev2mqtt/loadpoints/1/maxCurrent/set", "10", { qos: 1 });
    await waitFor(async () => {
      const body = (await get(httpPort, "/metrics")).text;
      return (
        sample(body, 'ev2mqtt_writes_total{result="ok"}') === 1 &&
        sample(body, 'ev2mqtt_writes_total{result="refused"}') === 1 &&
        (sample(body, "ev2mqtt_mqtt_messages_received_total") ?? 0) >= 2
      );
    }, 10_000);
  });

  it("rejects other methods and paths, and closes its sockets on stop", async () => {
    const { daemon, httpPort } = await setUp();
    expect((await get(httpPort, "/nothing")).status).toBe(404);
    expect((await get(httpPort, "/healthz", "POST")).status).toBe(405);
    const head = await get(httpPort, "/healthz", "HEAD");
    expect(head.text).toBe("");
    // an idle client connection must not hold the stop up
    const idle = connect(httpPort, "127.0.0.1");
    await new Promise((resolve) => idle.once("connect", resolve));
    const closed = new Promise((resolve) => idle.once("close", resolve));
    const started = performance.now();
    await daemon.stop();
    expect(performance.now() - started).toBeLessThan(3000);
    await closed;
    cleanup.pop();
    await expect(get(httpPort, "/healthz")).rejects.toThrow(/ECONNREFUSED/);
  });
});
