import type { IPublishPacket } from "mqtt";
import type { Device, WriteResult } from "../source.js";
import { shown } from "../util/echo.js";
import type { Logger } from "../util/log.js";
import { type RequestTrail, withRequestTrail } from "../util/request-trail.js";
import type { Delivery, MqttConnection } from "./connection.js";
import type { Publisher } from "./publisher.js";
import { responseTopicRefusal } from "./response-topic.js";

/** Finds the device that owns a value topic (relative to the root) and the key within it. */
export type DeviceResolver = (valueTopic: string) => { device: Device; key: string } | undefined;

export interface WriteEvent {
  topic: string;
  result: WriteResult;
}

/** Where a write comes from: named in the log, and where else its answer goes. */
export interface WriteOrigin {
  /** The front door: `mqtt`, `rest`, `bridge`, … */
  via: string;
  /** An MQTT 5 response topic: answered there too, if the rule in response-topic.ts allows it. */
  response?: { topic: string; correlationData?: Buffer };
}

const MAX_PAYLOAD = 1024;
/** Value topics are 1 to 5 levels deep; `/set` is looked for down to this depth and answered. */
const DEEPEST_SUBSCRIBED = 10;

/**
 * The one write path of the bridge. `write()` resolves a value topic to its device, checks the
 * payload, carries the write out and answers it on `<value topic>/result`; MQTT `/set`
 * messages and every other front door (REST, bridge requests) go through it.
 * A retained `/set` is stale by definition (it was left on the broker while nobody acted on
 * it): it is never acted on, only cleared and answered.
 */
export class WriteRouter {
  /** Writes under way, each with the answer to give if the bridge stops before it is done. */
  private readonly pending = new Map<Promise<void>, () => Promise<void>>();
  private stopping = false;
  onWrite: ((event: WriteEvent) => void) | undefined;

  constructor(
    private readonly connection: MqttConnection,
    private readonly publisher: Publisher,
    private readonly resolve: DeviceResolver,
    private readonly logger: Logger,
    /** Topic prefixes other than the root that a response topic must never point into (HA discovery). */
    private readonly protectedPrefixes: readonly string[] = [],
  ) {}

  start(): void {
    const root = this.publisher.root;
    // `/set` at every depth down to DEEPEST_SUBSCRIBED, and one filter for anything deeper: the
    // filters don't overlap, so a message arrives once, and every `/set` gets an answer
    for (let depth = 0; depth <= DEEPEST_SUBSCRIBED; depth++) {
      this.connection.subscribe(
        [root, ...Array(depth).fill("+"), "set"].join("/"),
        (topic, payload, packet, delivery) => this.onMessage(topic, payload, packet, delivery),
      );
    }
    this.connection.subscribe(
      [root, ...Array(DEEPEST_SUBSCRIBED + 2).fill("+"), "#"].join("/"),
      (topic, payload, packet, delivery) => {
        if (topic.endsWith("/set")) this.onMessage(topic, payload, packet, delivery);
      },
    );
  }

  /**
   * Carries out a write to a value topic (relative to the root: `loadpoints/1/maxCurrent`) and
   * answers it on `<value topic>/result` (and on `origin.response`); resolves with the same
   * answer. Never rejects. Every front door of the bridge writes through here.
   */
  write(valueTopic: string, payload: string, origin: WriteOrigin = { via: "api" }): Promise<WriteResult> {
    let answered = false;
    let result: WriteResult | undefined;
    const answerOnce = async (outcome: WriteResult) => {
      if (answered) return;
      answered = true;
      result = outcome;
      await this.answer(valueTopic, origin, outcome);
    };
    const trail: RequestTrail = { sent: false };
    const task = withRequestTrail(trail, () => this.execute(valueTopic, payload, origin))
      .catch((error: unknown): WriteResult => {
        this.logger.error({ topic: valueTopic, err: String(error) }, "write failed unexpectedly");
        return { ok: false, error: "the write failed inside the bridge; see its log" };
      })
      .then(answerOnce)
      .catch((error: unknown) => this.logger.error({ err: String(error) }, "answering a write failed"));
    this.pending.set(task, () =>
      answerOnce({
        ok: false,
        error: trail.sent
          ? "sent; not confirmed: the bridge stopped before the upstream confirmed this write; check the value when it is back"
          : "not sent: the bridge stopped before this write went out; publish it again when the bridge is back",
      }),
    );
    return task.then(() => {
      this.pending.delete(task);
      return result ?? { ok: false, error: "the bridge stopped before the write was answered" };
    });
  }

