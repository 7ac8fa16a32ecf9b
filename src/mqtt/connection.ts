import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import mqtt, {
  type IClientOptions,
  type IClientPublishOptions,
  type IPublishPacket,
  type MqttClient,
  UniqueMessageIdProvider,
} from "mqtt";
import type { Logger } from "../util/log.js";

export interface ConnectionOptions {
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  protocolVersion: 4 | 5;
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized: boolean;
  /** Topic of the last will: it gets `offline` (retained) when the bridge vanishes. */
  statusTopic: string;
  logger: Logger;
}

export type MessageHandler = (topic: string, payload: Buffer, packet: IPublishPacket) => void;

const MIN_RECONNECT_MS = 1000;
const MAX_RECONNECT_MS = 15_000;

/** Does an MQTT topic filter (with + and #) match a topic? */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return true;
    if (i >= t.length) return false;
    if (f[i] !== "+" && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * The broker connection: last will, reconnect with back-off, subscriptions that survive
 * reconnects, and messages routed to the handler of the filter that matches. Emits `connect`
 * after every (re)connect, once the subscriptions are back; the publisher republishes then.
 */
export class MqttConnection extends EventEmitter<{ connect: []; disconnect: [] }> {
  private client: MqttClient | undefined;
  private readonly handlers: Array<{ filter: string; handler: MessageHandler }> = [];
  private reconnectMs = MIN_RECONNECT_MS;
  private wasConnected = false;
  private stopping = false;
  received = 0;
  published = 0;

  constructor(private readonly options: ConnectionOptions) {
    super();
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** Starts connecting; the client keeps retrying on its own when the broker is not there. */
  start(): void {
    const { options } = this;
    const clientOptions: IClientOptions = {
      clientId: options.clientId,
      username: options.username,
      password: options.password,
      protocolVersion: options.protocolVersion,
      clean: true,
      keepalive: 30,
      connectTimeout: 10_000,
      reconnectPeriod: MIN_RECONNECT_MS,
      resubscribe: false, // subscriptions are made again in onConnect, before the state is republished
      rejectUnauthorized: options.rejectUnauthorized,
      will: { topic: options.statusTopic, payload: Buffer.from("offline"), qos: 1, retain: true },
      // the default provider hands out ids round-robin without checking which are still in
      // flight: a republish of a large state (1000 chargers with discovery: ~76k QoS 1
      // messages) wraps past 65535 and acks get matched to the wrong message. This one waits
      // for a free id instead.
      messageIdProvider: new UniqueMessageIdProvider(),
      // by default mqtt-packet builds a cache of 65536 two-byte Buffers for message ids on the
      // first publish: 6 MB of heap, a quarter of all a small installation needs
      writeCache: false,
    };
    if (options.ca) clientOptions.ca = readFileSync(options.ca);
    if (options.cert) clientOptions.cert = readFileSync(options.cert);
    if (options.key) clientOptions.key = readFileSync(options.key);
    const client = mqtt.connect(options.url, clientOptions);
    this.client = client;
    client.on("connect", () => void this.onConnect());
    client.on("message", (topic, payload, packet) => this.onMessage(topic, payload, packet));
    client.on("close", () => {
      if (this.wasConnected && !this.stopping) {
        this.wasConnected = false;
        options.logger.warn({ broker: this.safeUrl() }, "MQTT connection lost; reconnecting");
        this.emit("disconnect");
      }
      // back off while the broker stays away, so a dead broker is not hammered
      client.options.reconnectPeriod = this.reconnectMs;
      this.reconnectMs = Math.min(MAX_RECONNECT_MS, this.reconnectMs * 2);
    });
    client.on("error", (error) => {
      const code = (error as { code?: number | string }).code;
      if (code === 1 || code === 132) {
        options.logger.error(
          `MQTT broker refused protocol version ${options.protocolVersion}: set mqtt.protocolVersion: 4`,
        );
      } else if (code === 4 || code === 5 || code === 134 || code === 135) {
        options.logger.error("MQTT broker refused the login: check mqtt.username and mqtt.password");
      } else {
        options.logger.warn({ err: error.message, broker: this.safeUrl() }, "MQTT error");
      }
    });
  }

  /** Registers a handler; the filter is subscribed now (if connected) and after every reconnect. */
  subscribe(filter: string, handler: MessageHandler): void {
    this.handlers.push({ filter, handler });
    if (this.client?.connected) this.client.subscribe(filter, { qos: 1 });
  }

  /** Removes one handler; the filter is unsubscribed once no handler needs it any more. */
  unsubscribe(filter: string, handler: MessageHandler): void {
    const index = this.handlers.findIndex((entry) => entry.filter === filter && entry.handler === handler);
    if (index >= 0) this.handlers.splice(index, 1);
    const stillNeeded = this.handlers.some((entry) => entry.filter === filter);
    if (!stillNeeded && this.client?.connected) this.client.unsubscribe(filter);
  }

  publish(topic: string, payload: string, options: IClientPublishOptions): Promise<void> {
    const client = this.client;
    if (!client) return Promise.resolve();
    this.published += 1;
    return new Promise((resolve) => {
      client.publish(topic, payload, options, (error) => {
        if (error) this.options.logger.debug({ topic, err: error.message }, "publish failed");
        resolve();
      });
    });
  }

  /** Publishes the final retained `offline` and disconnects cleanly (no last will). */
  async stop(finalStatus = "offline"): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.stopping = true;
    if (client.connected) {
      await Promise.race([
        this.publish(this.options.statusTopic, finalStatus, { qos: 1, retain: true }),
        new Promise((resolve) => setTimeout(resolve, 1500)),
      ]);
    }
    await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
    // a broker that is gone never answers the end handshake; don't wait on it forever
    client.end(true);
    this.client = undefined;
  }

  /** The broker URL without credentials, for logs. */
  safeUrl(): string {
    try {
      const url = new URL(this.options.url);
      url.username = "";
      url.password = "";
      return url.toString();
    } catch {
      return "(invalid url)";
    }
  }

  private async onConnect(): Promise<void> {
    const client = this.client;
    if (!client) return;
    // mqtt.js leaves Nagle on: a write's answer (published right behind the /set clearing)
    // would wait ~40 ms for the broker's delayed ACK
    (client.stream as { setNoDelay?: (noDelay: boolean) => void }).setNoDelay?.(true);
    this.reconnectMs = MIN_RECONNECT_MS;
    client.options.reconnectPeriod = MIN_RECONNECT_MS;
    this.wasConnected = true;
    this.options.logger.info({ broker: this.safeUrl() }, "MQTT connected");
    const filters = [...new Set(this.handlers.map((entry) => entry.filter))];
    if (filters.length > 0) {
      await client.subscribeAsync(filters, { qos: 1 }).catch((error: Error) => {
        this.options.logger.warn({ err: error.message }, "MQTT subscribe failed");
      });
    }
    this.emit("connect");
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    this.received += 1;
    for (const { filter, handler } of this.handlers) {
      if (!topicMatches(filter, topic)) continue;
      try {
        handler(topic, payload, packet);
      } catch (error) {
        this.options.logger.error({ topic, err: (error as Error).message }, "MQTT message handler failed");
      }
    }
  }
}
