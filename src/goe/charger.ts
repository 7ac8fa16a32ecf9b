import type { GoeConfig } from "../config/schema.js";
import type {
  Device,
  DeviceDescription,
  Sink,
  Source,
  SurplusReading,
  SurplusReceiver,
  WriteResult,
} from "../source.js";
import { describeError, errorKind } from "../upstream/errors.js";
import { WriteMerger } from "../upstream/merge.js";
import { Poller } from "../upstream/poller.js";
import { Priority, UpstreamQueue } from "../upstream/queue.js";
import type { Logger } from "../util/log.js";
import { GoeApi, type GoeSetOutcome, type GoeStatus } from "./api.js";
import { type Waiting, WriteConfirmations } from "./confirm.js";
import { loadpointEntities } from "./entities.js";
import { ChargerHistory } from "./history.js";
import { mapStatus, maxCurrentLimit, pollKeys, STATUS_KEYS } from "./mapping.js";
import { activeCardKeys, rfidCards, SETTINGS_EVERY_MS } from "./mapping-settings.js";
import { IdsSender, mapSurplus, SURPLUS_KEYS, surplusEntities } from "./surplus.js";
import { type GoePlan, planWrite } from "./writes.js";

/**
 * The go-e cloud answers a second status request within a second with the same data: polls
 * are spaced by this. Writes (and the read-back right after one) don't wait for it (issue 14.1).
 */
const REQUEST_SPACING_MS = 1000;

/** One merged /api/set and where the reads that can prove it begin. */
interface SentBatch {
  outcome: GoeSetOutcome;
  fromRead: number;
}

/**
 * The charger's reason for refusing a key, without the value it was sent: the answer passes
 * the secret scrubber, and an echoed value would make it a guessing oracle (util/echo.ts).
 */
function withoutValue(reason: string, value: unknown): string {
  let text = reason;
  for (const form of [JSON.stringify(value), typeof value === "string" ? value : undefined]) {
    if (form && form.length > 3) text = text.split(form).join("(the value)");
  }
  return text;
}

