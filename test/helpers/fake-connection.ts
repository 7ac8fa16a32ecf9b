import { EventEmitter } from "node:events";
import type { IClientPublishOptions, IPublishPacket } from "mqtt";
import type { MessageHandler } from "../../src/mqtt/connection.js";
import { topicMatches } from "../../src/util/topic.js";

/**
 * A recording stand-in for the bridge's MqttConnection (cast to it where one is needed): what
 * was published, the subscriptions, messages "from the broker", and optionally a broker that
 * acknowledges publishes only when told to.
 */
export class FakeConnection extends EventEmitter<{ connect: []; disconnect: [] }> {
  connected = false;
  readonly published: Array<{ topic: string; payload: string; retain: boolean }> = [];
  readonly handlers: Array<{ filter: string; handler: MessageHandler }> = [];

  subscribe(filter: string, handler: MessageHandler): void {
    this.handlers.push({ filter, handler });
  }

  unsubscribe(filter: string): void {
    const index = this.handlers.findIndex((entry) => entry.filter === filter);
    if (index >= 0) this.handlers.splice(index, 1);
  }

  /** When set, publishes are acknowledged only by ack(): a broker that is slow to read. */
  holdAcks = false;
  private readonly unacked: Array<() => void> = [];

  publish(topic: string, payload: string, options: IClientPublishOptions): Promise<void> {
    this.published.push({ topic, payload, retain: options.retain === true });
    if (!this.holdAcks) return Promise.resolve();
    return new Promise((resolve) => this.unacked.push(resolve));
  }

  /** Publishes handed over and not yet acknowledged. */
  inFlight(): number {
    return this.unacked.length;
  }

  ack(): void {
    for (const resolve of this.unacked.splice(0)) resolve();
  }

  /** A message from the broker, as the real connection routes it. */
  deliver(topic: string, payload: string, retain: boolean): void {
    const packet = { cmd: "publish", topic, payload, retain, qos: 1, dup: false } as IPublishPacket;
    for (const { filter, handler } of [...this.handlers]) {
      if (topicMatches(filter, topic)) handler(topic, Buffer.from(payload), packet);
    }
  }

  goOnline(): void {
    this.connected = true;
    this.emit("connect");
  }

  configs(): Array<{ topic: string; payload: string; retain: boolean }> {
    return this.published.filter((entry) => entry.topic.startsWith("homeassistant/"));
  }
}
