import mqtt, { type MqttClient } from "mqtt";
import { waitFor } from "./recording-sink.js";

export interface Seen {
  topic: string;
  payload: string;
  retain: boolean;
  time: number;
}

/** A test client that records everything under a filter and keeps the latest value per topic. */
export class MqttWatch {
  readonly messages: Seen[] = [];
  readonly latest = new Map<string, string>();
  private lastTick = 0;

  private constructor(private readonly client: MqttClient) {}

  static async connect(
    url: string,
    filter: string | string[],
    protocolVersion: 4 | 5 = 4,
  ): Promise<MqttWatch> {
    const client = await mqtt.connectAsync(url, { protocolVersion, reconnectPeriod: 200, clean: true });
    const watch = new MqttWatch(client);
    client.on("message", (topic, payload, packet) => {
      const text = payload.toString();
      watch.messages.push({ topic, payload: text, retain: packet.retain, time: watch.now() });
      watch.latest.set(topic, text);
    });
    await client.subscribeAsync(filter, { qos: 1 });
    return watch;
  }

  /**
   * A time to pass as `since`: wall-clock milliseconds, but strictly after every message seen
   * so far (messages are stamped on the same clock). With `Date.now()` an answer that arrived
   * in the same millisecond as the next request counts as "since" it, and a helper that
   * writes twice in a row reads the first answer for the second.
   */
  now(): number {
    this.lastTick = Math.max(Date.now(), this.lastTick + 1);
    return this.lastTick;
  }

  get mqtt(): MqttClient {
    return this.client;
  }

  value(topic: string): string | undefined {
    return this.latest.get(topic);
  }

  async waitForValue(
    topic: string,
    expected: string | ((payload: string) => boolean),
    timeoutMs = 15_000,
  ): Promise<string> {
    const matches = typeof expected === "string" ? (payload: string) => payload === expected : expected;
    return waitFor(
      () => {
        const payload = this.latest.get(topic);
        return payload !== undefined && matches(payload) ? payload : undefined;
      },
      timeoutMs,
      `${topic} = ${typeof expected === "string" ? expected : "match"} (now ${this.latest.get(topic)})`,
    );
  }

  /** Waits for the next message on a topic after `since` (a time from `now()`, or Date.now()). */
  async waitForMessage(topic: string, since: number, timeoutMs = 15_000): Promise<Seen> {
    return waitFor(
      () => this.messages.find((message) => message.topic === topic && message.time >= since),
      timeoutMs,
      `a message on ${topic}`,
    );
  }

  countSince(since: number, predicate: (message: Seen) => boolean = () => true): number {
    return this.messages.filter((message) => message.time >= since && predicate(message)).length;
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
