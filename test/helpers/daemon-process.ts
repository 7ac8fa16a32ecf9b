import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";

const CLI = join(import.meta.dirname, "../../dist/cli.js");

/** The built daemon (`node dist/cli.js --config FILE`) as a child process, as systemd runs it. */
export class DaemonProcess {
  readonly output: string[] = [];
  exitCode: number | null = null;
  private readonly exited: Promise<number | null>;

  private constructor(
    private readonly child: ChildProcess,
    readonly configFile: string,
  ) {
    const collect = (chunk: Buffer) => this.output.push(chunk.toString());
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    this.exited = new Promise((resolve) =>
      child.on("exit", (code) => {
        this.exitCode = code;
        resolve(code);
      }),
    );
  }

  /** Writes the config (an object, or raw YAML text) to a temp file and starts the daemon on it. */
  static start(
    config: object | string,
    env: Record<string, string> = {},
    args: string[] = [],
  ): DaemonProcess {
    const dir = mkdtempSync(join(tmpdir(), "ev2mqtt-daemon-"));
    const configFile = join(dir, "config.yaml");
    writeFileSync(configFile, typeof config === "string" ? config : stringify(config));
    const child = spawn(process.execPath, [CLI, "--config", configFile, ...args], {
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    return new DaemonProcess(child, configFile);
  }

  /** Runs the CLI to completion (for --check, --help): its exit code and output. */
  static async run(
    args: string[],
    env: Record<string, string> = {},
  ): Promise<{ code: number | null; output: string }> {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    return { code, output };
  }

  /** The daemon's process id (for /proc readings such as its RSS). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  get text(): string {
    return this.output.join("");
  }

  /** JSON log lines the daemon printed. */
  logLines(): Array<Record<string, unknown>> {
    return this.text
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /** Sends SIGTERM and waits for the exit code. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
    if (this.exitCode === null) this.child.kill(signal);
    return this.exited;
  }

  wait(): Promise<number | null> {
    return this.exited;
  }
}
