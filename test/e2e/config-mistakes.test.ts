import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DaemonProcess } from "../helpers/daemon-process.js";

// Issue 11 items 6 to 8 and 12, as a user meets them: `ev2mqtt --check` on a file with one
// common mistake. Each must exit 78 (or 0 where the input is accepted) with one message per
// cause that says what to write instead.

const dir = mkdtempSync(join(tmpdir(), "ev2mqtt-mistakes-"));
let count = 0;

async function check(
  yaml: string,
  env: Record<string, string> = {},
): Promise<{ code: number | null; output: string; problems: string[] }> {
  const file = join(dir, `c${++count}.yaml`);
  writeFileSync(file, yaml);
  const { code, output } = await DaemonProcess.run(["--check", "--config", file], env);
  const problems = output
    .split("\n")
    .slice(1)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  return { code, output, problems };
}

const LOCAL_CHARGER = 'goe:\n  - serial: "000001"\n    loadpoint: 1\n';
const CHARGER = `${LOCAL_CHARGER}    url: http://192.168.1.50\n`;

describe("--check on common mistakes", () => {
  it("go-e url without http://: a bare host is the local API; other URL fields say what to write", async () => {
    const [ip, name, others] = await Promise.all([
      check(`${LOCAL_CHARGER}    url: 192.168.1.50\n`),
      check(`${LOCAL_CHARGER}    url: goe.local\n`),
      check(
        [
          "mqtt:",
          "  url: 192.168.1.10",
          "climkit:",
          "  - username: u",
          "    password: p1234",
          "    url: api.climkit.io/api/v1",
          "ovms:",
          "  - url: ovms.example:6869",
          "    username: u",
          "    password: p1234",
          "    commands: ovms.example:6867",
          "    vehicles: [{ id: CAR }]",
          "",
        ].join("\n"),
      ),
    ]);
    expect(ip.code, ip.output).toBe(0);
    expect(ip.output).toContain("(http://192.168.1.50, every 5s)");
    expect(name.code, name.output).toBe(0);
    expect(name.output).toContain("(http://goe.local, every 5s)");
    expect(others.code).toBe(78);
    expect(others.problems).toEqual([
      'mqtt.url: must be a mqtt://, mqtts://, ws:// or wss:// URL (got "192.168.1.10"; write mqtt://192.168.1.10:1883)',
      'climkit[0].url: must start with https:// (got "api.climkit.io/api/v1"; write https://api.climkit.io/api/v1)',
      'ovms[0].url: must start with https:// (got "ovms.example:6869"; write https://ovms.example:6869)',
      'ovms[0].commands: must be tcp://ovms.example:6867 or tls://ovms.example:6870 (got "ovms.example:6867")',
    ]);
    expect(others.output).not.toContain("Invalid URL");
  });

  it("one cause, one message: unset, bare and unclosed variables, duplicates, refused keys", async () => {
    const result = await check(
      [
        "goe:",
        '  - serial: "000001"',
        "    token: ${GOE_TOKEN_UNSET}",
        "    loadpoint: 1",
        '  - serial: "000002"',
        "    token: $GOE_TOKEN",
        "    loadpoint: 2",
        '  - serial: "000001"',
        "    token: ${GOE_TOKEN",
        "    loadpoint: 3",
        "    writableKeys: [lmo, cak]",
        "",
      ].join("\n"),
      { GOE_TOKEN: "set-but-not-used" },
    );
    expect(result.code).toBe(78);
    expect(result.problems).toEqual([
      "goe[0].token: environment variable GOE_TOKEN_UNSET is not set (systemd: put GOE_TOKEN_UNSET=… in the EnvironmentFile)",
      'goe[1].token: "$GOE_TOKEN" is taken literally: write ${GOE_TOKEN} to use the environment variable',
      'goe[2].token: "${GOE_TOKEN" has no closing }: write ${GOE_TOKEN}',
      'goe[2].writableKeys[1]: "cak" is always refused (it regenerates the cloud API token and cuts the bridge off): remove it',
      "goe[2].serial: charger 000001 is already configured as goe[0]: list each charger once",
    ]);
  });

  it("an empty file, a file with no device, a missing file are refused with what to do", async () => {
    const missing = join(dir, "nothere.yaml");
    const [empty, noDevice, absent] = await Promise.all([
      check(""),
      check("mqtt:\n  topic: home\n"),
      DaemonProcess.run(["--check", "--config", missing]),
    ]);
    expect(empty.code).toBe(78);
    expect(empty.output).toContain("the file is empty: start from config.example.yaml");
    expect(noDevice.code).toBe(78);
    expect(noDevice.output).toContain("no device is configured: add a goe:, climkit: or ovms: section");
    expect(absent.code).toBe(78);
    expect(absent.output).toContain(
      `${missing}: 1 configuration problem:\n  cannot read the file: there is no such file`,
    );
    expect(absent.output).not.toContain("ENOENT");
  });

  it("YAML mistakes name the right line and say what to change", async () => {
    const results = await Promise.all([
      check("goe:\n\t- serial: '000001'\n"),
      check("goe:\n  - serial: '000001\n    loadpoint: 1\n"),
      check("mqtt:\n  topic: a\n---\ngoe: []\n"),
      check("goe:\n  - serial: '000001'\n    token: abc: def\n    loadpoint: 1\n"),
      check("goe:\n  - serial: '000001'\n    loadpoint: 1\n    loadpoint: 2\n"),
      check('goe:\n  serial: "000001"\n  loadpoint: 1\n'),
      check(`mqtt:\n  listen: 1884\n${CHARGER}`),
    ]);
    const [tab, quote, documents, colon, duplicate, mapping, port] = results.map((r) => r.problems[0]);
    expect(tab).toBe("YAML syntax: line 2: indented with a tab; YAML needs spaces");
    expect(quote).toBe(
      `YAML syntax: line 2 ("- serial: '000001"): a quote is opened and not closed on that line`,
    );
    expect(documents).toBe(
      "YAML syntax: line 3: a second document starts here with ---; the configuration is one document: remove that line",
    );
    expect(colon).toBe(
      'YAML syntax: line 3 ("token: abc: def"): a value contains ": "; put the value in quotes',
    );
    expect(duplicate).toBe(
      'YAML syntax: line 4 ("loadpoint: 2"): this key appears twice in the same section; keep one',
    );
    expect(mapping).toBe(
      'goe: must be a list: write "- " in front of the first key of each charger, as in config.example.yaml',
    );
    for (const result of results.slice(0, 6)) {
      expect(result.code).toBe(78);
      expect(result.output).not.toMatch(/parseAllDocuments|:\n\s*$|expected array/);
    }
    // a bare port is that port on the loopback address
    expect(results[6]?.code, results[6]?.output).toBe(0);
    expect(port).toContain("embedded broker on 127.0.0.1:1884");
  });

  it("prints no credentials of any URL", async () => {
    const result = await check(
      [
        "mqtt:",
        "  url: mqtt://bridge:mqtt-secret-1@broker.lan:1883",
        "goe:",
        '  - serial: "000001"',
        "    loadpoint: 1",
        "    url: http://admin:goe-secret-2@192.168.1.50",
        "climkit:",
        "  - username: u",
        "    password: p1234",
        "    url: https://proxy:climkit-secret-3@proxy.lan/api/v1",
        "ovms:",
        "  - url: https://x:ovms-secret-4@ovms.example:6869",
        "    username: u",
        "    password: p1234",
        "    vehicles: [{ id: CAR }]",
        "",
      ].join("\n"),
    );
    expect(result.code, result.output).toBe(0);
    expect(result.output).not.toMatch(/secret-\d/);
    expect(result.output).toContain("mqtt://***@broker.lan:1883");
    expect(result.output).toContain("http://***@192.168.1.50");
  });

  it("the embedded broker says who can reach it, and warns when the LAN can write without a login", async () => {
    const [loopback, lan, lanWithLogin] = await Promise.all([
      check(CHARGER),
      check(`mqtt:\n  listen: 0.0.0.0:1883\n${CHARGER}`),
      check(`mqtt:\n  listen: 0.0.0.0:1883\n  username: bridge\n  password: long-password\n${CHARGER}`),
    ]);
    expect(loopback.output).toContain("Home Assistant on another machine (HA OS) cannot connect");
    expect(lan.output).toContain("WARNING: the embedded broker listens beyond this machine without a login");
    expect(lanWithLogin.output).not.toContain("WARNING");
    expect(lanWithLogin.output).toContain("embedded broker on 0.0.0.0:1883 with a login");
  });
});
