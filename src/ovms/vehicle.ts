import type { OvmsConfig, OvmsVehicleConfig } from "../config/schema.js";
import type { Device, DeviceDescription, Sink, Values, WriteResult } from "../source.js";
import { describeError, errorKind, UpstreamError } from "../upstream/errors.js";
import { Poller } from "../upstream/poller.js";
import { Priority } from "../upstream/queue.js";
import type { Logger } from "../util/log.js";
import { scrub } from "../util/secrets.js";
import { runCommand } from "./command.js";
import { describeVehicle, vehicleTopic } from "./entities.js";
import {
  type DistanceUnits,
  decodeVehicle,
  findVehicle,
  freshRecords,
  loadpointValues,
  type OvmsRecord,
  reportStamp,
  type VehicleRecords,
} from "./mapping.js";
import type { OvmsRest } from "./rest.js";
import type { OvmsV2Client } from "./v2client.js";

/** What the vehicles of one server share. */
export interface ServerContext {
  config: OvmsConfig;
  /** `ovms[0]`, for messages that point at the configuration. */
  configPath: string;
  serverHost: string;
  rest: OvmsRest;
  v2: OvmsV2Client | undefined;
  /** /api/vehicles, shared by the server's vehicles and reused while younger than maxAgeMs. */
  vehicleList(maxAgeMs: number, priority: Priority): Promise<unknown>;
  /** False once the server answered GET /api/vehicle/<id> with 404 (servers before 2021). */
  peerSupported: boolean;
  logger: Logger;
  /** Registers a running write with the source, which answers it before stop() resolves. */
  track<T>(write: Promise<T>): Promise<T>;
}

/** Records read in slow polls only: they change little while charging. */
const SLOW_RECORDS = ["location", "tpms"] as const;
type SlowRecord = (typeof SLOW_RECORDS)[number];

/** One OVMS vehicle: polls its records, publishes its values, and carries out its writes. */
export class OvmsVehicle implements Device {
  readonly topic: string;
  readonly name: string;
  private readonly poller: Poller;
  private readonly description: DeviceDescription;
  private sink: Sink | undefined;
  private units: DistanceUnits | undefined;
  /** Time of the newest record applied, per kind, so an older one never overwrites it. */
  private readonly recordTimes = new Map<string, number>();
  private charging = false;
  private loadpointConnected = false;
  /** The REST session the peer connection was made on (it dies with the session). */
  private peerSession: number | undefined;
  /** When the next slow poll is due (vehicle list, position, tyres). */
  private slowDue = 0;
  /** A record the server failed to serve is left out until then. */
  private readonly skipUntil: Record<SlowRecord, number> = { location: 0, tpms: 0 };
  /** The S and D record times of the last /api/status read. */
  private statusStamp: string | undefined;
  private availability: { online: boolean; error: string } | undefined;
  private nextPriority: Priority = Priority.poll;
  private polling: Promise<void> | undefined;
  private stopped = false;

  constructor(
    readonly config: OvmsVehicleConfig,
    private readonly server: ServerContext,
  ) {
    this.name = config.name ?? config.id.toLowerCase();
    this.topic = vehicleTopic(this.name);
    this.description = describeVehicle({
      serverHost: server.serverHost,
      vehicleId: config.id,
      name: this.name,
      commandsEnabled: Boolean(server.config.commands),
      lockable: Boolean(config.pin),
    });
    this.poller = new Poller({
      intervalMs: server.config.interval,
      poll: () => this.poll(),
      onFailure: (error, retryInMs) => this.failed(error, retryInMs),
    });
  }

  describe(): DeviceDescription {
    return this.description;
  }

  /** Whether the vehicle is polled fast and connected as a peer (charging, or at a busy loadpoint). */
  get active(): boolean {
    return this.charging || (this.config.loadpoint !== undefined && this.loadpointConnected);
  }

  start(sink: Sink): void {
    this.sink = sink;
    sink.device(this);
    if (this.config.loadpoint !== undefined) {
      sink.values(`loadpoints/${this.config.loadpoint}`, { vehicleName: this.name });
    }
    this.poller.start();
  }

