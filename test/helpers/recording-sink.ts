import type { Device, Sink, Value, Values } from "../../src/source.js";

/** A Sink that remembers everything a source told it, for in-process tests of a source. */
export class RecordingSink implements Sink {
  readonly devices = new Map<string, Device>();
  /** Latest value per device topic and key. */
  readonly state = new Map<string, Map<string, Value>>();
  readonly availabilityLog: Array<{ topic: string; online: boolean; error: string }> = [];
  readonly polls: string[] = [];

  device(device: Device): void {
    this.devices.set(device.describe().topic, device);
  }

  values(topic: string, values: Values): void {
    let current = this.state.get(topic);
    if (!current) {
      current = new Map();
      this.state.set(topic, current);
    }
    for (const [key, value] of Object.entries(values)) {
      if (value !== undefined) current.set(key, value);
    }
  }

  availability(topic: string, online: boolean, error: string): void {
    this.availabilityLog.push({ topic, online, error });
  }

  polled(topic: string): void {
    this.polls.push(topic);
  }

  value(topic: string, key: string): Value | undefined {
    return this.state.get(topic)?.get(key);
  }

  online(topic: string): boolean | undefined {
    return this.availabilityLog.filter((entry) => entry.topic === topic).at(-1)?.online;
  }

  lastError(topic: string): string | undefined {
    return this.availabilityLog.filter((entry) => entry.topic === topic).at(-1)?.error;
  }
}

type Falsy = undefined | null | false | 0 | "";

/** Polls `check` until it returns a truthy value or the time runs out. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  timeoutMs = 10_000,
  what = "condition",
): Promise<Exclude<T, Falsy>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await check();
    if (last) return last as Exclude<T, Falsy>;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
}
