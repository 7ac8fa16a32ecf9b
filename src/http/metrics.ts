import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { BridgeContext } from "../extension.js";
import type { WriteEvent } from "../mqtt/writes.js";
import { kindOfStatus } from "../upstream/errors.js";
import { type HttpEvent, observeHttp } from "../upstream/http.js";
import { allQueues, type QueueStats } from "../upstream/queue.js";

const PREFIX = "ev2mqtt_";

/** A gauge with one series per upstream queue, read from its stats at scrape time. */
function queueGauge(
  registers: Registry[],
  name: string,
  help: string,
  read: (stats: QueueStats) => number,
): void {
  new Gauge({
    name: `${PREFIX}${name}`,
    help,
    labelNames: ["queue"],
    registers,
    collect() {
      this.reset();
      for (const queue of allQueues()) {
        const stats = queue.stats();
        this.set({ queue: stats.name }, read(stats));
      }
    },
  });
}

/** A counter that mirrors a running total kept elsewhere (the MQTT connection counts its messages). */
function mirroredCounter(registers: Registry[], name: string, help: string, read: () => number): void {
  new Counter({
    name: `${PREFIX}${name}`,
    help,
    registers,
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/**
 * The bridge's Prometheus metrics, in a registry of its own (never prom-client's global one,
 * so two daemons in one process, as in tests, do not collide). Labels carry only device
 * topics, upstream host names, queue names and error kinds: nothing secret.
 */
export class BridgeMetrics {
  readonly registry = new Registry();
  private readonly polls: Counter<"device">;
  private readonly upstreamErrors: Counter<"host" | "kind">;
  private readonly requestDuration: Histogram<"host">;
  private readonly writes: Counter<"result">;
  private stopObservingHttp: (() => void) | undefined;

  constructor(private readonly context: BridgeContext) {
    const registers = [this.registry];
    const { connection } = context;
    this.polls = new Counter({
      name: `${PREFIX}polls_total`,
      help: "Successful polls per device",
      labelNames: ["device"],
      registers,
    });
    this.upstreamErrors = new Counter({
      name: `${PREFIX}upstream_errors_total`,
      help: "Failed upstream requests by host and kind (transport errors and HTTP statuses >= 400)",
      labelNames: ["host", "kind"],
      registers,
    });
    this.requestDuration = new Histogram({
      name: `${PREFIX}upstream_request_duration_seconds`,
      help: "Duration of upstream HTTP requests",
      labelNames: ["host"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.writes = new Counter({
      name: `${PREFIX}writes_total`,
      help: "Writes answered on /result, by outcome",
      labelNames: ["result"],
      registers,
    });
    for (const result of ["ok", "refused"]) this.writes.inc({ result }, 0);

    queueGauge(
      registers,
      "queue_depth",
      "Upstream requests waiting or running, per upstream queue",
      (stats) => stats.waiting + stats.running,
    );
    queueGauge(
      registers,
      "queue_wait_seconds",
      "How long the latest request of each upstream queue waited for its turn",
      (stats) => stats.lastWaitMs / 1000,
    );
    mirroredCounter(
      registers,
      "mqtt_messages_published_total",
      "MQTT messages the bridge published",
      () => connection.published,
    );
    mirroredCounter(
      registers,
      "mqtt_messages_received_total",
      "MQTT messages the bridge received",
      () => connection.received,
    );
    new Gauge({
      name: `${PREFIX}mqtt_connected`,
      help: "1 while the broker connection is up",
      registers,
      collect() {
        this.set(connection.connected ? 1 : 0);
      },
    });
    new Gauge({
      name: `${PREFIX}device_online`,
      help: "1 while the bridge gets data for the device from its upstream",
      labelNames: ["device"],
      registers,
      collect() {
        this.reset();
        for (const [device, state] of context.availability()) this.set({ device }, state.online ? 1 : 0);
      },
    });
    new Gauge({
      name: `${PREFIX}info`,
      help: "The running version",
      labelNames: ["version"],
      registers,
    }).set({ version: context.version }, 1);
    // process_* and nodejs_* under their usual names, so stock dashboards work
    collectDefaultMetrics({ register: this.registry });
  }

  start(): void {
    this.context.events.on("polled", this.onPolled);
    this.context.events.on("write", this.onWrite);
    this.stopObservingHttp = observeHttp(this.onHttp);
  }

  stop(): void {
    this.context.events.off("polled", this.onPolled);
    this.context.events.off("write", this.onWrite);
    this.stopObservingHttp?.();
    this.stopObservingHttp = undefined;
  }

  /** The exposition text and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private readonly onPolled = (device: string): void => {
    this.polls.inc({ device });
  };

  private readonly onWrite = (event: WriteEvent): void => {
    this.writes.inc({ result: event.result.ok ? "ok" : "refused" });
  };

  private readonly onHttp = (event: HttpEvent): void => {
    const host = event.host;
    this.requestDuration.observe({ host }, event.durationMs / 1000);
    if (event.error) this.upstreamErrors.inc({ host, kind: event.error });
    else if (event.status !== undefined && event.status >= 400) {
      this.upstreamErrors.inc({ host, kind: kindOfStatus(event.status) });
    }
  };
}
