import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IPublishPacket } from "mqtt";
import type { BridgeContext, Extension } from "../extension.js";
import type { RetainedSource } from "../mqtt/publisher.js";
import type { Logger } from "../util/log.js";
import { type DiscoveryCandidate, type DiscoveryOptions, discoveryCandidates } from "./config.js";
import { configFilter, isOwnTopic } from "./ids.js";
import { ORIGIN_NAME } from "./templates.js";

export interface HomeAssistantTimings {
  /** How long the retained configs on the broker are read at start; default 2 s. */
  scanMs?: number;
  /** Delay between Home Assistant's `online` birth message and the republish; default 5 s. */
  restartDelayMs?: number;
  /** Devices announce themselves in bursts: configs are rebuilt once a burst is over; default 200 ms. */
  debounceMs?: number;
}

/** The project's home page from package.json (`homepage`, else `repository`), for `origin.support_url`. */
export function supportUrl(): string | undefined {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      homepage?: unknown;
      repository?: unknown;
    };
    const repository =
      typeof pkg.repository === "object" && pkg.repository !== null
        ? (pkg.repository as { url?: unknown }).url
        : pkg.repository;
    const url = typeof pkg.homepage === "string" ? pkg.homepage : repository;
    if (typeof url !== "string") return undefined;
    const https = url.replace(/^git\+/, "").replace(/\.git$/, "");
    return /^https?:\/\//.test(https) ? https : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Home Assistant MQTT discovery, built only from what the devices describe.
 *
 * Start: the retained configs on the broker are read for `scanMs`; those this bridge announced
 * earlier (its node id, `origin.name` ev2mqtt) but no longer generates are cleared with an
 * empty retained message, then the current configs are published (retained, QoS 1). With
 * `discovery: false` the scan clears every config of this bridge and nothing is announced.
 * Afterwards, a changed device description republishes only the configs that changed and clears
 * the ones that went away. Home Assistant's birth message (`<prefix>/status` = `online`)
 * republishes the whole state after `restartDelayMs`.
 *
 * The configs are not kept: 1000 chargers make some 30 000 of them, about 30 MB. Only a
 * fingerprint of each is, to tell what changed; for a republish (a reconnect, Home Assistant's
 * restart) they are built again from the devices' descriptions, and published a batch at a time.
 */
export class HomeAssistantDiscovery implements Extension {
  readonly name = "homeassistant";
  private readonly logger: Logger;
  private readonly options: DiscoveryOptions;
  private readonly enabled: boolean;
  private readonly scanMs: number;
  private readonly restartDelayMs: number;
  private readonly debounceMs: number;
  /** Own config topics found retained on the broker during the start-up scan. */
  private readonly found = new Set<string>();
  /** Config topic → fingerprint of the payload announced there. */
  private announced = new Map<string, string>();
  /** The announcement under way, and whether another is due once it is over. */
  private publishing: Promise<void> | undefined;
  private publishAgain = false;
  private readonly reported = new Set<string>();
  private scanning = false;
  private scanned = false;
  private stopped = false;
  private scanTimer: NodeJS.Timeout | undefined;
  private debounceTimer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private scanDone: (() => void) | undefined;
  /** Resolves once the start-up scan is over and the configs are out (for tests and the demo). */
  readonly ready: Promise<void>;

  constructor(
    private readonly context: BridgeContext,
    timings: HomeAssistantTimings = {},
  ) {
    const { homeassistant, mqtt } = context.config;
    this.logger = context.logger.child({ component: "homeassistant" });
    this.enabled = homeassistant.discovery;
    this.options = {
      prefix: homeassistant.prefix,
      root: mqtt.topic,
      version: context.version,
      supportUrl: supportUrl(),
    };
    this.scanMs = timings.scanMs ?? 2000;
    this.restartDelayMs = timings.restartDelayMs ?? 5000;
    this.debounceMs = timings.debounceMs ?? 200;
    this.ready = new Promise((resolve) => {
      this.scanDone = resolve;
    });
  }

  async start(): Promise<void> {
    const { connection, events } = this.context;
    this.scanning = true;
    connection.subscribe(configFilter(this.options.prefix), this.onConfig);
    if (this.enabled) {
      connection.subscribe(`${this.options.prefix}/status`, this.onHomeAssistantStatus);
      events.on("device", this.schedule);
      this.context.publisher.addSource(this.everyConfig);
    }
    if (connection.connected) this.beginScan();
    else connection.once("connect", this.beginScan);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.context.events.off("device", this.schedule);
    this.context.connection.off("connect", this.beginScan);
    clearTimeout(this.scanTimer);
    clearTimeout(this.debounceTimer);
    clearTimeout(this.restartTimer);
    if (this.scanning) this.context.connection.unsubscribe(configFilter(this.options.prefix), this.onConfig);
    this.scanning = false;
    this.scanDone?.();
  }

  private readonly beginScan = (): void => {
    clearTimeout(this.scanTimer);
    this.scanTimer = setTimeout(() => this.endScan(), this.scanMs);
    this.scanTimer.unref();
  };

