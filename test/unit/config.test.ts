import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, parseConfig } from "../../src/config/load.js";
import { scrub } from "../../src/util/secrets.js";

function problems(raw: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(raw, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("configuration", () => {
  it("fills sensible defaults for a minimal charger", () => {
    const config = parseConfig({ goe: [{ serial: "000001", token: "abcdef", loadpoint: 1 }] }, {});
    expect(config.mqtt.topic).toBe("ev2mqtt");
    expect(config.mqtt.url).toBeUndefined();
    expect(config.mqtt.listen).toBe("127.0.0.1:1883");
    expect(config.goe[0]?.interval).toBe(5000);
    expect(config.homeassistant).toEqual({ discovery: true, prefix: "homeassistant" });
  });

  it("keeps the leading zeros YAML drops from an unquoted serial", () => {
    const config = parseConfig({ goe: [{ serial: 1, token: "abcdef", loadpoint: 1 }] }, {});
    expect(config.goe[0]?.serial).toBe("000001");
  });

  it("parses durations in every documented form", () => {
    const config = parseConfig(
      {
        goe: [
          { serial: "000001", token: "abcdef", loadpoint: 1, interval: "1500ms" },
          { serial: "000002", token: "abcdef", loadpoint: 2, interval: "2m" },
          { serial: "000003", token: "abcdef", loadpoint: 3, interval: 7 },
        ],
      },
      {},
    );
    expect(config.goe.map((c) => c.interval)).toEqual([1500, 120_000, 7000]);
  });

  it("substitutes ${ENV} and registers the result as a secret", () => {
    const config = parseConfig(
      { goe: [{ serial: "000001", token: "${GOE_TOKEN}", loadpoint: 1 }] },
      { GOE_TOKEN: "s3cr3t-from-env" },
    );
    expect(config.goe[0]?.token).toBe("s3cr3t-from-env");
    expect(scrub("token=s3cr3t-from-env")).toBe("token=***");
  });

  it("reports every problem at once, each with its path", () => {
    const found = problems(
      {
        mqtt: { url: "http://x", topic: "a/#", colour: "blue" },
        log: { level: "loud" },
        goe: [
          { serial: "12", loadpoint: 0, interval: "often" },
          { serial: "000002", token: "${MISSING}", loadpoint: 1 },
          { serial: "000003", token: "abcdef", loadpoint: 1 },
        ],
        climkit: [{ password: "x" }],
        ovms: [
          { url: "ovms.example", username: "u", password: "p", vehicles: [{ id: "CAR", loadpoint: 9 }] },
        ],
      },
      {},
    );
    const text = found.join("\n");
    for (const path of [
      "mqtt.url:",
      "mqtt.topic:",
      "mqtt.colour: unknown key",
      "log.level:",
      "goe[0].serial:",
      "goe[0].loadpoint:",
      "goe[0].interval:",
      "goe[1].token: environment variable MISSING is not set",
      "climkit[0].username: is required",
      "ovms[0].url:",
    ]) {
      expect(text).toContain(path);
    }
  });

  it("names semantic problems: duplicate loadpoints, missing cloud token, unknown loadpoint links", () => {
    const text = problems(
      {
        goe: [
          { serial: "000001", loadpoint: 1 },
          { serial: "000002", url: "http://192.168.1.5", loadpoint: 1 },
        ],
        ovms: [
          {
            url: "https://ovms.example:6869",
            username: "u",
            password: "p",
            vehicles: [{ id: "CAR", loadpoint: 7 }],
          },
        ],
      },
      {},
    ).join("\n");
    expect(text).toContain("goe[0].token: the go-e cloud needs the API token");
    expect(text).toContain("goe[1].loadpoint: loadpoint 1 is already used by goe[0]");
    expect(text).toContain("ovms[0].vehicles[0].loadpoint: no go-e charger has loadpoint 7");
  });

  it("a local charger needs no token", () => {
    expect(problems({ goe: [{ serial: "000001", url: "http://192.168.1.5/", loadpoint: 1 }] })).toEqual([]);
  });

  it("reads YAML files and reports syntax errors and unreadable files", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ev2mqtt-config-"));
    const good = join(dir, "good.yaml");
    writeFileSync(good, 'goe:\n  - serial: "000042"\n    token: ${T}\n    loadpoint: 1\n');
    const config = await loadConfig(good, { T: "tokentoken" });
    expect(config.goe[0]?.serial).toBe("000042");

    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "goe: [\n  - serial\n");
    await expect(loadConfig(bad, {})).rejects.toThrow(/YAML syntax/);
    await expect(loadConfig(join(dir, "missing.yaml"), {})).rejects.toThrow(
      /cannot read the file: there is no such file/,
    );
  });
});
