import type { OvmsVehicleConfig } from "../config/schema.js";
import type { Device, DeviceDescription, Sink, Values, WriteResult } from "../source.js";
import { describeError } from "../upstream/errors.js";
import { Poller } from "../upstream/poller.js";
import { Priority } from "../upstream/queue.js";
import { scrub } from "../util/secrets.js";
import { CarCommands } from "./car-commands.js";
import { runCommand } from "./command.js";
import type { ServerContext } from "./context.js";
import { describeVehicle, vehicleTopic } from "./entities.js";
import {
  type DistanceUnits,
  decodeVehicle,
  freshRecords,
  loadpointValues,
  type VehicleRecords,
} from "./mapping.js";
import { type RestRead, RestReader } from "./poll.js";
import { withinRange } from "./ranges.js";
import { type ChargingParts, mergePushed, noteChargingParts, withChargingParts } from "./records.js";

export type { ServerContext } from "./context.js";

/** A link down this long is not coming back at once: REST polling takes over. */
const LINK_GRACE_MS = 5_000;

// One OVMS vehicle. Its values come from the records the server pushes on the vehicle's v2
// link the moment the car sends them. REST is read at start (the vehicle list and the stored
// state), polled as before while the link is down (or refused, on old servers), and otherwise
// only every `restInterval` as a cross-check. While the car charges or stands at a busy
// loadpoint it is made to report fast: by a v2 app login, or by a REST peer without a link.