  /** `bridge/request/poll`: a poll now, through the same queue as every other. */
  pollNow(): Promise<void> {
    return this.poller.pollNow();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.poller.stop();
  }

  /** Leaves fast mode's peer connection, if any (best effort, for shutdown). */
  async disconnectPeer(): Promise<void> {
    if (this.peerSession === undefined) return;
    this.peerSession = undefined;
    await this.server.rest
      .call(`/api/vehicle/${encodeURIComponent(this.config.id)}`, { method: "DELETE", renew: false })
      .catch(() => undefined);
  }

  setLoadpointConnected(connected: boolean): void {
    const wasActive = this.active;
    this.loadpointConnected = connected;
    this.modeChanged(wasActive);
  }

  /**
   * Records pushed on the v2 link. A live one is the car's report as it arrives: fresher than
   * any poll, and its S record is 0 s old. The ones the server replays at login are its stored
   * records, of any age: they carry no time, so they must not make the polled ones look older
   * (that would hide the age of a sleeping car's data, which only a poll tells).
   */
  applyPushed(records: VehicleRecords, live = true): void {
    const fresh = freshRecords(records, this.recordTimes, live ? Date.now() : undefined);
    this.publish(fresh, false, live && fresh.charge ? { messageAge: 0 } : {});
  }

  /** The v2 link's `Z` line: whether the car's module is connected to the server. */
  setModuleConnected(connected: boolean): void {
    this.sink?.values(this.topic, { moduleConnected: connected });
  }

  /** A property, not a method: the daemon may pass it around unbound. */
  readonly write = (key: string, payload: string): Promise<WriteResult> =>
    this.server.track(this.carryOut(key, payload));

  private async carryOut(key: string, payload: string): Promise<WriteResult> {
    const { v2, configPath, logger } = this.server;
    const { result, what } = await runCommand(v2, this.config, configPath, key, payload);
    if (what) {
      const outcome = result.ok ? {} : { error: result.error };
      logger.info({ vehicle: this.config.id, key, ok: result.ok, ...outcome }, `OVMS ${what}`);
    }
    if (result.ok) void this.readBack();
    return result;
  }

  /** Polls now at read-back priority; a poll already running started too early, so poll again. */
  private async readBack(): Promise<void> {
    try {
      if (this.polling) await this.polling.catch(() => undefined);
      if (this.stopped) return;
      this.nextPriority = Priority.readBack;
      await this.poller.pollNow();
    } catch {
      // a failed read-back is reported by the poller like any failed poll
    }
  }

  private poll(): Promise<void> {
    const priority = this.nextPriority;
    this.nextPriority = Priority.poll;
    const run = this.pollOnce(priority).finally(() => {
      this.polling = undefined;
    });
    this.polling = run;
    return run;
  }

  /**
   * One poll. A "slow" poll (every poll when idle, once per `interval` when active) also reads
   * the vehicle list, the position and the tyres; /api/status is read only when the car has
   * reported since the last time (it is the same S and D records /api/charge is built from, and
   * /api/charge carries their times).
   */
  private async pollOnce(priority: Priority): Promise<void> {
    const { rest, config } = this.server;
    const id = encodeURIComponent(this.config.id);
    const started = performance.now();
    const slow = started >= this.slowDue;
    const records: VehicleRecords = {};
    if (slow) {
      const entry = findVehicle(await this.server.vehicleList(config.interval / 2, priority), this.config.id);
      if (!entry)
        throw new UpstreamError("forbidden", `vehicle ${this.config.id} is not on this OVMS account`);
      records.vehicle = entry;
    }
    await this.syncPeer(priority);
    const charge = asRecord(await rest.call(`/api/charge/${id}`, { priority }));
    records.charge = charge;
    const stamp = reportStamp(charge);
    if (stamp === undefined || stamp !== this.statusStamp || priority === Priority.readBack) {
      records.status = asRecord(await rest.call(`/api/status/${id}`, { priority }));
      this.statusStamp = stamp;
    }
    for (const kind of slow ? SLOW_RECORDS : []) {
      if (started < this.skipUntil[kind] || this.stopped) continue;
      try {
        records[kind] = asRecord(await rest.call(`/api/${kind}/${id}`, { priority }));
      } catch (error) {
        // a server that cannot serve this record (TPMS of some V3 modules) must not take the car offline
        const kindOfError = errorKind(error);
        if (kindOfError !== "server" && kindOfError !== "badResponse" && kindOfError !== "notFound")
          throw error;
        this.skipUntil[kind] = started + config.interval * 10;
        this.server.logger.warn(
          { vehicle: this.config.id, error: describeError(error) },
          `OVMS ${kind} skipped`,
        );
      }
    }
    if (this.stopped) return;
    // a session renewed during this poll took the peer connection with it: connect again now
    if (this.active && this.peerSession !== undefined && this.peerSession !== rest.session) {
      await this.syncPeer(priority);
    }
    if (slow) this.slowDue = started + config.interval * 0.9;
    this.publish(freshRecords(records, this.recordTimes), true);
    this.setAvailability(true, "");
  }

