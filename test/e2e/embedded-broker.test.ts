import { execFile } from "node:child_process";
import { describe, expect, it } from "vitest";
import { DaemonProcess } from "../helpers/daemon-process.js";
import { freePort } from "../helpers/ports.js";
import { waitFor } from "../helpers/recording-sink.js";

// Issue 11 item 12: the embedded broker takes mqtt.username/password as its login, so it can
// listen on the LAN without letting anyone write /set; and it says who can reach it.

function sub(port: number, extra: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) =>
    execFile(
      "mosquitto_sub",
      ["-h", "127.0.0.1", "-p", String(port), "-t", "ev2mqtt/status", "-C", "1", "-W", "5", ...extra],
      (error, stdout, stderr) =>
        resolve({
          code: Number((error as { code?: number } | null)?.code ?? 0),
          output: `${stdout}${stderr}`,
        }),
    ),
  );
}

describe("the embedded broker", () => {
  it("requires the configured login from every client, and notes it is loopback only", async () => {
    const port = await freePort();
    const daemon = DaemonProcess.start({
      mqtt: { listen: `127.0.0.1:${port}`, username: "bridge", password: "Xq7-pw-Tz9" },
      homeassistant: { discovery: false },
      goe: [{ serial: "000001", loadpoint: 1, url: "http://127.0.0.1:9" }],
    });
    try {
      await waitFor(
        () => daemon.text.includes('"msg":"ev2mqtt running"') || daemon.exitCode !== null,
        20_000,
      );
      expect(daemon.exitCode, daemon.text).toBeNull();
      expect(daemon.text).toContain("the embedded broker is reachable from this machine only");
      const anonymous = await sub(port, []);
      expect(anonymous.code).not.toBe(0);
      expect(anonymous.output).toMatch(/not authori[sz]ed|refused/i);
      const wrong = await sub(port, ["-u", "bridge", "-P", "guess"]);
      expect(wrong.code).not.toBe(0);
      const right = await sub(port, ["-u", "bridge", "-P", "Xq7-pw-Tz9"]);
      expect(right).toEqual({ code: 0, output: "online\n" });
    } finally {
      await daemon.stop();
    }
  });

  it("keeps the bridge connected while Home Assistant discovery is published (the demo's first minute)", async () => {
    const port = await freePort();
    const daemon = DaemonProcess.start({
      mqtt: { listen: `127.0.0.1:${port}` },
      goe: [{ serial: "000001", loadpoint: 1, url: "http://127.0.0.1:9" }],
    });
    try {
      await waitFor(() => daemon.text.includes("Home Assistant discovery published"), 20_000, "discovery");
      // a request answered after the configs went out: the connection carried them
      const answer = execFile("mosquitto_sub", [
        "-h",
        "127.0.0.1",
        "-p",
        String(port),
        "-t",
        "ev2mqtt/bridge/response/health_check",
        "-C",
        "1",
        "-W",
        "5",
      ]);
      let text = "";
      answer.stdout?.on("data", (chunk: Buffer) => (text += chunk.toString()));
      await waitFor(
        async () => {
          await new Promise((resolve) =>
            execFile(
              "mosquitto_pub",
              [
                "-h",
                "127.0.0.1",
                "-p",
                String(port),
                "-t",
                "ev2mqtt/bridge/request/health_check",
                "-m",
                "{}",
              ],
              resolve,
            ),
          );
          return text.includes('"healthy":true');
        },
        10_000,
        "a health_check answer",
      );
      answer.kill();
      expect(daemon.text).not.toContain("MQTT connection lost");
    } finally {
      await daemon.stop();
    }
  });
});
