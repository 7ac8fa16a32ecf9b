import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import { createClimkitSources } from "./climkit/source.js";
import type { Config } from "./config/schema.js";
import type { BridgeContext, BridgeEvents, Extension } from "./extension.js";
import { defaultExtensions } from "./extensions.js";
import { createGoeSources } from "./goe/charger.js";
import { currentInstance, defaultClientId, type InstanceIdentity } from "./instance.js";
import { type EmbeddedBroker, startEmbeddedBroker } from "./mqtt/broker.js";
import { MqttConnection } from "./mqtt/connection.js";
import { Publisher } from "./mqtt/publisher.js";
import { WriteRouter } from "./mqtt/writes.js";
import { createOvmsSources } from "./ovms/index.js";
import { claimRoot } from "./root-claim.js";
import type { Device, Sink, Source, Values } from "./source.js";
import { within } from "./util/duration.js";
import type { Logger } from "./util/log.js";

/**
 * Shares of the 5 s a stop may take (run.ts exits at 5 s whatever happens): writes get 2 s to
 * finish and their answers 0.2 s more, extensions 0.3 s, the MQTT connection 1.5 s (its final
 * `status` and the end handshake, bounded in connection.ts), the embedded broker 0.3 s.
 */
const STOP_BUDGET_MS = { writes: 2000, answers: 200, extensions: 300, broker: 300 } as const;

export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version?: string;
    };
    return pkg.version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
}

/** A source that wants to know when a car connects at a loadpoint (OVMS polls faster then). */
interface LoadpointObserver {
  setLoadpointConnected(loadpoint: number, connected: boolean): void;
}
function observesLoadpoints(source: Source): source is Source & LoadpointObserver {
  return typeof (source as Partial<LoadpointObserver>).setLoadpointConnected === "function";
}

/** Builds the sources of every configured upstream. Upstreams are added here and nowhere else. */
export type SourceFactory = (config: Config, logger: Logger) => Source[];
export const defaultSources: SourceFactory = (config, logger) => [
  ...createGoeSources(config.goe, logger),
  ...createClimkitSources(config.climkit, { logger: logger.child({ upstream: "climkit" }) }),
  ...createOvmsSources(config.ovms, { logger: logger.child({ upstream: "ovms" }) }),
];

/** Why a running daemon ends by itself: a `restart` request, or another instance took its root. */
export interface DaemonEnd {
  why: "restart" | "takenOver";
}

/** The composition root: builds the bridge from a validated config, starts and stops it in order. */
export class Daemon {
  readonly version = packageVersion();
  readonly events = new EventEmitter<BridgeEvents>();
  readonly instance: InstanceIdentity;
  /** Resolves when the daemon asks to be stopped (restart, taken over); never on its own otherwise. */
  readonly ended: Promise<DaemonEnd>;
  private endWith: (end: DaemonEnd) => void = () => undefined;
  private takenOver = false;
  private broker: EmbeddedBroker | undefined;
  private connection: MqttConnection | undefined;
  private publisher: Publisher | undefined;
  private router: WriteRouter | undefined;
  private sources: Source[] = [];
  /** Sources that follow whether a car is connected at a loadpoint, and what they last heard. */
  private loadpointObservers: Array<Source & LoadpointObserver> = [];
  private readonly carConnected = new Map<string, boolean>();
  private extensions: Extension[] = [];
  private readonly devices = new Map<string, Device>();
  private readonly availability = new Map<string, { online: boolean; error: string }>();

  constructor(
    readonly config: Config,
    private readonly logger: Logger,
    private readonly makeSources: SourceFactory = defaultSources,
    private readonly makeExtensions: (context: BridgeContext) => Extension[] = defaultExtensions,
  ) {
    this.instance = currentInstance(config.mqtt.clientId ?? defaultClientId(config.mqtt.topic));
    this.ended = new Promise((resolve) => (this.endWith = resolve));
  }

  /** Asks the runner to stop this daemon (and, for a restart, to start a new one). */
  end(why: DaemonEnd["why"]): void {
    if (why === "takenOver") this.takenOver = true;
    this.endWith({ why });
  }

  /** The broker URL the bridge uses (the embedded one when no url is configured). */
  brokerUrl(): string {
    return this.connection?.safeUrl() ?? "";
  }