export class OvmsVehicle implements Device {
  readonly topic: string;
  readonly name: string;
  private readonly poller: Poller;
  private readonly reader: RestReader;
  private readonly description: DeviceDescription;
  private sink: Sink | undefined;
  private units: DistanceUnits | undefined;
  /** Time of the newest record applied, per kind, so an older one never overwrites it. */
  private readonly recordTimes = new Map<string, number>();
  private charging = false;
  private loadpointConnected = false;
  /** The v2 link is logged in and its replay applied: it carries the values. */
  private linkUp = false;
  /** The full REST read of the start is done. */
  private startRead = false;
  /** The car has sent a V3 `Y` tyre record: its `W` ones are ignored. */
  private sawY = false;
  /** The last charge state (S) and charging flag (D) applied. */
  private readonly chargingParts: ChargingParts = {};
  private linkDownTimer: NodeJS.Timeout | undefined;
  /** When the last `Z` line came: a vehicle list asked for before it is older. */
  private moduleConnectedAt = Number.NEGATIVE_INFINITY;
  private refusalLogged = false;
  /** Whether `liveLink` has been published at all (false is published once, at the first failure). */
  private linkPublished = false;
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
    this.reader = new RestReader(config, server);
    this.poller = new Poller({
      intervalMs: server.config.interval,
      poll: () => this.poll(),
      onFailure: (error, retryInMs) => this.failed(error, retryInMs),
    });
  }

  describe(): DeviceDescription {
    return this.description;
  }

  /** Whether the car is made to report fast (charging, or at a busy loadpoint). */
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
    clearTimeout(this.linkDownTimer);
    this.server.fast?.set(this.config.id, false);
    await this.poller.stop();
  }

  /** Leaves the REST peer connection, if any (best effort, for shutdown). */
  disconnectPeer(): Promise<void> {
    return this.reader.disconnectPeer();
  }

  setLoadpointConnected(connected: boolean): void {
    const wasActive = this.active;
    this.loadpointConnected = connected;
    this.modeChanged(wasActive);
  }

  /**
   * Records pushed on the v2 link. A live one is the car's report as it arrives: fresher than
   * any poll, and its S record is 0 s old. The replay at login is the server's stored state, of
   * any age (`ageS` from its `T` line), applied as one state; it carries no time, so it must not
   * make later polls look older.
   */
  applyPushed(lines: Array<{ code: string; data: string }>, live: boolean, ageS?: number): void {
    const merged = mergePushed(lines, this.sawY);
    this.sawY = merged.sawY;
    const fresh = freshRecords(merged.records, this.recordTimes, live ? Date.now() : undefined);
    const age = live ? 0 : ageS;
    const decoded = withChargingParts(fresh, this.chargingParts);
    noteChargingParts(fresh, this.chargingParts);
    this.publish(decoded, false, fresh.charge && age !== undefined ? { messageAge: age } : {});
  }

  /** The v2 link's `Z` line: whether the car's module is connected to the server. */
  setModuleConnected(connected: boolean): void {
    this.moduleConnectedAt = performance.now();
    this.sink?.values(this.topic, { moduleConnected: connected });
  }

  /** The v2 link came up (its replay applied) or went down: REST takes over while it is down. */
  setLinkState(up: boolean, error: string, refused: boolean): void {
    if (refused && !this.refusalLogged && !this.stopped) {
      this.refusalLogged = true;
      this.server.logger.warn(
        { vehicle: this.config.id, error },
        "OVMS server refused the v2 login: reading this vehicle by REST polling instead (an old server, or a token without the v2 permit)",
      );
    }
    if (up === this.linkUp && this.linkPublished) return;
    this.linkPublished = true;
    this.sink?.values(this.topic, { liveLink: up });
    if (up === this.linkUp) return;
    this.linkUp = up;
    if (up) {
      this.refusalLogged = false;
      this.setAvailability(true, "");
    }
    this.applyMode();
    // values must keep flowing: poll when the link stays down (it is usually back within a second)
    clearTimeout(this.linkDownTimer);
    if (!up && !this.stopped && this.sink) {
      this.linkDownTimer = setTimeout(() => {
        if (!this.linkUp && !this.stopped && !this.polling) void this.poller.pollNow().catch(() => undefined);
      }, LINK_GRACE_MS);
      this.linkDownTimer.unref?.();
    }
  }

  /** Commands to this car, one at a time. */
  private readonly commands = new CarCommands();

  /** A property, not a method: the daemon may pass it around unbound. */
  readonly write = (key: string, payload: string): Promise<WriteResult> =>
    this.server.track(this.carryOut(key, payload));

  private async carryOut(key: string, payload: string): Promise<WriteResult> {
    const { v2, configPath, logger } = this.server;
    const { result, what } = await runCommand(v2, this.config, configPath, key, payload, this.commands);
    if (what) {
      const outcome = result.ok ? {} : { error: result.error };
      logger.info({ vehicle: this.config.id, key, ok: result.ok, ...outcome }, `OVMS ${what}`);
    }
    // with the link up the car's new state arrives by itself, pushed
    if (result.ok && !this.linkUp) void this.readBack();
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

  private async pollOnce(priority: Priority): Promise<void> {
    const viaLink = this.linkUp && this.startRead;
    const peer = this.active && !this.linkUp;
    const read = viaLink
      ? await this.reader.check(priority)
      : await this.reader.full(priority, peer, () => this.stopped);
    if (this.stopped) return;
    this.startRead = true;
    this.publishRead(read);
    this.setAvailability(true, "");
  }

  private publishRead(read: RestRead): void {
    const records = freshRecords(read.records, this.recordTimes);
    // the module's connection from a list asked for before the last `Z` line is older than it
    if (records.vehicle && (read.listRequestedAt ?? 0) < this.moduleConnectedAt) {
      const { v_net_connected: _older, ...rest } = records.vehicle;
      records.vehicle = rest;
    }
    noteChargingParts(records, this.chargingParts);
    this.publish(records, true);
  }

  private publish(records: VehicleRecords, polled: boolean, extra: Values = {}): void {
    const sink = this.sink;
    if (!sink) return;
    const decoded = decodeVehicle(records, this.units);
    if (decoded.units) this.units = decoded.units;
    const { values, rejected } = withinRange({ ...decoded.values, ...extra });
    if (rejected.length > 0) {
      this.server.logger.warn(
        { vehicle: this.config.id, rejected },
        "OVMS values out of range not published",
      );
    }
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
    this.server.logger.debug({ vehicle: this.config.id, active }, "OVMS report mode");
    this.applyMode();
    // plugged in at the loadpoint without a link: connect as a REST peer now
    if (active && !this.linkUp && this.sink && !this.stopped && !this.polling) {
      if (this.poller.consecutiveFailures === 0) void this.poller.pollNow();
    }
  }

  /** The poll interval and the fast-reporting app login for the link's state and the mode. */
  private applyMode(): void {
    const { interval, activeInterval, restInterval } = this.server.config;
    this.poller.setInterval(this.linkUp ? restInterval : this.active ? activeInterval : interval);
    this.server.fast?.set(this.config.id, this.linkUp && this.active && !this.stopped);
    // a REST peer made while the link was down is not needed any more
    if (this.linkUp && !this.polling) void this.reader.syncPeer(Priority.poll, false).catch(() => undefined);
  }

  private failed(error: unknown, retryInMs: number): void {
    if (this.stopped) return;
    const message = scrub(describeError(error));
    this.server.logger.warn({ vehicle: this.config.id, retryInMs }, `OVMS poll failed: ${message}`);
    // the values keep coming over the link (so the car is on the account): a failed REST read
    // does not take it offline
    if (this.linkUp) return;
    this.setAvailability(false, message);
  }

  private setAvailability(online: boolean, error: string): void {
    if (this.availability?.online === online && this.availability.error === error) return;
    this.availability = { online, error };
    this.sink?.availability(this.topic, online, error);
  }
}