  /** Connects as a peer while active (the car then reports at its faster interval), else leaves. */
  private async syncPeer(priority: Priority): Promise<void> {
    const { rest } = this.server;
    const path = `/api/vehicle/${encodeURIComponent(this.config.id)}`;
    if (this.active && this.server.peerSupported && this.peerSession !== rest.session) {
      try {
        await rest.call(path, { priority });
        this.peerSession = rest.session;
      } catch (error) {
        if (errorKind(error) !== "notFound") throw error;
        this.server.peerSupported = false;
        this.server.logger.info("this OVMS server has no /api/vehicle: polling faster without peer connect");
      }
    } else if (!this.active && this.peerSession !== undefined) {
      const session = this.peerSession;
      this.peerSession = undefined;
      // an expired session took the peer connection with it: nothing to undo
      if (session === rest.session) {
        await rest.call(path, { method: "DELETE", priority, renew: false }).catch(() => undefined);
      }
    }
  }

  private publish(records: VehicleRecords, polled: boolean, extra: Values = {}): void {
    const sink = this.sink;
    if (!sink) return;
    const decoded = decodeVehicle(records, this.units);
    if (decoded.units) this.units = decoded.units;
    const values: Values = { ...decoded.values, ...extra };
    if (Object.keys(values).length > 0) sink.values(this.topic, values);
    if (this.config.loadpoint !== undefined) {
      sink.values(`loadpoints/${this.config.loadpoint}`, loadpointValues(values, this.name));
    }
    if (polled && !decoded.empty) sink.polled(this.topic);
    if (typeof values.charging === "boolean" && values.charging !== this.charging) {
      const wasActive = this.active;
      this.charging = values.charging;
      this.modeChanged(wasActive);
    }
  }

  private modeChanged(wasActive: boolean): void {
    const active = this.active;
    if (active === wasActive) return;
    const { interval, activeInterval } = this.server.config;
    this.server.logger.debug({ vehicle: this.config.id, active }, "OVMS poll mode");
    this.poller.setInterval(active ? activeInterval : interval);
    // plugged in at the loadpoint: connect as a peer now, so the car reports within seconds
    if (active && this.sink && !this.stopped && !this.polling && this.poller.consecutiveFailures === 0) {
      void this.poller.pollNow();
    }
  }

  private failed(error: unknown, retryInMs: number): void {
    if (this.stopped) return;
    const message = scrub(describeError(error));
    this.server.logger.warn({ vehicle: this.config.id, retryInMs }, `OVMS poll failed: ${message}`);
    this.setAvailability(false, message);
  }

  private setAvailability(online: boolean, error: string): void {
    if (this.availability?.online === online && this.availability.error === error) return;
    this.availability = { online, error };
    this.sink?.availability(this.topic, online, error);
  }
}

function asRecord(body: unknown): OvmsRecord {
  if (body && typeof body === "object" && !Array.isArray(body)) return body as OvmsRecord;
  throw new UpstreamError("badResponse", "OVMS answered with something other than a JSON object");
}