  async start(): Promise<void> {
    const { config, logger } = this;
    let url = config.mqtt.url;
    let protocolVersion = config.mqtt.protocolVersion;
    if (!url) {
      this.broker = await startEmbeddedBroker(config.mqtt.listen, logger.child({ component: "broker" }), {
        username: config.mqtt.username,
        password: config.mqtt.password,
      });
      url = this.broker.url;
      protocolVersion = 4; // aedes speaks MQTT 3.1.1
    }
    const root = config.mqtt.topic;
    const staleTopics = this.broker ? [] : await claimRoot(config, url, protocolVersion, logger);
    const connection = new MqttConnection({
      url,
      clientId: this.instance.clientId,
      username: config.mqtt.username,
      password: config.mqtt.password,
      protocolVersion,
      ca: config.mqtt.ca,
      cert: config.mqtt.cert,
      key: config.mqtt.key,
      rejectUnauthorized: config.mqtt.rejectUnauthorized,
      statusTopic: `${root}/status`,
      root,
      sessionExpirySeconds: Math.round(config.mqtt.sessionExpiry / 1000),
      persistentSession: !this.broker,
      staleWriteAfterMs: config.mqtt.staleWriteAfter,
      logger: logger.child({ component: "mqtt" }),
    });
    const publisher = new Publisher(connection, root, logger.child({ component: "publisher" }));
    const router = new WriteRouter(
      connection,
      publisher,
      (topic) => this.resolve(topic),
      logger.child({ component: "writes" }),
      [config.homeassistant.prefix],
    );
    router.onWrite = (event) => this.events.emit("write", event);
    this.connection = connection;
    this.publisher = publisher;
    this.router = router;

    publisher.start();
    router.start();
    this.sources = this.makeSources(config, logger);
    this.loadpointObservers = this.sources.filter(observesLoadpoints);
    publisher.set("loadpoints", config.goe.length);

    const context: BridgeContext = {
      config,
      logger,
      version: this.version,
      connection,
      publisher,
      events: this.events,
      devices: () => [...this.devices.values()],
      availability: () => this.availability,
      write: (valueTopic, payload, origin) => router.write(valueTopic, payload, origin),
      instance: this.instance,
      end: (why) => this.end(why),
    };
    this.extensions = this.makeExtensions(context);
    for (const extension of this.extensions) {
      try {
        await extension.start();
      } catch (error) {
        logger.error(
          { extension: extension.name, err: (error as Error).message },
          "extension failed to start",
        );
      }
    }
    if (staleTopics.length > 0) {
      connection.once("connect", () => {
        for (const topic of staleTopics) publisher.clearRetained(topic);
        logger.info(
          { erased: staleTopics.length, example: staleTopics[0] },
          "erased the retained values of devices that are no longer configured",
        );
      });
    }
    connection.start();
    const sink = this.sink();
    for (const source of this.sources) {
      try {
        await source.start(sink);
      } catch (error) {
        // one broken upstream must not keep the others from running
        logger.error({ source: source.name, err: (error as Error).message }, "source failed to start");
      }
    }
    const summary = {
      version: this.version,
      broker: connection.safeUrl(),
      topic: root,
      clientId: this.instance.clientId,
      sources: this.sources.map((s) => s.name),
    };
    // "running" only once the broker has the bridge: before that nothing a user watches works
    if (connection.connected) logger.info(summary, "ev2mqtt running");
    else {
      logger.info(summary, "ev2mqtt started; waiting for the MQTT broker");
      connection.once("connect", () => logger.info(summary, "ev2mqtt running"));
    }
  }

  /**
   * Stops in reverse order: writes answered, sources stopped, `status offline`, broker closed.
   * Every step has its share of the 5 s a stop may take (STOP_BUDGET_MS), so a hanging upstream
   * or a broker that died meanwhile never keeps the bridge from saying it stopped.
   */
  async stop(): Promise<void> {
    const budget = STOP_BUDGET_MS;
    // writes under way need their source to finish them: stop taking writes and stop the
    // sources (no new polls; their pending writes are finished) at the same time. The router
    // answers what is still under way when its time is up.
    const sourcesStopped = within(
      Promise.all([
        this.router?.stop(budget.writes),
        ...this.sources.map((source) =>
          source
            .stop()
            .catch((error: Error) =>
              this.logger.warn({ source: source.name, err: error.message }, "stop failed"),
            ),
        ),
      ]),
      budget.writes + budget.answers,
    );
    if (!(await sourcesStopped))
      this.logger.warn("upstreams still busy at the stop deadline; not waiting for them");
    const extensionsStopped = (async () => {
      for (const extension of [...this.extensions].reverse()) {
        await extension
          .stop()
          .catch((error: Error) => this.logger.warn({ err: error.message }, "extension stop failed"));
      }
    })();
    await within(extensionsStopped, budget.extensions);
    // taken over: the root is the other instance's now, and it is online (bounded inside)
    await this.connection?.stop(this.takenOver ? "online" : "offline");
    await within(this.broker?.close(), budget.broker);
    this.logger.info("ev2mqtt stopped");
  }

  /** The device owning a value topic: the longest registered device topic that prefixes it. */
  private resolve(valueTopic: string): { device: Device; key: string } | undefined {
    const parts = valueTopic.split("/");
    for (let length = parts.length - 1; length >= 1; length--) {
      const device = this.devices.get(parts.slice(0, length).join("/"));
      if (device) return { device, key: parts.slice(length).join("/") };
    }
    return undefined;
  }

  private sink(): Sink {
    return {
      device: (device) => {
        this.devices.set(device.describe().topic, device);
        this.events.emit("device", device);
      },
      values: (topic: string, values: Values) => {
        this.publisher?.values(topic, values);
        this.events.emit("values", topic, values);
        // every charger poll carries `connected`: pass on only a change, and only to observers
        const connected = values.connected;
        if (typeof connected !== "boolean" || this.loadpointObservers.length === 0) return;
        if (!topic.startsWith("loadpoints/") || this.carConnected.get(topic) === connected) return;
        this.carConnected.set(topic, connected);
        const loadpoint = Number(topic.split("/")[1]);
        for (const observer of this.loadpointObservers) observer.setLoadpointConnected(loadpoint, connected);
      },
      availability: (topic, online, error) => {
        this.availability.set(topic, { online, error });
        this.publisher?.values(topic, { online, error });
        this.events.emit("availability", topic, online, error);
      },
      polled: (topic) => {
        this.publisher?.updated();
        this.events.emit("polled", topic);
      },
    };
  }
}
