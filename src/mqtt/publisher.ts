import type { IPublishPacket } from "mqtt";
import type { Value, Values, WriteResult } from "../source.js";
import type { Logger } from "../util/log.js";
import { scrub, secretsGeneration } from "../util/secrets.js";
import type { MqttConnection } from "./connection.js";
import { encodeValue } from "./encode.js";
import { responseTopicRefusal } from "./response-topic.js";

const RETAINED = { qos: 1, retain: true } as const;

/** One value of one device as last set; `secrets`: the generation of secrets it was scrubbed with. */
interface Slot {
  topic: string;
  value: Value;
  secrets: number;
}
/**
 * Publishes in flight at once in a republish: at 1000 chargers the whole state is some 60 000
 * messages, and handing them to the client all at once would hold every one of them, as packet
 * and as socket buffer, until the broker has read them.
 */
const REPUBLISH_BATCH = 256;

/**
 * Retained messages the bridge does not keep but builds again when they must be republished:
 * Home Assistant's configs, about 1 KB each, 30 per charger.
 */
export type RetainedSource = () => Iterable<{ topic: string; payload: string }>;

/**
 * The one path from the bridge's state to the broker. It keeps the current payload of every
 * retained topic, publishes a value only when it changes, and after every (re)connect publishes
 * `status online` and then the whole state again, so a broker restarted without persistence is
 * complete again. Values that change while the broker is away are not queued: the republish
 * after the reconnect carries their latest state. Large retained payloads that can be built
 * again (Home Assistant's configs) are not kept: their owner announces them and adds a source
 * that builds them for each republish.
 */
export class Publisher {
  private readonly state = new Map<string, string>();
  /**
   * Per device topic and key: the full topic, built once, and the value last set there. Every
   * poll sets some 30 values, mostly unchanged numbers and booleans: those are neither encoded
   * nor looked up again.
   */
  private readonly slots = new Map<string, Map<string, Slot>>();
  private lastUpdated = 0;
  private readonly sources: RetainedSource[] = [];
  /** Counts republish() calls: an older one still under way stops when a newer one begins. */
  private republishes = 0;
  /** Retained state messages sent, for metrics and the idle-traffic benchmark. */
  statePublishes = 0;

  constructor(
    private readonly connection: MqttConnection,
    readonly root: string,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.connection.on("connect", () => void this.republish());
  }

  /** Sets one value; `topic` is relative to the root. */
  set(topic: string, value: Value): void {
    this.setValue(`${this.root}/${topic}`, value);
  }

  /** Sets the values of one device; keys are relative to the device topic. */
  values(deviceTopic: string, values: Values): void {
    let slots = this.slots.get(deviceTopic);
    if (!slots) {
      slots = new Map();
      this.slots.set(deviceTopic, slots);
    }
    const secrets = secretsGeneration();
    for (const key in values) {
      const value = values[key];
      if (value === undefined) continue;
      const slot = slots.get(key);
      if (slot === undefined) {
        const topic = `${this.root}/${deviceTopic}/${key}`;
        slots.set(key, { topic, value, secrets });
        this.setValue(topic, value);
      } else if (
        slot.value !== value ||
        // a string goes through scrub() again once a secret was learnt since
        (typeof value === "string" && slot.secrets !== secrets)
      ) {
        slot.value = value;
        slot.secrets = secrets;
        this.setValue(slot.topic, value);
      }
    }
  }

  /** `<root>/updated`: Unix seconds of the latest successful poll, at most once a second. */
  updated(now = Date.now()): void {
    const seconds = Math.floor(now / 1000);
    if (seconds === this.lastUpdated) return;
    this.lastUpdated = seconds;
    this.set("updated", seconds);
  }

  /** Publishes a retained raw payload outside the value encoding (JSON for discovery, bridge/info). */
  setRaw(fullTopic: string, payload: string): void {
    this.setPayload(fullTopic, scrub(payload));
  }

