import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canConnect, freePort } from "./ports.js";

const MOSQUITTO = ["/usr/sbin/mosquitto", "mosquitto"];

/** A real Debian mosquitto on a free port, without persistence: a restart loses every retained message. */
export class Mosquitto {
  private process: ChildProcess | undefined;
  readonly log: string[] = [];

  private constructor(
    readonly port: number,
    private readonly configFile: string,
  ) {}

  static async start(): Promise<Mosquitto> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "ev2mqtt-mosquitto-"));
    const configFile = join(dir, "mosquitto.conf");
    writeFileSync(configFile, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
    const broker = new Mosquitto(port, configFile);
    await broker.restart();
    return broker;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** (Re)starts the broker on the same port and waits until it accepts connections. */
  async restart(): Promise<void> {
    await this.stop();
    const binary = MOSQUITTO.find((candidate) => candidate.startsWith("/")) ?? "mosquitto";
    const child = spawn(binary, ["-c", this.configFile], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout?.on("data", (chunk: Buffer) => this.log.push(chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => this.log.push(chunk.toString()));
    this.process = child;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (await canConnect(this.port)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`mosquitto did not start on port ${this.port}: ${this.log.join("")}`);
  }

  /** Kills the broker hard, as a crash or power cut would. */
  async kill(): Promise<void> {
    await this.stop("SIGKILL");
  }

  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    this.process = undefined;
    await new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill(signal);
    });
  }
}
