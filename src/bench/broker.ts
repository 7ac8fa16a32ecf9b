import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmbeddedBroker } from "../mqtt/broker.js";
import { silentLogger } from "../util/log.js";
import { canConnect, freePort } from "../util/net.js";

const MOSQUITTO = "/usr/sbin/mosquitto";

export interface BenchBroker {
  kind: string;
  url: string;
  port: number;
  /** The broker's own process, when it has one (for its CPU figure). */
  pid: number | undefined;
  stop(): Promise<void>;
}

/**
 * mosquitto with its default settings (no persistence) on a free port, or with Nagle's
 * algorithm off (`set_tcp_nodelay true`); aedes if mosquitto is not installed.
 */
export async function startBroker(options: { noDelay?: boolean } = {}): Promise<BenchBroker> {
  const port = await freePort();
  if (!existsSync(MOSQUITTO)) {
    const embedded = await startEmbeddedBroker(`127.0.0.1:${port}`, silentLogger());
    return {
      kind: "aedes (embedded; mosquitto is not installed)",
      url: embedded.url,
      port,
      pid: undefined,
      stop: () => embedded.close(),
    };
  }
  const dir = mkdtempSync(join(tmpdir(), "ev2mqtt-bench-"));
  const config = join(dir, "mosquitto.conf");
  writeFileSync(
    config,
    `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n${options.noDelay ? "set_tcp_nodelay true\n" : ""}`,
  );
  const child: ChildProcess = spawn(MOSQUITTO, ["-c", config], { stdio: "ignore" });
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (Date.now() > deadline) throw new Error("mosquitto did not start");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    kind: options.noDelay ? "mosquitto (set_tcp_nodelay true)" : "mosquitto (default settings)",
    url: `mqtt://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    stop: async () => {
      if (child.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      });
    },
  };
}
