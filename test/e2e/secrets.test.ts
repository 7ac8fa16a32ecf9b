import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DaemonProcess } from "../helpers/daemon-process.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { MqttWatch } from "../helpers/mqtt-watch.js";
import { freePort } from "../helpers/ports.js";
import { waitFor } from "../helpers/recording-sink.js";
import { startUpstreams, type Upstreams } from "../helpers/upstreams.js";

// The built daemon at log level trace, with every kind of configured secret (a go-e cloud
// token, a wrong one, Climkit passwords right and wrong, the MQTT password checked by a real
// mosquitto with a password file), through successes, failures and writes. No secret, nor a
// session token the bridge obtained, may appear in any log line, any topic or payload (all of
// `#`), the health and metrics bodies, or the output of --check.

const ROOT = "ev2mqtt";
const SECRETS = {
  goeToken: "Gq7TokenZx4Lm2Vb9Nc1Rt6Yw3Pd8Kf5",
  goeWrongToken: "WrongGoeTok3nHj7Kd2Ms9Qa4Xe6Vb1",
  mqttPassword: "Mq-p4ss/w0rd+with&odd=chars",
  climkitPassword: "Cl1mk1t-S3cret!pw",
  climkitWrongPassword: "N0t-the-Climkit-pw#",
  ovmsPassword: "0vms-S3cret&pass",
  ovmsPin: "48213579",
};
const WATCHER = { username: "watcher", password: "watcher-pass-0" };

/** mosquitto with a password file: the bridge's MQTT password is really checked. */
async function startAuthMosquitto(users: Array<{ username: string; password: string }>): Promise<Mosquitto> {
  const dir = mkdtempSync(join(tmpdir(), "ev2mqtt-secrets-"));
  const passwords = join(dir, "passwords");
  writeFileSync(passwords, "");
  // mosquitto started as root reads the file as the mosquitto user, after dropping privileges
  chmodSync(dir, 0o755);
  for (const user of users) execFileSync("mosquitto_passwd", ["-b", passwords, user.username, user.password]);
  return Mosquitto.start(`allow_anonymous false\npassword_file ${passwords}\n`);
}

let broker: Mosquitto;
let upstreams: Upstreams;
let httpPort: number;

beforeAll(async () => {
  broker = await startAuthMosquitto([{ username: "bridge", password: SECRETS.mqttPassword }, WATCHER]);
  upstreams = await startUpstreams({
    goe: {
      chargers: [
        { serial: "900001", token: SECRETS.goeToken, carConnected: true },
        { serial: "900002", token: "the-token-the-charger-really-has" },
      ],
    },
    climkitPassword: SECRETS.climkitPassword,
    ovmsPassword: SECRETS.ovmsPassword,
  });
  httpPort = await freePort();
});

afterAll(async () => {
  await upstreams?.stop();
  await broker?.stop();
});

/** Every form a secret can take in a text: as is, URL-encoded, JSON-escaped, in Basic auth. */
function forms(secret: string): string[] {
  return [
    secret,
    encodeURIComponent(secret),
    JSON.stringify(secret).slice(1, -1),
    Buffer.from(secret).toString("base64"),
    Buffer.from(`bridge:${secret}`).toString("base64"),
  ];
}

function leaks(where: string, text: string, secrets: string[]): string[] {
  const found: string[] = [];
  for (const secret of secrets) {
    for (const form of forms(secret)) {
      if (form.length >= 6 && text.includes(form)) found.push(`${where}: contains ${JSON.stringify(form)}`);
    }
  }
  return found;
}

