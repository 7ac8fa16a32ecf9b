import { randomUUID } from "node:crypto";
import type { IPublishPacket } from "mqtt";

/**
 * How old a message the broker kept for the bridge may be. The bridge holds a persistent
 * session, so `/set` messages published while it was away (a network cut, a broker restart,
 * the bridge restarting) are delivered when it is back. A write carried out much later than
 * the user meant is worse than none: such a message is answered as stale instead.
 *
 * MQTT 3.1.1 carries no publish time, so the age is bounded from above:
 * - where the publisher set an MQTT 5 message expiry, the broker drops the message once it
 *   expires: what arrives is fresh enough by the publisher's own measure;
 * - after a reconnect, the broker first delivers what it kept. To know where that catch-up
 *   ends, the bridge publishes a marker to its own topic once it has subscribed; the broker
 *   queues it behind the kept messages. Everything received before the marker comes back was
 *   published at most "time away" ago: since the last packet heard from the broker. When that
 *   is longer than the limit, the message is stale;
 * - after the bridge itself (re)started and the broker still held its session, the time away
 *   is unknown: messages of the catch-up are stale unless they carry an expiry.
 * A write published in the few milliseconds between the reconnect and the marker is judged as
 * kept: at worst it is answered as stale and must be published again.
 */
export class Freshness {
  private lastContact = performance.now();
  private catchUp:
    | { awayMs: number | undefined; marker: string; timer: NodeJS.Timeout; kept: number; stale: number }
    | undefined;

  constructor(
    private readonly staleAfterMs: number,
    /** The topic of the marker; the connection subscribes to it. */
    readonly markerTopic: string,
    /** Told how many kept messages the catch-up delivered, and how many of them were stale. */
    private readonly onCaughtUp: (kept: number, stale: number) => void,
    /** Longest catch-up: the marker may be refused by an ACL. */
    private readonly maxCatchUpMs = 5000,
  ) {}

  /** Any packet from the broker: the connection was alive then. */
  contact(): void {
    this.lastContact = performance.now();
  }

  /**
   * A (re)connect: starts the catch-up when the broker kept the session. Returns the marker
   * payload to publish once subscribed, or undefined when nothing was kept.
   */
  connected(sessionPresent: boolean, firstConnect: boolean): string | undefined {
    this.end();
    const now = performance.now();
    const awayMs = firstConnect ? undefined : now - this.lastContact;
    this.lastContact = now;
    if (!sessionPresent) return undefined;
    const marker = randomUUID();
    const timer = setTimeout(() => this.end(), this.maxCatchUpMs);
    timer.unref();
    this.catchUp = { awayMs, marker, timer, kept: 0, stale: 0 };
    return marker;
  }

  /** Ends the catch-up when `payload` is the marker; true when the message was the marker. */
  isMarker(topic: string, payload: Buffer): boolean {
    if (topic !== this.markerTopic) return false;
    if (this.catchUp && payload.toString() === this.catchUp.marker) this.end();
    return true;
  }

  /** Why a received message is too old to act on; undefined when it is fresh enough. */
  staleness(packet: IPublishPacket): string | undefined {
    const catchUp = this.catchUp;
    if (!catchUp) return undefined;
    catchUp.kept += 1;
    const reason = this.judge(catchUp.awayMs, packet);
    if (reason) catchUp.stale += 1;
    return reason;
  }

  private judge(awayMs: number | undefined, packet: IPublishPacket): string | undefined {
    if (packet.properties?.messageExpiryInterval !== undefined) return undefined;
    const limit = `mqtt.staleWriteAfter: ${this.staleAfterMs / 1000}s`;
    if (awayMs === undefined) {
      return `stale: the broker kept this while the bridge was not running, so its age is unknown (${limit}); publish it again, or with an MQTT 5 message expiry`;
    }
    if (awayMs <= this.staleAfterMs) return undefined;
    const away = Math.round(awayMs / 1000);
    return `stale: the broker kept this while the bridge was away for ${away}s, longer than ${limit}; publish it again`;
  }

  end(): void {
    const catchUp = this.catchUp;
    if (!catchUp) return;
    clearTimeout(catchUp.timer);
    this.catchUp = undefined;
    this.onCaughtUp(catchUp.kept, catchUp.stale);
  }
}

/** The marker topic of one bridge: under its root, one per client id. */
export function markerTopic(root: string, clientLevel: string): string {
  return `${root}/bridge/catch-up/${clientLevel}`;
}