  /**
   * Stops taking writes and waits (at most `timeoutMs`) for those under way. One still not
   * done then is answered anyway: a user waiting on `/result` learns that the bridge stopped
   * and must check the value, instead of hearing nothing.
   */
  async stop(timeoutMs = 3500): Promise<void> {
    this.stopping = true;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([Promise.all(this.pending.keys()), deadline]);
    clearTimeout(timer);
    await Promise.all([...this.pending.values()].map((giveUp) => giveUp()));
  }

  private onMessage(topic: string, payloadBuffer: Buffer, packet: IPublishPacket, delivery?: Delivery): void {
    // our own clearing of a /set topic comes back as an empty message: that is no write
    if (payloadBuffer.length === 0) return;
    const root = this.publisher.root;
    const valueTopic = topic === `${root}/set` ? "" : topic.slice(root.length + 1, -"/set".length);
    const responseTopic = packet.properties?.responseTopic;
    const origin: WriteOrigin = {
      via: "mqtt",
      response: responseTopic
        ? { topic: responseTopic, correlationData: packet.properties?.correlationData }
        : undefined,
    };
    this.publisher.clearRetained(topic);
    if (packet.retain) {
      this.logger.info({ topic }, "ignored a retained /set: it is stale; it was cleared");
      void this.answer(valueTopic, origin, {
        ok: false,
        error: "ignored: a retained /set is stale and is never acted on (publish without retain)",
      });
      return;
    }
    if (delivery?.stale) {
      this.logger.info({ topic }, "ignored a /set the broker kept too long");
      void this.answer(valueTopic, origin, { ok: false, error: delivery.stale });
      return;
    }
    // decoding a huge payload only to refuse it is wasted work (4 bytes per character at most)
    if (payloadBuffer.length > MAX_PAYLOAD * 4) {
      void this.answer(valueTopic, origin, {
        ok: false,
        error: `payload too long (${payloadBuffer.length} bytes, at most ${MAX_PAYLOAD} characters)`,
      });
      return;
    }
    void this.write(valueTopic, payloadBuffer.toString("utf8"), origin);
  }

  private async execute(valueTopic: string, rawPayload: string, origin: WriteOrigin): Promise<WriteResult> {
    if (this.stopping) return { ok: false, error: "the bridge is stopping; try again when it is back" };
    const responseRefusal = origin.response
      ? responseTopicRefusal(origin.response.topic, this.publisher.root, this.protectedPrefixes)
      : undefined;
    if (responseRefusal) return { ok: false, error: responseRefusal };
    if (rawPayload.length > MAX_PAYLOAD)
      return {
        ok: false,
        error: `payload too long (${rawPayload.length} characters, at most ${MAX_PAYLOAD})`,
      };
    const payload = rawPayload.trim();
    if (payload === "") return { ok: false, error: `payload is blank (got ${shown(rawPayload)})` };
    const target = this.resolve(valueTopic);
    // the topic is not echoed (the answer's own topic names it): see util/echo.ts
    if (!target) {
      return {
        ok: false,
        error: "no device has this topic (device topics: loadpoints/<n>, site, vehicles/<name>)",
      };
    }
    if (!target.device.write) return { ok: false, error: "this device takes no writes" };
    // a device must answer, not throw; if one does, the user still gets an answer (write())
    return await target.device.write(target.key, payload);
  }

  private async answer(valueTopic: string, origin: WriteOrigin, result: WriteResult): Promise<void> {
    this.logger.info(
      { topic: valueTopic, via: origin.via, ...result },
      result.ok ? "write done" : "write refused",
    );
    this.onWrite?.({ topic: valueTopic, result });
    const root = this.publisher.root;
    const resultTopic = valueTopic === "" ? `${root}/result` : `${root}/${valueTopic}/result`;
    // a value topic handed in by another front door may not be publishable (`+`, `#`, NUL)
    const publishable = !/[+#\0]/.test(valueTopic);
    const response =
      origin.response && !responseTopicRefusal(origin.response.topic, root, this.protectedPrefixes)
        ? origin.response
        : undefined;
    await this.publisher.result(publishable ? resultTopic : undefined, result, response);
  }
}
