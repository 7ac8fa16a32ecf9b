import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import mqtt, {
  type IClientOptions,
  type IClientPublishOptions,
  type IPublishPacket,
  type MqttClient,
  UniqueMessageIdProvider,
} from "mqtt";
import { networkAdvice } from "../upstream/errors.js";
import { within } from "../util/duration.js";
import type { Logger } from "../util/log.js";
import { topicLevel, topicMatches, topicProblem } from "../util/topic.js";
import { Freshness, markerTopic } from "./freshness.js";
import { PoisonGuard } from "./poison.js";

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
  /** The root topic: the catch-up marker lives under it. */
  root: string;
  /** MQTT 5: how long the broker keeps the session (and the writes in it) while the bridge is away. */
  sessionExpirySeconds: number;
  /**
   * Default true. False for the embedded broker: it lives and dies with the bridge, so a kept
   * session buys nothing there, and aedes' session store drops the connection with "no such
   * packet" once the discovery configs echo back to a persistent client.
   */
  persistentSession?: boolean;
  /** A write kept by the broker longer than this is answered as stale (see freshness.ts). */
  staleWriteAfterMs: number;
  logger: Logger;
}

/** What the connection knows about how a message reached the bridge. */
export interface Delivery {
  /** Set when the message waited on the broker too long to be acted on: the reason. */
  stale?: string;
}

export type MessageHandler = (
  topic: string,
  payload: Buffer,
  packet: IPublishPacket,
  delivery?: Delivery,
) => void;

/**
 * One attempt a second, without back-off: a refused TCP connect costs the broker nothing, and
 * after a network cut or a broker restart the bridge is back within a second (the writes kept
 * for it wait on the broker meanwhile).
 */
const RECONNECT_MS = 1000;
/** How long the final `status` may take to be acknowledged, and then the end handshake (stop). */
const STATUS_TIMEOUT_MS = 800;
const END_TIMEOUT_MS = 700;

/**
 * The broker connection: last will, reconnect with back-off, subscriptions that survive
 * reconnects, and messages routed to the handler of the filter that matches. Emits `connect`
 * after every (re)connect, once the subscriptions are back; the publisher republishes then.
 */
export class MqttConnection extends EventEmitter<{ connect: []; disconnect: [] }> {
  private client: MqttClient | undefined;
  private readonly handlers: Array<{ filter: string; handler: MessageHandler }> = [];
  private wasConnected = false;
  private everConnected = false;
  private stopping = false;
  private readonly freshness: Freshness;
  private readonly poison = new PoisonGuard();
  /** Whether the current socket got its CONNACK: only such a connection can be dropped on a publish. */
  private sessionUp = false;
  /** MQTT 5: the largest packet the broker accepts, from its CONNACK. */
  private maximumPacketSize = Number.POSITIVE_INFINITY;
  /** Topics refused before sending, logged once each. */
  private readonly refusedTopics = new Set<string>();
  received = 0;
  published = 0;