describe("secrets", () => {
  it("never appear in logs, topics, payloads, health or metrics", async () => {
    const config = {
      mqtt: { url: broker.url, topic: ROOT, username: "bridge", password: "${MQTT_PASSWORD}" },
      log: { level: "trace" },
      http: { listen: `127.0.0.1:${httpPort}` },
      goe: [
        {
          serial: "900001",
          loadpoint: 1,
          token: "${GOE_TOKEN}",
          url: upstreams.goe.chargerUrl("900001"),
          interval: "1s",
          // the name comes back on the title topic: a secret in it is scrubbed there
          writableKeys: ["fna"],
        },
        {
          serial: "900002",
          loadpoint: 2,
          token: SECRETS.goeWrongToken,
          url: upstreams.goe.chargerUrl("900002"),
          interval: "1s",
        },
      ],
      climkit: [
        { username: "api-user", password: "${CLIMKIT_PASSWORD}", url: upstreams.climkit.url },
        { username: "other-user", password: SECRETS.climkitWrongPassword, url: upstreams.climkit.url },
      ],
      ovms: [
        {
          url: upstreams.ovmsUrls.restUrl,
          username: "ovms-user",
          password: "${OVMS_PASSWORD}",
          commands: upstreams.ovmsUrls.commandsUrl,
          vehicles: [{ id: "DEMO", name: "car", pin: SECRETS.ovmsPin }],
        },
      ],
    };
    const env = {
      MQTT_PASSWORD: SECRETS.mqttPassword,
      GOE_TOKEN: SECRETS.goeToken,
      CLIMKIT_PASSWORD: SECRETS.climkitPassword,
      OVMS_PASSWORD: SECRETS.ovmsPassword,
    };
    const watch = await MqttWatch.connect(
      `mqtt://${WATCHER.username}:${WATCHER.password}@127.0.0.1:${broker.port}`,
      "#",
    );
    const daemon = DaemonProcess.start(config, env);
    try {
      await watch.waitForValue(`${ROOT}/status`, "online");
      await watch.waitForValue(`${ROOT}/loadpoints/1/online`, "true");
      await watch.waitForValue(`${ROOT}/loadpoints/2/error`, (error) => /401/.test(error));
      await waitFor(() => upstreams.climkit.issuedTokens().length > 0, 15_000, "a Climkit login");
      await waitFor(
        () => upstreams.climkit.requests.some((r) => r.path.includes("site_data")),
        15_000,
        "Climkit data",
      );
      await watch.waitForValue(`${ROOT}/vehicles/car/online`, "true");

      // failures that carry upstream bodies and URLs into errors
      upstreams.goe.fault("900001", { status: 500, times: 1 });
      await watch.waitForValue(`${ROOT}/loadpoints/1/online`, "false");
      await watch.waitForValue(`${ROOT}/loadpoints/1/online`, "true");
      // writes, one of them carrying a secret in its payload (answers echo payloads)
      const client = watch.mqtt;
      client.publish(`${ROOT}/loadpoints/1/maxCurrent/set`, "12", { qos: 1 });
      await watch.waitForValue(`${ROOT}/loadpoints/1/maxCurrent`, "12");
      client.publish(`${ROOT}/loadpoints/1/maxCurrent/set`, SECRETS.goeToken, { qos: 1 });
      client.publish(`${ROOT}/loadpoints/1/goe/cak/set`, JSON.stringify(SECRETS.goeToken), { qos: 1 });
      client.publish(`${ROOT}/loadpoints/1/goe/fna/set`, `name ${SECRETS.mqttPassword}`, { qos: 1 });
      // OVMS commands go over the v2 protocol, which logs in with the password
      client.publish(`${ROOT}/vehicles/car/chargeCurrent/set`, "13", { qos: 1 });
      client.publish(`${ROOT}/vehicles/car/locked/set`, "true", { qos: 1 });
      await waitFor(
        () => watch.messages.filter((m) => m.topic.endsWith("/result")).length >= 6,
        10_000,
        "the answers",
      );
      const healthz = await (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).text();
      const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      const check = await DaemonProcess.run(["--check", "--config", daemon.configFile], env);
      expect(check.code).toBe(0);
      expect(await daemon.stop()).toBe(0);

      // the cak write never reached the charger: its token is still the configured one
      expect(upstreams.goe.token("900001")).toBe(SECRETS.goeToken);
      const secrets = [...Object.values(SECRETS), ...upstreams.climkit.issuedTokens()];
      // the writes this test published are its own input; the bridge only ever clears /set topics
      const ours = watch.messages.filter((m) => m.topic.endsWith("/set"));
      expect(ours.filter((m) => m.payload !== "").length).toBe(6);
      const topics = watch.messages
        .filter((m) => !m.topic.endsWith("/set"))
        .map((m) => `${m.topic} ${m.payload}`)
        .join("\n");
      const found = [
        ...leaks("log", daemon.text, secrets),
        ...leaks("mqtt", topics, secrets),
        ...leaks("healthz", healthz, secrets),
        ...leaks("metrics", metrics, secrets),
        ...leaks("--check", check.output, secrets),
      ];
      expect(found).toEqual([]);
      // and the run did go through everything the check relies on
      expect(daemon.logLines().some((line) => Number(line.level) <= 20)).toBe(true);
      expect(
        watch.messages.some((m) => m.topic.startsWith("homeassistant/") || m.topic.startsWith(ROOT)),
      ).toBe(true);
      expect(topics).toContain("***");
      expect(daemon.text).toMatch(/login refused/);
      expect(upstreams.ovms.commandLog.some((line) => line.startsWith("C15"))).toBe(true);
      expect(daemon.text).toMatch(/401/);
    } finally {
      await daemon.stop();
      await watch.close();
    }
  });

  it("does not put the MQTT password into the URL it logs when the password is in the URL", async () => {
    const daemon = DaemonProcess.start({
      mqtt: {
        url: `mqtt://bridge:${encodeURIComponent(SECRETS.mqttPassword)}@127.0.0.1:${broker.port}`,
        topic: ROOT,
      },
      log: { level: "trace" },
      // a configuration needs a device; this one is never reached
      goe: [{ serial: "000001", loadpoint: 1, url: "http://127.0.0.1:9" }],
    });
    try {
      const client = await mqtt.connectAsync(broker.url, WATCHER);
      await client.subscribeAsync(`${ROOT}/status`);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await client.endAsync();
      expect(await daemon.stop()).toBe(0);
      expect(leaks("log", daemon.text, [SECRETS.mqttPassword])).toEqual([]);
    } finally {
      await daemon.stop();
    }
  });
});