  /**
   * Publishes a retained raw payload the bridge does not keep: whoever calls this builds it again
   * for a republish through a source (addSource). Resolves once the broker has it.
   */
  announce(fullTopic: string, payload: string): Promise<void> {
    if (!this.connection.connected) return Promise.resolve();
    this.statePublishes += 1;
    return this.connection.publish(fullTopic, scrub(payload), RETAINED);
  }

  /** Adds retained messages to every republish, after the kept state. */
  addSource(source: RetainedSource): void {
    this.sources.push(source);
  }

  /** Erases a retained message the bridge never owned (a stale `/set`). */
  clearRetained(fullTopic: string): void {
    void this.connection.publish(fullTopic, "", RETAINED);
  }

  /**
   * The answer to a write: not retained, queued by the client if the broker is away. Sent to
   * `fullTopic` (unless undefined: a write whose topic can't be published to) and to `response`.
   */
  result(
    fullTopic: string | undefined,
    result: WriteResult,
    response?: { topic: string; correlationData?: Buffer },
  ): Promise<void> {
    const payload = scrub(JSON.stringify(result));
    const sends: Promise<void>[] = [];
    if (fullTopic !== undefined)
      sends.push(this.connection.publish(fullTopic, payload, { qos: 1, retain: false }));
    if (response) {
      sends.push(
        this.connection.publish(response.topic, payload, {
          qos: 1,
          retain: false,
          properties: response.correlationData ? { correlationData: response.correlationData } : {},
        }),
      );
    }
    return Promise.all(sends).then(() => undefined);
  }

  /**
   * An answer that is no write result (a bridge request's): not retained, on `fullTopic`, and
   * on the request's MQTT 5 response topic when that is a safe one (see responseTopicRefusal).
   */
  response(
    fullTopic: string,
    payload: string,
    request: IPublishPacket,
    discoveryPrefix: string,
  ): Promise<void> {
    const text = scrub(payload);
    const sends = [this.connection.publish(fullTopic, text, { qos: 1, retain: false })];
    const responseTopic = request.properties?.responseTopic;
    if (responseTopic) {
      const refusal = responseTopicRefusal(responseTopic, this.root, [discoveryPrefix]);
      if (refusal) this.logger.warn({ responseTopic, refusal }, "response topic refused");
      else {
        const correlationData = request.properties?.correlationData;
        sends.push(
          this.connection.publish(responseTopic, text, {
            qos: 1,
            retain: false,
            properties: correlationData ? { correlationData } : {},
          }),
        );
      }
    }
    return Promise.all(sends).then(() => undefined);
  }

  /**
   * Publishes `status online`, the whole state and every source's messages; after a reconnect
   * or a Home Assistant restart. Paced: a batch at a time, each once the broker has the last.
   */
  async republish(): Promise<void> {
    if (!this.connection.connected) return;
    const run = ++this.republishes;
    await this.connection.publish(`${this.root}/status`, "online", RETAINED);
    let batch: Promise<void>[] = [];
    let topics = 0;
    for (const { topic, payload } of this.everything()) {
      if (run !== this.republishes || !this.connection.connected) return;
      batch.push(this.connection.publish(topic, payload, RETAINED));
      this.statePublishes += 1;
      topics += 1;
      if (batch.length < REPUBLISH_BATCH) continue;
      await Promise.all(batch);
      batch = [];
    }
    await Promise.all(batch);
    this.logger.debug({ topics }, "published the whole state");
  }

  /** The kept state, then each source's messages, read as they are published. */
  private *everything(): Generator<{ topic: string; payload: string }> {
    for (const [topic, payload] of this.state) yield { topic, payload };
    for (const source of this.sources) {
      for (const { topic, payload } of source()) yield { topic, payload: scrub(payload) };
    }
  }

  private setValue(fullTopic: string, value: Value): void {
    this.setPayload(fullTopic, typeof value === "string" ? scrub(value) : encodeValue(value));
  }

  private setPayload(fullTopic: string, payload: string): void {
    if (this.state.get(fullTopic) === payload) return;
    this.state.set(fullTopic, payload);
    if (!this.connection.connected) return;
    this.statePublishes += 1;
    void this.connection.publish(fullTopic, payload, RETAINED);
  }
}
