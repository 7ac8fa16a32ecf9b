import { type ChildProcess, fork, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { stringify } from "yaml";

// The processes a benchmark run is made of: the go-e simulator, the daemon (the built CLI, as
// a user runs it), the floor loop, and a subscriber that counts what reaches the broker.

export const DIST = join(import.meta.dirname, "..");
export const CLI = join(DIST, "cli.js");

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function onceMessage<T>(child: ChildProcess, accept: (message: unknown) => T | undefined): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: unknown) => {
      const value = accept(message);
      if (value === undefined) return;
      child.off("message", onMessage);
      child.off("exit", onExit);
      resolve(value);
    };
    const onExit = (code: number | null) => reject(new Error(`child exited (${code}) before answering`));
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}

function field(message: unknown, key: string): unknown {
  return message !== null && typeof message === "object"
    ? (message as Record<string, unknown>)[key]
    : undefined;
}

/** The go-e simulator with `count` chargers in a child process. */
export class SimProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static async start(count: number, firstSerial: number): Promise<SimProcess> {
    const child = fork(join(DIST, "bench/sim-child.js"), [String(count), String(firstSerial)], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const url = await onceMessage(child, (message) =>
      field(message, "type") === "ready" ? String(field(message, "url")) : undefined,
    );
    return new SimProcess(child, url);
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** Status and set requests the simulator received between two Date.now() times. */
  async count(since: number, until: number): Promise<{ status: number; set: number }> {
    const answer = onceMessage(this.child, (message) =>
      field(message, "type") === "count"
        ? { status: Number(field(message, "status")), set: Number(field(message, "set")) }
        : undefined,
    );
    this.child.send({ type: "count", since, until });
    return answer;
  }

  /** Every `/api/set` the simulator received since `since` (epoch ms): serial and arrival time. */
  async sets(since: number): Promise<Array<[serial: string, at: number]>> {
    const answer = onceMessage(this.child, (message) =>
      field(message, "type") === "sets" ? (field(message, "sets") as Array<[string, number]>) : undefined,
    );
    this.child.send({ type: "sets", since });
    return answer;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.disconnect();
    await Promise.race([exited, sleep(3000)]);
    if (this.child.exitCode === null) this.child.kill("SIGKILL");
  }
}

/** The floor loop in a child process. */
export class FloorProcess {
  private constructor(private readonly child: ChildProcess) {}

  static async start(
    count: number,
    simUrl: string,
    brokerUrl: string,
    firstSerial: number,
  ): Promise<FloorProcess> {
    const child = fork(
      join(DIST, "bench/floor.js"),
      [String(count), simUrl, brokerUrl, String(firstSerial)],
      {
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      },
    );
    await onceMessage(child, (message) => (field(message, "type") === "ready" ? true : undefined));
    return new FloorProcess(child);
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.kill("SIGTERM");
    await Promise.race([exited, sleep(3000)]);
    if (this.child.exitCode === null) this.child.kill("SIGKILL");
  }
}

/** The built daemon, `node dist/cli.js --config FILE`. */
export class DaemonChild {
  readonly output: string[] = [];
  readonly spawnedAt = performance.now();
  private readonly exited: Promise<number | null>;

  private constructor(private readonly child: ChildProcess) {
    const collect = (chunk: Buffer) => {
      if (this.output.length < 200) this.output.push(chunk.toString());
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    this.exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
  }

  /** `nodeArgs` go to node itself (V8 flags such as --optimize-for-size); `env` is added to PATH. */
  static start(config: object, nodeArgs: string[] = [], env: Record<string, string> = {}): DaemonChild {
    const dir = mkdtempSync(join(tmpdir(), "ev2mqtt-bench-"));
    const file = join(dir, "config.yaml");
    writeFileSync(file, stringify(config));
    const child = spawn(process.execPath, [...nodeArgs, CLI, "--config", file], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { PATH: process.env.PATH ?? "", ...env },
    });
    return new DaemonChild(child);
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** Sends the daemon a signal (SIGUSR2 starts and stops the allocation profile). */
  signal(name: NodeJS.Signals): void {
    this.child.kill(name);
  }

  get running(): boolean {
    return this.child.exitCode === null;
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill("SIGTERM");
    const code = await Promise.race([this.exited, sleep(8000).then(() => null)]);
    if (this.child.exitCode === null) this.child.kill("SIGKILL");
    return code;
  }
}

export interface Received {
  topic: string;
  /** performance.now() at arrival. */
  at: number;
  /** Date.now() at arrival. */
  wall: number;
  payload: string;
}

/** A subscriber that keeps what arrives (payloads only when asked to, to stay small at 1000 chargers). */
export class Subscriber {
  readonly received: Received[] = [];
  readonly latest = new Map<string, string>();
  private readonly listeners = new Set<(message: Received) => void>();

  private constructor(
    readonly client: MqttClient,
    private readonly keepPayloads: boolean,
  ) {}

  static async connect(url: string, filter: string | string[], keepPayloads = false): Promise<Subscriber> {
    const client = await mqtt.connectAsync(url, { clean: true, reconnectPeriod: 500 });
    (client.stream as { setNoDelay?: (noDelay: boolean) => void }).setNoDelay?.(true);
    const subscriber = new Subscriber(client, keepPayloads);
    client.on("message", (topic, payload) => {
      const text = payload.toString();
      const message: Received = {
        topic,
        at: performance.now(),
        wall: Date.now(),
        payload: subscriber.keepPayloads ? text : "",
      };
      subscriber.received.push(message);
      subscriber.latest.set(topic, text);
      for (const listener of subscriber.listeners) listener(message);
    });
    await client.subscribeAsync(filter, { qos: 1 });
    return subscriber;
  }

  on(listener: (message: Received) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  between(since: number, until: number): Received[] {
    return this.received.filter((message) => message.wall >= since && message.wall < until);
  }

  async waitFor(check: () => boolean, timeoutMs: number, what: string | (() => string)): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${typeof what === "string" ? what : what()}`);
      }
      await sleep(50);
    }
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
