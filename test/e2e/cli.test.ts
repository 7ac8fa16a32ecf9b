import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DaemonProcess } from "../helpers/daemon-process.js";

function file(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "ev2mqtt-cli-")), name);
  writeFileSync(path, text);
  return path;
}

describe("ev2mqtt command line", () => {
  it("--check names every bad field and exits 78", async () => {
    const bad = file(
      "bad.yaml",
      [
        "mqtt:",
        "  url: http://broker",
        "  topik: ev",
        "goe:",
        "  - serial: '12'",
        "    loadpoint: 0",
        "    interval: soon",
        "  - serial: '000002'",
        "    token: ${NOT_SET_ANYWHERE}",
        "    loadpoint: 1",
        "climkit:",
        "  - password: x",
        "",
      ].join("\n"),
    );
    const { code, output } = await DaemonProcess.run(["--check", "--config", bad]);
    expect(code).toBe(78);
    for (const expected of [
      "mqtt.url:",
      "mqtt.topik: unknown key",
      "goe[0].serial: must be the charger's 6-digit serial number",
      "goe[0].loadpoint:",
      "goe[0].interval: must be a duration",
      "goe[1].token: environment variable NOT_SET_ANYWHERE is not set",
      "climkit[0].username: is required",
    ]) {
      expect(output).toContain(expected);
    }
  });

  it("--check prints what would run and exits 0, without the secrets", async () => {
    const good = file(
      "good.yaml",
      "goe:\n  - serial: '000001'\n    token: ${GOE_TOKEN}\n    loadpoint: 1\n    title: Garage\n",
    );
    const { code, output } = await DaemonProcess.run(["--check", "--config", good], {
      GOE_TOKEN: "tok-ABCDEF-123",
    });
    expect(code).toBe(0);
    expect(output).toContain("configuration OK");
    expect(output).toContain("go-e 000001 → ev2mqtt/loadpoints/1");
    expect(output).toContain("embedded broker on 127.0.0.1:1883");
    expect(output).not.toContain("tok-ABCDEF-123");
  });

  it("a YAML syntax error is a configuration error too", async () => {
    const broken = file("broken.yaml", "goe: [\n  serial\n");
    const { code, output } = await DaemonProcess.run(["--check", "--config", broken]);
    expect(code).toBe(78);
    expect(output).toContain("YAML syntax");
  });

  it("--version and --help answer and exit 0; an unknown option exits 64 with the usage", async () => {
    const version = await DaemonProcess.run(["--version"]);
    expect(version.code).toBe(0);
    expect(version.output.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const help = await DaemonProcess.run(["--help"]);
    expect(help.code).toBe(0);
    expect(help.output).toContain("--check --config FILE");
    // the exit codes a service manager or a script acts on
    for (const code of ["0 ", "1 ", "64 ", "75 ", "78 "]) expect(help.output).toContain(`\n  ${code}`);
    const level = await DaemonProcess.run(["--log-level", "loud", "--check", "--config", "x.yaml"]);
    expect(level.code).toBe(64);
    expect(level.output).toContain(
      '--log-level must be one of fatal, error, warn, info, debug, trace, silent (got "loud")',
    );
    const wrong = await DaemonProcess.run(["--frobnicate"]);
    expect(wrong.code).toBe(64);
    expect(wrong.output).toContain("Usage:");
  });

  it("--load-env reads the service's environment file, so --check works from a shell", async () => {
    const config = file(
      "env.yaml",
      "goe:\n  - serial: '000001'\n    token: ${GOE_TOKEN}\n    loadpoint: 1\n",
    );
    const env = file("env", "# systemd EnvironmentFile\nGOE_TOKEN=tok-from-file-1234\n");
    const without = await DaemonProcess.run(["--check", "--config", config]);
    expect(without.code).toBe(78);
    expect(without.output).toContain("goe[0].token: environment variable GOE_TOKEN is not set");
    const withFile = await DaemonProcess.run(["--check", "--config", config, "--load-env", env]);
    expect(withFile.code, withFile.output).toBe(0);
    expect(withFile.output).not.toContain("tok-from-file-1234");
    const missing = await DaemonProcess.run(["--check", "--config", config, "--load-env", `${env}.nope`]);
    expect(missing.code).toBe(78);
    expect(missing.output).toContain("cannot read the environment file (ENOENT)");
  });
});
