import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DaemonProcess } from "../helpers/daemon-process.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { MqttWatch } from "../helpers/mqtt-watch.js";
import { freePort } from "../helpers/ports.js";
import { waitFor } from "../helpers/recording-sink.js";
import { startUpstreams, type Upstreams } from "../helpers/upstreams.js";

// Cut-off secrets. Upstream error pages echo the request they got, and often cut what they
// echo: the simulators serve such pages (a go-e JSON error quoting 17 characters of the Bearer
// token, an OVMS HTML page quoting the login URL with its password, a Climkit message quoting
// 10 characters of the password). The built daemon at log level trace must not let any run
// of 6 characters of a secret reach a log line, a topic, or /healthz.

const ROOT = "ev2mqtt";
const SERIAL = "840001";
const GOE_TOKEN = "Gq7TokenZx4Lm2Vb9Nc1Rt6Y";
const OVMS_PASSWORD = "0vms-S3cret-Pass-w0rd-24";
const CLIMKIT_PASSWORD = "Cl1mk1t-S3cret!pw-2024";

let broker: Mosquitto;
let upstreams: Upstreams;
let httpPort: number;

beforeAll(async () => {
  broker = await Mosquitto.start();
  upstreams = await startUpstreams({
    goe: { chargers: [{ serial: SERIAL, token: GOE_TOKEN }] },
    climkitPassword: CLIMKIT_PASSWORD,
    ovmsPassword: OVMS_PASSWORD,
  });
  httpPort = await freePort();
});

afterAll(async () => {
  await upstreams?.stop();
  await broker?.stop();
});

/** Every run of 6 characters of a secret found in a text. */
function partialLeaks(where: string, text: string, secrets: string[]): string[] {
  const found = new Set<string>();
  for (const secret of secrets) {
    for (let i = 0; i + 6 <= secret.length; i++) {
      const run = secret.slice(i, i + 6);
      if (text.includes(run)) found.add(`${where}: ${JSON.stringify(run)} of ${secret.slice(0, 3)}…`);
    }
  }
  return [...found];
}

describe("cut-off secrets in upstream error pages", () => {
  it("never reach logs, topics or /healthz, not even in part", async () => {
    // the pages are served from the first request on: the logins meet them
    upstreams.goe.fault(SERIAL, {
      status: 500,
      body: JSON.stringify({
        error: `internal error handling GET /api/status, Authorization: Bearer ${GOE_TOKEN.slice(0, 17)}…`,
      }),
    });
    upstreams.ovms.fault({
      path: "/api/cookie",
      status: 500,
      times: 1000,
      body: `<html><head><title>Server Error</title></head><body><p>Error handling GET /api/cookie?username=ovms-user&password=${OVMS_PASSWORD.slice(0, 17)}</p></body></html>`,
    });
    upstreams.climkit.fault({
      path: "/auth",
      status: 500,
      body: JSON.stringify({ msg: `cannot log in api-user with ${CLIMKIT_PASSWORD.slice(0, 10)}…` }),
    });
    const watch = await MqttWatch.connect(broker.url, "#");
    const daemon = DaemonProcess.start(
      {
        mqtt: { url: broker.url, topic: ROOT },
        log: { level: "trace" },
        http: { listen: `127.0.0.1:${httpPort}` },
        goe: [
          {
            serial: SERIAL,
            loadpoint: 1,
            token: "${GOE_TOKEN}",
            url: upstreams.goe.chargerUrl(SERIAL),
            interval: "1s",
          },
        ],
        climkit: [{ username: "api-user", password: "${CLIMKIT_PASSWORD}", url: upstreams.climkit.url }],
        ovms: [
          {
            url: upstreams.ovmsUrls.restUrl,
            username: "ovms-user",
            password: "${OVMS_PASSWORD}",
            vehicles: [{ id: "DEMO", name: "car" }],
          },
        ],
      },
      { GOE_TOKEN, OVMS_PASSWORD, CLIMKIT_PASSWORD },
    );
    try {
      await watch.waitForValue(`${ROOT}/loadpoints/1/error`, (e) => /500/.test(e));
      await watch.waitForValue(`${ROOT}/vehicles/car/error`, (e) => /500/.test(e), 20_000);
      await waitFor(
        () =>
          [...watch.latest.keys()].some(
            (topic) => topic.endsWith("/error") && /Climkit/.test(watch.latest.get(topic) ?? ""),
          ) || undefined,
        20_000,
        "the Climkit error on a topic",
      );
      const healthz = await (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).text();
      expect(await daemon.stop()).toBe(0);

      const secrets = [GOE_TOKEN, OVMS_PASSWORD, CLIMKIT_PASSWORD];
      const topics = watch.messages.map((m) => `${m.topic} ${m.payload}`).join("\n");
      expect([
        ...partialLeaks("log", daemon.text, secrets),
        ...partialLeaks("mqtt", topics, secrets),
        ...partialLeaks("healthz", healthz, secrets),
      ]).toEqual([]);
      // the errors still say what happened
      expect(watch.value(`${ROOT}/loadpoints/1/error`)).toMatch(
        /500 \(internal error handling GET \/api\/status, Authorization: Bearer \*\*\*/,
      );
      expect(watch.value(`${ROOT}/vehicles/car/error`)).toMatch(/500 Server Error/);
      expect(healthz).toContain("***");
    } finally {
      await daemon.stop();
      await watch.close();
    }
  }, 60_000);
});
