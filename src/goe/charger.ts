import type { GoeConfig } from "../config/schema.js";
import type {
  Device,
  DeviceDescription,
  Sink,
  Source,
  SurplusReading,
  SurplusReceiver,
  Value,
  WriteResult,
} from "../source.js";
import { describeError, errorKind } from "../upstream/errors.js";
import { WriteMerger } from "../upstream/merge.js";
import { Poller } from "../upstream/poller.js";
import { Priority, UpstreamQueue } from "../upstream/queue.js";
import type { Logger } from "../util/log.js";
import { GoeApi, type GoeSetOutcome, type GoeStatus } from "./api.js";
import { loadpointEntities } from "./entities.js";
import { mapStatus, maxCurrentLimit, STATUS_KEYS } from "./mapping.js";
import { IdsSender, mapSurplus, SURPLUS_KEYS, surplusEntities } from "./surplus.js";
import { planWrite } from "./writes.js";

/** The go-e cloud answers a second request within a second with the same data: don't ask. */
const REQUEST_SPACING_MS = 1000;
/** Read-backs after a write before it counts as not applied (the cloud forwards asynchronously). */
const READ_BACK_TRIES = 3;

/** One go-e charger as a loadpoint: polls it, publishes it, writes to it. */
export class GoeCharger implements Source, Device, SurplusReceiver {
  readonly name: string;
  readonly topic: string;
  private readonly api: GoeApi;
  private readonly queue: UpstreamQueue;
  private readonly poller: Poller;
  private readonly merger: WriteMerger<Record<string, unknown>, GoeSetOutcome>;
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
    this.merger = new WriteMerger((take) => this.queue.run(() => this.api.set(take()), Priority.write));
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

  async stop(): Promise<void> {
    this.stopped = true;
    await this.poller.stop();
    await Promise.all(this.writes);
    await this.queue.close();
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
        ...loadpointEntities(maxCurrentLimit(this.status)),
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
    const plan = planWrite(key, payload, this.status, this.extraKeys);
    if ("error" in plan) return { ok: false, error: plan.error };
    let outcome: GoeSetOutcome;
    try {
      outcome = await this.merger.submit(plan.params);
    } catch (error) {
      return { ok: false, error: describeError(error) };
    }
    const refused = Object.keys(plan.params).flatMap((param) => {
      const reason = outcome.rejected.get(param);
      return reason === undefined ? [] : [`${param}: ${reason}`];
    });
    if (refused.length > 0) return { ok: false, error: `the charger refused ${refused.join("; ")}` };
    // a 202 from the cloud only means "forwarded": the value counts once the charger shows it
    let seen: Value | undefined;
    for (let attempt = 0; attempt < READ_BACK_TRIES; attempt++) {
      try {
        const status = await this.poll(Priority.readBack, Object.keys(plan.params));
        seen = plan.readBack(status);
        if (seen === plan.expected) return { ok: true, value: seen };
      } catch (error) {
        return { ok: false, error: `sent, but the read-back failed: ${describeError(error)}` };
      }
    }
    return {
      ok: false,
      error: `the charger took the request but still reports ${key}=${JSON.stringify(seen ?? null)}`,
    };
  }

  /** Reads the status (plus any extra keys a write needs to confirm) and publishes it. */
  private async poll(priority: number, extraKeys: string[] = []): Promise<GoeStatus> {
    const keys = extraKeys.length > 0 ? [...new Set([...this.statusKeys, ...extraKeys])] : this.statusKeys;
    const status = await this.queue.run(() => this.api.status(keys), priority as Priority);
    this.status = { ...this.status, ...status };
    const sink = this.sink;
    if (!sink) return status;
    sink.values(this.topic, { ...mapStatus(status, this.config.title), ...mapSurplus(status) });
    if (this.lastError !== "" || !this.describedAs) {
      if (this.lastError) this.logger.info({ charger: this.name }, "go-e charger reachable again");
      this.lastError = "";
      sink.availability(this.topic, true, "");
    }
    // the description carries the current limit and firmware: announce it again when they change
    const identity = `${maxCurrentLimit(this.status)}|${String(this.status.fwv)}|${String(this.status.fna)}`;
    if (identity !== this.describedAs) {
      this.describedAs = identity;
      sink.device(this);
    }
    sink.polled(this.topic);
    return status;
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