/** One go-e charger as a loadpoint: polls it, publishes it, writes to it. */
export class GoeCharger implements Source, Device, SurplusReceiver {
  readonly name: string;
  readonly topic: string;
  private readonly api: GoeApi;
  private readonly queue: UpstreamQueue;
  private readonly poller: Poller;
  private readonly merger: WriteMerger<Record<string, unknown>, SentBatch>;
  private readonly confirmations = new WriteConfirmations();
  /** The read-back waiting in the queue, if any. */
  private readBackQueued: "urgent" | "spaced" | undefined;
  private readonly extraKeys: ReadonlySet<string>;
  private sink: Sink | undefined;
  private status: GoeStatus | undefined;
  private describedAs = "";
  private lastError = "";
  private readonly writes = new Set<Promise<WriteResult>>();
  private readonly ids: IdsSender;
  /** What a poll asks for: the surplus read-back only where a surplus feed is configured. */
  private readonly statusKeys: readonly string[];
  private stopped = false;
  private readonly history = new ChargerHistory();
  /** When the rarely changing settings (mca, dwo, plan, thresholds, cards) were last read. */
  private settingsReadAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly config: GoeConfig,
    configPath: string,
    private readonly logger: Logger,
  ) {
    this.name = `goe:${config.serial}`;
    this.topic = `loadpoints/${config.loadpoint}`;
    this.extraKeys = new Set(config.writableKeys);
    this.api = new GoeApi({
      baseUrl: config.url ?? `https://${config.serial}.api.v3.go-e.io`,
      token: config.token,
      timeoutMs: config.timeout,
      configPath,
    });
    this.queue = new UpstreamQueue(this.name, REQUEST_SPACING_MS);
    this.ids = new IdsSender(this.queue, this.api);
    this.statusKeys = config.surplus ? [...STATUS_KEYS, ...SURPLUS_KEYS] : STATUS_KEYS;
    this.merger = new WriteMerger((take) =>
      this.queue.run(
        async () => {
          const outcome = await this.api.set(take());
          return { outcome, fromRead: this.confirmations.nextRead };
        },
        Priority.write,
        { urgent: true },
      ),
    );
    this.poller = new Poller({
      intervalMs: config.interval,
      poll: async () => {
        await this.poll(Priority.poll);
      },
      onFailure: (error, retryInMs) => this.onFailure(error, retryInMs),
    });
  }

  async start(sink: Sink): Promise<void> {
    this.sink = sink;
    sink.device(this);
    this.poller.start();
  }

  /** `bridge/request/poll`: a poll now, through the same queue as every other. */
  pollNow(): Promise<void> {
    return this.poller.pollNow();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.poller.stop();
    await Promise.all(this.writes);
    await this.queue.close();
    this.confirmations.abandon();
  }

  describe(): DeviceDescription {
    const firmware = typeof this.status?.fwv === "string" ? this.status.fwv : undefined;
    return {
      id: `goe-${this.config.serial}`,
      topic: this.topic,
      kind: "loadpoint",
      name:
        this.config.title ??
        (typeof this.status?.fna === "string" ? this.status.fna : `go-e ${this.config.serial}`),
      manufacturer: "go-e",
      model: `go-eCharger${typeof this.status?.var === "number" ? ` ${this.status.var} kW` : ""}`,
      serial: this.config.serial,
      swVersion: firmware,
      configurationUrl: this.api.cloud ? undefined : this.config.url,
      entities: [
        ...loadpointEntities(maxCurrentLimit(this.status), this.status ? rfidCards(this.status) : []),
        ...(this.config.surplus ? surplusEntities() : []),
      ],
    };
  }

  write(key: string, payload: string): Promise<WriteResult> {
    // a device answers, it never throws: even a bug in a plan becomes a refusal, so the
    // promise kept for stop() can't turn into an unhandled rejection
    const task = this.carryOut(key, payload).catch(
      (error: unknown): WriteResult => ({ ok: false, error: `write failed: ${describeError(error)}` }),
    );
    this.writes.add(task);
    void task.then(() => this.writes.delete(task));
    return task;
  }

  feedSurplus(reading: SurplusReading): Promise<WriteResult> {
    if (this.stopped) return Promise.resolve({ ok: false, error: "the charger's connection is stopped" });
    return this.ids.send(reading);
  }

  private async carryOut(key: string, payload: string): Promise<WriteResult> {
    const plan = planWrite(key, payload, this.status, this.extraKeys, {
      nowMs: Date.now(),
      logicModeAfterPlan: (fallback) => this.history.logicModeAfterPlan(fallback),
    });
    if ("error" in plan) return { ok: false, error: plan.error };
    const { answer, waiting } = this.confirmations.add(key, plan);
    void this.send(plan, waiting);
    return answer;
  }

  /** Sends a write (merged with those waiting with it), then has it read back. */
  private async send(plan: GoePlan, waiting: Waiting): Promise<void> {
    let sent: SentBatch;
    try {
      sent = await this.merger.submit(plan.params);
    } catch (error) {
      waiting.answer({ ok: false, error: describeError(error) });
      return;
    }
    const refused = Object.entries(plan.params).flatMap(([param, value]) => {
      const reason = sent.outcome.rejected.get(param);
      return reason === undefined ? [] : [`${param}: ${withoutValue(reason, value)}`];
    });
    if (refused.length > 0) {
      waiting.answer({ ok: false, error: `the charger refused ${refused.join("; ")}` });
      return;
    }
    this.confirmations.sent(waiting, sent.fromRead);
    this.readBack(true);
  }

  /**
   * Queues a status read for the writes waiting to be confirmed: urgent right after a set (the
   * user waits), spaced like a poll when a read did not show the value yet.
   */
  private readBack(urgent: boolean): void {
    if (this.readBackQueued === "urgent" || (this.readBackQueued === "spaced" && !urgent)) return;
    this.readBackQueued = urgent ? "urgent" : "spaced";
    this.poll(Priority.readBack, {
      urgent,
      onStart: () => {
        this.readBackQueued = undefined;
      },
    }).catch(() => {
      // a failed read answers the writes it was to prove (poll); the poller reports the charger
    });
  }

  /**
   * Reads the status (plus the keys waiting writes need to confirm), publishes it, and offers
   * it to the waiting writes.
   */
  private async poll(
    priority: Priority,
    options: { urgent?: boolean; onStart?: () => void } = {},
  ): Promise<GoeStatus> {
    let read: { number: number; keys: string[] } | undefined;
    let status: GoeStatus;
    let withSettings = false;
    let startedAt = 0;
    try {
      status = await this.queue.run(
        () => {
          options.onStart?.();
          read = this.confirmations.startRead();
          startedAt = Date.now();
          withSettings = startedAt - this.settingsReadAt >= SETTINGS_EVERY_MS;
          const extra = [...read.keys, ...activeCardKeys(this.status)];
          return this.api.status(pollKeys(this.statusKeys, withSettings, extra));
        },
        priority,
        { urgent: options.urgent },
      );
    } catch (error) {
      if (read) this.confirmations.readFailed(read.number, describeError(error));
      throw error;
    }
    if (withSettings) this.settingsReadAt = startedAt;
    // merged in place: a new object per poll would live until the next poll, long enough to
    // reach V8's old generation (1000 of them a second at 1000 chargers)
    this.status = Object.assign(this.status ?? {}, status);
    this.publish(status, this.history.observe(status));
    if (read && this.confirmations.settle(read.number, status)) this.readBack(false);
    return status;
  }

  private publish(status: GoeStatus, sessionEnergy: number | undefined): void {
    const sink = this.sink;
    if (!sink || !this.status) return;
    // settings come every SETTINGS_EVERY_MS: map what is known of all keys, not this answer's
    const values = mapStatus(this.status, this.config.title);
    // only a fed charger is asked for the surplus keys
    if (this.config.surplus) mapSurplus(status, values);
    if (sessionEnergy !== undefined) values.sessionEnergy = sessionEnergy;
    sink.values(this.topic, values);
    if (this.lastError !== "" || !this.describedAs) {
      if (this.lastError) this.logger.info({ charger: this.name }, "go-e charger reachable again");
      this.lastError = "";
      sink.availability(this.topic, true, "");
    }
    // the description carries the current limit and firmware: announce it again when they change
    const cards = rfidCards(this.status).map((card) => `${card.number}:${card.name}`);
    const identity = `${maxCurrentLimit(this.status)}|${String(this.status.fwv)}|${String(this.status.fna)}|${cards.join(",")}`;
    if (identity !== this.describedAs) {
      this.describedAs = identity;
      sink.device(this);
    }
    sink.polled(this.topic);
  }

  private onFailure(error: unknown, retryInMs: number): void {
    const message = describeError(error);
    if (message !== this.lastError) {
      this.logger.warn({ charger: this.name, kind: errorKind(error), retryInMs }, message);
      this.lastError = message;
      this.sink?.availability(this.topic, false, message);
    }
  }
}

export function createGoeSources(configs: GoeConfig[], logger: Logger): GoeCharger[] {
  return configs.map(
    (config, index) => new GoeCharger(config, `goe[${index}]`, logger.child({ upstream: "goe" })),
  );
}
