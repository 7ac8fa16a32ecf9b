import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { DaemonProcess } from "../helpers/daemon-process.js";

// A configuration in which every field is wrong: `--check` must name every one of them with
// its path (not stop at the first), and exit 78 (EX_CONFIG).

const EVERYTHING_WRONG = {
  mqtt: {
    url: "http://broker:1883",
    listen: "nowhere",
    topic: "ev/#",
    username: 5,
    password: 7,
    clientId: "",
    protocolVersion: 3,
    ca: true,
    cert: 1,
    key: [],
    rejectUnauthorized: "yes",
    hots: "typo",
  },
  log: { level: "loud", file: "/var/log/x" },
  http: { listen: "localhost", port: 1 },
  homeassistant: { discovery: "yes", prefix: "home assistant" },
  goe: [
    {
      serial: "12",
      token: "",
      loadpoint: 0,
      title: 5,
      interval: "soon",
      timeout: "100ms",
      url: "ftp://charger",
      writableKeys: ["a-b"],
      ip: "10.0.0.2",
    },
    { serial: "000002", token: "${EV2MQTT_TEST_UNSET_VARIABLE}", loadpoint: 2.5 },
  ],
  climkit: [
    {
      username: "",
      password: "",
      sites: "all",
      interval: "30s",
      timeout: "nope",
      url: "api.climkit.io",
      site: "typo",
    },
  ],
  ovms: [
    {
      url: "ovms.example:6869",
      username: "",
      password: "",
      commands: "http://ovms.example:6870",
      interval: "1s",
      activeInterval: "2s",
      timeout: "never",
      commandTimeout: "100ms",
      rejectUnauthorized: "no",
      vehicles: [{ id: "", name: "my car", loadpoint: "one", pin: "", shell: "yes", colour: "red" }],
      vehicle: [],
    },
  ],
  extra: true,
};

const FIELDS = [
  "mqtt.url",
  "mqtt.listen",
  "mqtt.topic",
  "mqtt.username",
  "mqtt.password",
  "mqtt.clientId",
  "mqtt.protocolVersion",
  "mqtt.ca",
  "mqtt.cert",
  "mqtt.key",
  "mqtt.rejectUnauthorized",
  "mqtt.hots",
  "log.level",
  "log.file",
  "http.listen",
  "http.port",
  "homeassistant.discovery",
  "homeassistant.prefix",
  "goe[0].serial",
  "goe[0].token",
  "goe[0].loadpoint",
  "goe[0].title",
  "goe[0].interval",
  "goe[0].timeout",
  "goe[0].url",
  "goe[0].writableKeys[0]",
  "goe[0].ip",
  "goe[1].token",
  "goe[1].loadpoint",
  "climkit[0].username",
  "climkit[0].password",
  "climkit[0].sites",
  "climkit[0].interval",
  "climkit[0].timeout",
  "climkit[0].url",
  "climkit[0].site",
  "ovms[0].url",
  "ovms[0].username",
  "ovms[0].password",
  "ovms[0].commands",
  "ovms[0].interval",
  "ovms[0].activeInterval",
  "ovms[0].timeout",
  "ovms[0].commandTimeout",
  "ovms[0].rejectUnauthorized",
  "ovms[0].vehicle",
  "ovms[0].vehicles[0].id",
  "ovms[0].vehicles[0].name",
  "ovms[0].vehicles[0].loadpoint",
  "ovms[0].vehicles[0].pin",
  "ovms[0].vehicles[0].shell",
  "ovms[0].vehicles[0].colour",
  "extra",
];

describe("a configuration with every field wrong", () => {
  it("--check names every field with its path and exits 78", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "ev2mqtt-config-")), "wrong.yaml");
    writeFileSync(file, stringify(EVERYTHING_WRONG));
    const { code, output } = await DaemonProcess.run(["--check", "--config", file]);
    expect(code).toBe(78);
    const lines = output.split("\n").map((line) => line.trim());
    const missing = FIELDS.filter((field) => !lines.some((line) => line.startsWith(`${field}: `)));
    expect(missing, output).toEqual([]);
    expect(output).toContain("EV2MQTT_TEST_UNSET_VARIABLE is not set");
    // running it (not only checking) refuses the same way, before touching any broker
    const run = await DaemonProcess.run(["--config", file]);
    expect(run.code).toBe(78);
    expect(run.output).toContain("mqtt.url: ");
  });
});
