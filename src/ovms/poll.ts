import type { OvmsVehicleConfig } from "../config/schema.js";
import { describeError, errorKind, UpstreamError } from "../upstream/errors.js";
import { Priority } from "../upstream/queue.js";
import type { ServerContext } from "./context.js";
import { findVehicle, type OvmsRecord, reportStamp, type VehicleRecords } from "./mapping.js";

// Reading one vehicle over the REST API: the full read (at start, and as the polling while the
// v2 link is down) and the cross-check while the link is up. Also the REST peer connection
// that makes the car report fast when there is no v2 link to do it.

/** Records read in slow polls only: they change little while charging. */
const SLOW_RECORDS = ["location", "tpms"] as const;
type SlowRecord = (typeof SLOW_RECORDS)[number];

export interface RestRead {
  records: VehicleRecords;
  /** When the vehicle list in `records.vehicle` was asked for; undefined when not read. */
  listRequestedAt?: number;
}

export class RestReader {
  /** The REST session the peer connection was made on (it dies with the session). */
  private peerSession: number | undefined;
  /** When the next slow poll is due (vehicle list, position, tyres). */
  private slowDue = 0;
  /** A record the server failed to serve is left out until then. */
  private readonly skipUntil: Record<SlowRecord, number> = { location: 0, tpms: 0 };
  /** The S and D record times of the last /api/status read. */
  private statusStamp: string | undefined;

  constructor(
    private readonly vehicle: OvmsVehicleConfig,
    private readonly server: ServerContext,
  ) {}

  private get id(): string {
    return encodeURIComponent(this.vehicle.id);
  }

  /**
   * One poll. A "slow" poll (every poll when idle, once per `interval` when peered) also reads
   * the vehicle list, the position and the tyres; /api/status is read only when the car has
   * reported since the last time (it is the same S and D records /api/charge is built from, and
   * /api/charge carries their times). `peer`: connect as a peer (fast reporting over REST).
   */
  async full(priority: Priority, peer: boolean, stopped: () => boolean): Promise<RestRead> {
    const { rest, config } = this.server;
    const started = performance.now();
    const slow = started >= this.slowDue;
    const read: RestRead = { records: {} };
    if (slow) await this.readList(read, config.interval / 2, priority);
    await this.syncPeer(priority, peer);
    const charge = asRecord(await rest.call(`/api/charge/${this.id}`, { priority }));
    read.records.charge = charge;
    const stamp = reportStamp(charge);
    if (stamp === undefined || stamp !== this.statusStamp || priority === Priority.readBack) {
      read.records.status = asRecord(await rest.call(`/api/status/${this.id}`, { priority }));
      this.statusStamp = stamp;
    }
    for (const kind of slow ? SLOW_RECORDS : []) {
      if (started < this.skipUntil[kind] || stopped()) continue;
      try {
        read.records[kind] = asRecord(await rest.call(`/api/${kind}/${this.id}`, { priority }));
      } catch (error) {
        // a server that cannot serve this record (TPMS of some V3 modules) must not take the car offline
        const kindOfError = errorKind(error);
        if (kindOfError !== "server" && kindOfError !== "badResponse" && kindOfError !== "notFound")
          throw error;
        this.skipUntil[kind] = started + config.interval * 10;
        this.server.logger.warn(
          { vehicle: this.vehicle.id, error: describeError(error) },
          `OVMS ${kind} skipped`,
        );
      }
    }
    // a session renewed during this poll took the peer connection with it: connect again now
    if (!stopped() && peer && this.peerSession !== undefined && this.peerSession !== rest.session) {
      await this.syncPeer(priority, peer);
    }
    if (slow) this.slowDue = started + config.interval * 0.9;
    return read;
  }

  /** While the v2 link carries the values: the vehicle list and /api/charge (its age), nothing more. */
  async check(priority: Priority): Promise<RestRead> {
    const read: RestRead = { records: {} };
    await this.readList(read, this.server.config.interval / 2, priority);
    await this.syncPeer(priority, false);
    read.records.charge = asRecord(await this.server.rest.call(`/api/charge/${this.id}`, { priority }));
    return read;
  }

  /** Connects as a peer while asked to (the car then reports at its faster interval), else leaves. */
  async syncPeer(priority: Priority, peer: boolean): Promise<void> {
    const { rest } = this.server;
    const path = `/api/vehicle/${this.id}`;
    if (peer && this.server.peerSupported && this.peerSession !== rest.session) {
      try {
        await rest.call(path, { priority });
        this.peerSession = rest.session;
      } catch (error) {
        if (errorKind(error) !== "notFound") throw error;
        this.server.peerSupported = false;
        this.server.logger.info("this OVMS server has no /api/vehicle: polling faster without peer connect");
      }
    } else if (!peer && this.peerSession !== undefined) {
      const session = this.peerSession;
      this.peerSession = undefined;
      // an expired session took the peer connection with it: nothing to undo
      if (session === rest.session) {
        await rest.call(path, { method: "DELETE", priority, renew: false }).catch(() => undefined);
      }
    }
  }

  /** Leaves the peer connection, if any (best effort, for shutdown). */
  async disconnectPeer(): Promise<void> {
    if (this.peerSession === undefined) return;
    this.peerSession = undefined;
    await this.server.rest
      .call(`/api/vehicle/${this.id}`, { method: "DELETE", renew: false })
      .catch(() => undefined);
  }

  private async readList(read: RestRead, maxAgeMs: number, priority: Priority): Promise<void> {
    const list = await this.server.vehicleList(maxAgeMs, priority);
    if (!Array.isArray(list.body)) {
      throw new UpstreamError(
        "badResponse",
        "GET /api/vehicles: the OVMS server answered with something other than a list of vehicles",
      );
    }
    const entry = findVehicle(list.body, this.vehicle.id);
    if (!entry)
      throw new UpstreamError("forbidden", `vehicle ${this.vehicle.id} is not on this OVMS account`);
    read.records.vehicle = entry;
    read.listRequestedAt = list.requestedAt;
  }
}

function asRecord(body: unknown): OvmsRecord {
  if (body && typeof body === "object" && !Array.isArray(body)) return body as OvmsRecord;
  throw new UpstreamError("badResponse", "OVMS answered with something other than a JSON object");
}
