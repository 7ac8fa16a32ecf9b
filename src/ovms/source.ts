import type { OvmsConfig } from "../config/schema.js";
import type { Sink, Source } from "../source.js";
import type { Priority } from "../upstream/queue.js";
import { UpstreamQueue } from "../upstream/queue.js";
import { sleep } from "../util/duration.js";
import type { Logger } from "../util/log.js";
import { addSecret } from "../util/secrets.js";
import type { VehicleList } from "./context.js";
import { FastReporting } from "./fast.js";
import { OvmsRest } from "./rest.js";
import { OvmsV2Client } from "./v2client.js";
import { OvmsVehicle, type ServerContext } from "./vehicle.js";

export interface OvmsSourceOptions {
  logger: Logger;
  /** Position in the `ovms:` list, for messages that name the configuration (`ovms[0]`). */
  index?: number;
  /** The REST queue; sources of one server host share it (the rate limit is per address). */
  queue?: UpstreamQueue;
  /** Spacing of REST requests when this source creates its queue (default 2000 ms). */
  minSpacingMs?: number;
  /** v2 link tuning, for tests. */
  v2?: { pingIntervalMs?: number; reconnectMinMs?: number; clientType?: "A" | "B" };
  /** No REST request for this long after a 429 (default a minute), for tests. */
  rateLimitPauseMs?: number;
  /** The server's session sweep and what counts as a fresh session (10 s, 60 s), for scaled runs. */
  sessionTiming?: { sweepMs: number; freshMs: number };
}

/** How long stop() waits for commands still waiting for the car before answering them. */
const STOP_GRACE_MS = 2_000;

/** One OVMS server account: its REST session, its v2 command links and its vehicles. */
export class OvmsSource implements Source {
  readonly name: string;
  private readonly context: ServerContext;
  private readonly vehicles: OvmsVehicle[];
  private readonly queue: UpstreamQueue;
  private readonly ownsQueue: boolean;
  private list: { at: number; promise: Promise<VehicleList> } | undefined;
  private readonly pendingWrites = new Set<Promise<unknown>>();

  constructor(
    readonly config: OvmsConfig,
    options: OvmsSourceOptions,
  ) {
    const url = new URL(config.url);
    const host = url.hostname;
    this.name = `ovms:${config.username}@${host}`;
    addSecret(config.password);
    for (const vehicle of config.vehicles) addSecret(vehicle.pin);
    this.ownsQueue = !options.queue;
    this.queue = options.queue ?? new UpstreamQueue(`ovms:${host}`, options.minSpacingMs ?? 2000);
    const logger = options.logger.child({ source: this.name });
    const rest = new OvmsRest({
      url: config.url,
      username: config.username,
      password: config.password,
      timeoutMs: config.timeout,
      queue: this.queue,
      ...(options.rateLimitPauseMs !== undefined ? { rateLimitPauseMs: options.rateLimitPauseMs } : {}),
      ...(options.sessionTiming ? { sessionTiming: options.sessionTiming } : {}),
    });
    const v2 = config.commands
      ? new OvmsV2Client({
          url: config.commands,
          username: config.username,
          password: config.password,
          rejectUnauthorized: config.rejectUnauthorized,
          commandTimeoutMs: config.commandTimeout,
          logger,
          ...options.v2,
        })
      : undefined;
    const fast = config.commands
      ? new FastReporting({
          url: config.commands,
          username: config.username,
          password: config.password,
          rejectUnauthorized: config.rejectUnauthorized,
          pingIntervalMs: options.v2?.pingIntervalMs ?? 20_000,
          reconnectMinMs: options.v2?.reconnectMinMs ?? 1_000,
          logger,
        })
      : undefined;
    this.context = {
      config,
      configPath: `ovms[${options.index ?? 0}]`,
      serverHost: host,
      rest,
      v2,
      fast,
      vehicleList: (maxAgeMs, priority) => this.vehicleList(maxAgeMs, priority),
      peerSupported: true,
      logger,
      track: (write) => this.track(write),
    };
    this.vehicles = config.vehicles.map((vehicle) => new OvmsVehicle(vehicle, this.context));
  }

  /** The daemon tells which loadpoints have a car plugged in: linked vehicles then poll fast. */
  setLoadpointConnected(loadpoint: number, connected: boolean): void {
    for (const vehicle of this.vehicles) {
      if (vehicle.config.loadpoint === loadpoint) vehicle.setLoadpointConnected(connected);
    }
  }

  async start(sink: Sink): Promise<void> {
    const v2 = this.context.v2;
    if (v2) {
      v2.onRecords((vehicleId, lines, live, ageS) =>
        this.vehicleById(vehicleId)?.applyPushed(lines, live, ageS),
      );
      v2.onCarConnected((vehicleId, connected) => this.vehicleById(vehicleId)?.setModuleConnected(connected));
      v2.onLinkState((vehicleId, up, error, refused) =>
        this.vehicleById(vehicleId)?.setLinkState(up, error, refused),
      );
    }
    for (const vehicle of this.vehicles) vehicle.start(sink);
    v2?.start(this.vehicles.map((vehicle) => vehicle.config.id));
  }

  /**
   * Stops polling, gives commands still waiting for their car a moment, then answers them, and
   * leaves fast mode. Each step is bounded: the daemon has 5 s to exit, and a request to a
   * hanging server can take the whole request timeout.
   */
  async stop(): Promise<void> {
    await bounded(Promise.allSettled(this.vehicles.map((vehicle) => vehicle.stop())), STOP_GRACE_MS);
    if (this.pendingWrites.size > 0)
      await bounded(Promise.allSettled([...this.pendingWrites]), STOP_GRACE_MS);
    this.context.v2?.close();
    this.context.fast?.close();
    await Promise.allSettled([...this.pendingWrites]);
    // leave fast mode on the server side too; an expiring session does the same, later
    await bounded(Promise.allSettled(this.vehicles.map((vehicle) => vehicle.disconnectPeer())), 1_000);
    if (this.ownsQueue) await bounded(this.queue.close(), 500);
  }

  private vehicleById(id: string): OvmsVehicle | undefined {
    return this.vehicles.find((vehicle) => vehicle.config.id.toUpperCase() === id.toUpperCase());
  }

  /** Remembers a running write, so stop() can answer it before it resolves. */
  private track<T>(promise: Promise<T>): Promise<T> {
    this.pendingWrites.add(promise);
    void promise.finally(() => this.pendingWrites.delete(promise)).catch(() => undefined);
    return promise;
  }

  /** /api/vehicles, shared by this account's vehicles: read again once older than maxAgeMs. */
  private vehicleList(maxAgeMs: number, priority: Priority): Promise<VehicleList> {
    const now = performance.now();
    if (this.list && now - this.list.at < maxAgeMs) return this.list.promise;
    const promise = this.context.rest
      .call("/api/vehicles", { priority })
      .then((body) => ({ body, requestedAt: now }));
    const entry = { at: now, promise };
    this.list = entry;
    promise.catch(() => {
      if (this.list === entry) this.list = undefined;
    });
    return promise;
  }
}

async function bounded(promise: Promise<unknown>, ms: number): Promise<void> {
  await Promise.race([promise, sleep(ms)]);
}
