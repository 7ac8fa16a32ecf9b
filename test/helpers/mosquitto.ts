import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canConnect, freePort } from "./ports.js";

const MOSQUITTO = ["/usr/sbin/mosquitto", "mosquitto"];

/**
 * A real Debian mosquitto on a free port. Without persistence (the default here) a restart
 * loses every retained message and every session; with it (as Debian's own configuration has
 * it) a clean restart keeps both.
 */
export class Mosquitto {
  private process: ChildProcess | undefined;
  readonly log: string[] = [];

  private constructor(
    readonly port: number,
    private readonly configFile: string,
  ) {}

  /**
   * A free port is free only until someone binds it: a test file running in parallel may get
   * the same number. Losing that race shows as our mosquitto exiting; then try another port.
   */
  static async start(
    /** Extra mosquitto.conf lines; the default lets anyone in. */
    access = "allow_anonymous true\n",
    options: { persistence?: boolean } = {},
  ): Promise<Mosquitto> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = await freePort();
      const dir = mkdtempSync(join(tmpdir(), "ev2mqtt-mosquitto-"));
      const configFile = join(dir, "mosquitto.conf");
      // mosquitto started as root writes its database as the mosquitto user
      if (options.persistence) chmodSync(dir, 0o777);
      const persistence = options.persistence
        ? `persistence true\npersistence_location ${dir}/\n`
        : "persistence false\n";
      writeFileSync(configFile, `listener ${port} 127.0.0.1\n${access}${persistence}`);
      const broker = new Mosquitto(port, configFile);
      try {
        await broker.restart();
        return broker;
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
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
      // someone answering on the port is not enough: it must be this broker, still running
      if (child.exitCode !== null) {
        this.process = undefined;
        throw new Error(`mosquitto exited on port ${this.port}: ${this.log.join("")}`);
      }
      if (await canConnect(this.port)) {
        // a broker that lost the port exits right after its bind fails
        await new Promise((resolve) => setTimeout(resolve, 100));
        if (child.exitCode === null) return;
        continue;
      }
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