  private readonly onConfig = (topic: string, payload: Buffer, packet: IPublishPacket): void => {
    // only what the broker kept from before counts; live messages are our own or someone else's now
    if (!this.scanning || !packet.retain || payload.length === 0) return;
    if (!isOwnTopic(this.options.prefix, this.options.root, topic)) return;
    try {
      const config = JSON.parse(payload.toString("utf8")) as { origin?: { name?: unknown } };
      if (config?.origin?.name === ORIGIN_NAME) this.found.add(topic);
    } catch {
      // not ours: the bridge only ever publishes JSON here
    }
  };

  private endScan(): void {
    if (this.stopped || !this.scanning) return;
    this.scanning = false;
    this.scanned = true;
    this.context.connection.unsubscribe(configFilter(this.options.prefix), this.onConfig);
    if (this.enabled) {
      void this.publish().then(() => this.scanDone?.());
      return;
    }
    for (const topic of this.found) this.context.publisher.clearRetained(topic);
    if (this.found.size > 0) {
      this.logger.info(
        { removed: this.found.size },
        "Home Assistant discovery is off: removed the configs this bridge had announced",
      );
    }
    this.found.clear();
    this.scanDone?.();
  }

  private readonly schedule = (): void => {
    // the end of the start-up scan publishes everything there is by then
    if (!this.scanned || this.stopped) return;
    clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => void this.publish(), this.debounceMs);
    this.debounceTimer.unref();
  };

  private readonly onHomeAssistantStatus = (
    _topic: string,
    payload: Buffer,
    packet: IPublishPacket,
  ): void => {
    // a retained birth message is not a restart; the bridge's own (re)connect republishes anyway
    if (this.stopped || packet.retain || payload.toString("utf8").trim() !== "online") return;
    clearTimeout(this.restartTimer);
    this.logger.info({ delayMs: this.restartDelayMs }, "Home Assistant (re)started: republishing the state");
    this.restartTimer = setTimeout(() => void this.context.publisher.republish(), this.restartDelayMs);
    this.restartTimer.unref();
  };

  /** Every config, built again from the descriptions: what a republish sends. */
  private readonly everyConfig: RetainedSource = function* (this: HomeAssistantDiscovery) {
    if (!this.scanned || this.stopped) return;
    for (const candidate of this.candidates([])) {
      yield { topic: candidate.topic, payload: JSON.stringify(candidate.build().payload) };
    }
  }.bind(this);

  private candidates(problems: string[]): Iterable<DiscoveryCandidate> {
    const descriptions = this.context.devices().map((device) => device.describe());
    return discoveryCandidates(this.options, descriptions, problems);
  }

  /** Announces the configs that changed and clears the ones no longer generated, one run at a time. */
  private publish(): Promise<void> {
    if (this.publishing) {
      this.publishAgain = true;
      return this.publishing;
    }
    this.publishing = this.announce().finally(() => {
      this.publishing = undefined;
      if (this.publishAgain && !this.stopped) {
        this.publishAgain = false;
        void this.publish();
      }
    });
    return this.publishing;
  }

  private async announce(): Promise<void> {
    const { publisher } = this.context;
    // what went away is cleared first: HA refuses a unique_id still held by an old config (an
    // entity that became another component), and a user never sees both. Candidates are a
    // topic and a closure each; the payloads are built one at a time below.
    const problems: string[] = [];
    const candidates = [...this.candidates(problems)];
    const topics = new Set(candidates.map((candidate) => candidate.topic));
    let removed = 0;
    for (const topic of this.announced.keys()) {
      if (topics.has(topic)) continue;
      publisher.clearRetained(topic);
      removed += 1;
    }
    for (const topic of this.found) {
      if (topics.has(topic) || this.announced.has(topic)) continue;
      publisher.clearRetained(topic);
      removed += 1;
    }
    this.found.clear();
    const previous = this.announced;
    const next = new Map<string, string>();
    this.announced = next;
    let changed = 0;
    let batch: Promise<void>[] = [];
    for (const candidate of candidates) {
      const payload = JSON.stringify(candidate.build().payload);
      const print = fingerprint(payload);
      next.set(candidate.topic, print);
      if (previous.get(candidate.topic) === print) continue;
      changed += 1;
      batch.push(publisher.announce(candidate.topic, payload));
      if (batch.length < ANNOUNCE_BATCH) continue;
      await Promise.all(batch);
      batch = [];
      if (this.stopped) return;
    }
    await Promise.all(batch);
    for (const problem of problems) {
      if (this.reported.has(problem)) continue;
      this.reported.add(problem);
      this.logger.warn(problem);
    }
    if (changed > 0 || removed > 0) {
      this.logger.info(
        { entities: next.size, changed, removed, prefix: this.options.prefix },
        "Home Assistant discovery published",
      );
    }
  }
}

/** Configs handed to the client at once; the next batch waits until the broker has these. */
const ANNOUNCE_BATCH = 256;

/** What the bridge keeps of an announced config: enough to tell whether it changed. */
function fingerprint(payload: string): string {
  return createHash("sha1").update(payload).digest("base64");
}
