import type { IPublishPacket } from "mqtt";
import type { Device, WriteResult } from "../source.js";
import type { Logger } from "../util/log.js";
import type { MqttConnection } from "./connection.js";
import type { Publisher } from "./publisher.js";

/** Finds the device that owns a value topic (relative to the root) and the key within it. */
export type DeviceResolver = (valueTopic: string) => { device: Device; key: string } | undefined;

export interface WriteEvent {
  topic: string;
  result: WriteResult;
}

const MAX_PAYLOAD = 1024;
/** `/set` sits 2 to 5 levels below the root: `site/x/set` … `loadpoints/1/goe/amp/set`. */
const DEPTHS = [2, 3, 4, 5];

/**
 * Turns `<root>/<value topic>/set` messages into device writes and answers every one on
 * `<value topic>/result` (and on the MQTT 5 response topic when the request names one).
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
  ) {}

  start(): void {
    const root = this.publisher.root;
    for (const depth of DEPTHS) {
      const filter = `${root}/${Array(depth).fill("+").join("/")}/set`;
      this.connection.subscribe(filter, (topic, payload, packet) => this.onMessage(topic, payload, packet));
    }
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

  private onMessage(topic: string, payloadBuffer: Buffer, packet: IPublishPacket): void {
    const payload = payloadBuffer.toString("utf8").trim();
    // our own clearing of a /set topic comes back as an empty message
    if (payload === "") return;
    const valueTopic = topic.slice(this.publisher.root.length + 1, -"/set".length);
    const resultTopic = `${this.publisher.root}/${valueTopic}/result`;
    const responseTopic = packet.properties?.responseTopic;
    const response = responseTopic
      ? { topic: responseTopic, correlationData: packet.properties?.correlationData }
      : undefined;
    this.publisher.clearRetained(topic);
    if (packet.retain) {
      this.logger.info({ topic }, "ignored a retained /set: it is stale; it was cleared");
      void this.answer(valueTopic, resultTopic, response, {
        ok: false,
        error: "ignored: a retained /set is stale and is never acted on (publish without retain)",
      });
      return;
    }
    let answered = false;
    const answerOnce = (result: WriteResult) => {
      if (answered) return Promise.resolve();
      answered = true;
      return this.answer(valueTopic, resultTopic, response, result);
    };
    const task = this.execute(valueTopic, payload).then(answerOnce);
    this.pending.set(task, () =>
      answerOnce({
        ok: false,
        error: "the bridge stopped before the upstream confirmed this write; check the value when it is back",
      }),
    );
    void task.finally(() => this.pending.delete(task));
  }

  private async execute(valueTopic: string, payload: string): Promise<WriteResult> {
    if (this.stopping) return { ok: false, error: "the bridge is stopping; try again when it is back" };
    if (payload.length > MAX_PAYLOAD)
      return { ok: false, error: `payload too long (${payload.length} bytes)` };
    const target = this.resolve(valueTopic);
    if (!target) return { ok: false, error: `no device has the topic ${valueTopic}` };
    if (!target.device.write) return { ok: false, error: `${valueTopic} cannot be written` };
    try {
      return await target.device.write(target.key, payload);
    } catch (error) {
      // a device must answer, not throw; if one does, the user still gets an answer
      this.logger.error({ topic: valueTopic, err: (error as Error).message }, "write failed unexpectedly");
      return { ok: false, error: (error as Error).message };
    }
  }

  private async answer(
    valueTopic: string,
    resultTopic: string,
    response: { topic: string; correlationData?: Buffer } | undefined,
    result: WriteResult,
  ): Promise<void> {
    this.logger.info({ topic: valueTopic, ...result }, result.ok ? "write done" : "write refused");
    this.onWrite?.({ topic: valueTopic, result });
    await this.publisher.result(resultTopic, result, response);
  }
}