  constructor(private readonly options: ConnectionOptions) {
    super();
    this.freshness = new Freshness(
      options.staleWriteAfterMs,
      markerTopic(options.root, topicLevel(options.clientId)),
      (kept, stale) =>
        options.logger.info({ kept, stale }, "MQTT: delivered the messages the broker kept for the bridge"),
    );
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
      // a persistent session: the broker keeps the /set messages published while the bridge is
      // away (network cut, broker or bridge restart) and delivers them when it is back
      clean: options.persistentSession === false,
      ...(options.protocolVersion === 5
        ? { properties: { sessionExpiryInterval: options.sessionExpirySeconds } }
        : {}),
      // a dead link is noticed within 15 s; the time away is measured from the last packet
      keepalive: 10,
      connectTimeout: 10_000,
      reconnectPeriod: RECONNECT_MS,
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
    client.on("connect", (connack) => void this.onConnect(connack.sessionPresent));
    client.on("packetsend", (packet) => this.poison.sent(packet));
    client.on("packetreceive", (packet) => {
      this.poison.received(packet);
      // mqtt.js emits `connect` only after it has resent its own unacknowledged messages;
      // the messages the broker kept arrive before that, and must be judged by this connect
      if (packet.cmd === "connack" && !(packet.returnCode || packet.reasonCode)) {
        this.sessionUp = true;
        this.maximumPacketSize = packet.properties?.maximumPacketSize ?? Number.POSITIVE_INFINITY;
        const marker = this.freshness.connected(packet.sessionPresent, !this.everConnected);
        this.everConnected = true;
        // the kept session holds the marker's subscription: send it at once, so the catch-up
        // ends right behind what the broker kept
        if (marker) void this.publish(this.freshness.markerTopic, marker, { qos: 1, retain: false });
      } else {
        this.freshness.contact();
      }
    });
    client.on("message", (topic, payload, packet) => this.onMessage(topic, payload, packet));
    client.on("close", () => {
      // attempts that never got a CONNACK (broker or network away) sent nothing to blame
      const culprit = this.stopping || !this.sessionUp ? undefined : this.poison.lost();
      this.sessionUp = false;
      if (culprit) {
        for (const id of culprit.messageIds) client.removeOutgoingMessage(id);
        options.logger.error(
          { topic: culprit.topic },
          "the broker dropped the connection 3 times in a row on this publish: it is not sent again (check the broker's limits, e.g. max_packet_size)",
        );
      }
      if (this.wasConnected && !this.stopping) {
        this.wasConnected = false;
        options.logger.warn({ broker: this.safeUrl() }, "MQTT connection lost; reconnecting");
        this.emit("disconnect");
      }
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
        // the broker's address is wrong or it is down: say which, and what to check
        const advice = networkAdvice(code);
        if (advice) options.logger.warn({ broker: this.safeUrl() }, `MQTT broker: ${advice} (mqtt.url)`);
        else options.logger.warn({ err: error.message, broker: this.safeUrl() }, "MQTT error");
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

  /**
   * Publishes; never rejects. A topic the broker would answer with a disconnect (wildcards,
   * NUL, empty levels…) is not sent at all: mqtt.js would send it again after every reconnect
   * and the bridge would never stay online. It is logged once, with its topic, and dropped;
   * so is a publish the broker refuses (MQTT 5 reason codes).
   */
  publish(topic: string, payload: string, options: IClientPublishOptions): Promise<void> {
    const client = this.client;
    if (!client) return Promise.resolve();
    const problem = this.poison.refused.has(topic)
      ? "the broker dropped the connection on it before"
      : (topicProblem(topic) ?? this.sizeProblem(topic, payload));
    if (problem) {
      if (!this.refusedTopics.has(topic) && this.refusedTopics.size < 1000) {
        this.refusedTopics.add(topic);
        this.options.logger.error({ topic }, `not published: ${problem}`);
      }
      return Promise.resolve();
    }
    this.published += 1;
    return new Promise((resolve) => {
      client.publish(topic, payload, options, (error) => {
        if (error) this.options.logger.warn({ topic, err: error.message }, "the broker refused a publish");
        resolve();
      });
    });
  }

  /** A publish larger than the broker announced it accepts would get the bridge disconnected. */
  private sizeProblem(topic: string, payload: string): string | undefined {
    if (!Number.isFinite(this.maximumPacketSize)) return undefined;
    // fixed header, lengths, message id and properties: 32 bytes is more than they take
    const size = Buffer.byteLength(topic) + Buffer.byteLength(payload) + 32;
    if (size <= this.maximumPacketSize) return undefined;
    return `the message (${size} bytes) is larger than the broker accepts (${this.maximumPacketSize} bytes)`;
  }

  /** Publishes the final retained `offline` and disconnects cleanly (no last will). */
  async stop(finalStatus = "offline"): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.stopping = true;
    if (client.connected) {
      await within(
        this.publish(this.options.statusTopic, finalStatus, { qos: 1, retain: true }),
        STATUS_TIMEOUT_MS,
      );
    }
    // a broker that is gone (or killed while answers were in flight) never completes the end
    // handshake: the callback would never come, and the bridge would never say it stopped
    await within(new Promise<void>((resolve) => client.end(false, {}, () => resolve())), END_TIMEOUT_MS);
    client.end(true);
    this.freshness.end();
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

  private async onConnect(sessionPresent: boolean): Promise<void> {
    const client = this.client;
    if (!client) return;
    // mqtt.js leaves Nagle on: a write's answer (published right behind the /set clearing)
    // would wait ~40 ms for the broker's delayed ACK
    (client.stream as { setNoDelay?: (noDelay: boolean) => void }).setNoDelay?.(true);
    this.wasConnected = true;
    this.options.logger.info({ broker: this.safeUrl(), sessionPresent }, "MQTT connected");
    // subscriptions first, before the state is republished: a broker that lost the session
    // (restarted without persistence) delivers writes only once they are back
    const filters = [...new Set([this.freshness.markerTopic, ...this.handlers.map((entry) => entry.filter)])];
    await client.subscribeAsync(filters, { qos: 1 }).catch((error: Error) => {
      this.options.logger.warn({ err: error.message }, "MQTT subscribe failed");
    });
    this.emit("connect");
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    this.received += 1;
    if (this.freshness.isMarker(topic, payload)) return;
    const stale = this.freshness.staleness(packet);
    const delivery: Delivery = stale ? { stale } : {};
    for (const { filter, handler } of this.handlers) {
      if (!topicMatches(filter, topic)) continue;
      try {
        handler(topic, payload, packet, delivery);
      } catch (error) {
        this.options.logger.error({ topic, err: (error as Error).message }, "MQTT message handler failed");
      }
    }
  }
}
