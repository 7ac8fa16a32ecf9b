import type { Packet } from "mqtt";

/** Losses of the connection, in a row, with the same publish the oldest unacknowledged one. */
const STRIKES = 3;

/**
 * Finds a publish that gets the bridge disconnected. A broker answers some publishes by
 * dropping the connection (a packet over its `max_packet_size`; topics it would refuse never
 * leave the bridge, see topic.ts), and mqtt.js sends every unacknowledged QoS 1 message again
 * after the reconnect: the same publish would take the bridge off the broker forever. Which
 * packet it was, the broker does not say (mosquitto even drops the acknowledgements it had
 * queued), so the suspect is the largest publish still unacknowledged when the connection
 * drops. One that is the suspect STRIKES times in a row, and never acknowledged meanwhile, is
 * refused from then on. (MQTT 5 brokers announce their limit: connection.ts checks sizes
 * before sending, so this is for MQTT 3.1.1.)
 */
export class PoisonGuard {
  /** Unacknowledged QoS 1 publishes: message id → topic and size. */
  private readonly inFlight = new Map<number, { topic: string; size: number }>();
  private readonly strikes = new Map<string, number>();
  /** Topics never to publish again while the bridge runs. */
  readonly refused = new Set<string>();

  /** Every packet mqtt.js writes. */
  sent(packet: Packet): void {
    if (packet.cmd !== "publish" || !packet.messageId || packet.qos === 0) return;
    const size = Buffer.byteLength(packet.topic) + (packet.payload?.length ?? 0);
    this.inFlight.set(packet.messageId, { topic: packet.topic, size });
  }

  /** Every packet the broker sends. */
  received(packet: Packet): void {
    if (packet.cmd !== "puback" || !packet.messageId) return;
    const entry = this.inFlight.get(packet.messageId);
    this.inFlight.delete(packet.messageId);
    if (entry) this.strikes.delete(entry.topic);
  }

  /**
   * The connection dropped: returns the topic that is refused from now on, if this was its
   * last strike, with the message ids mqtt.js must not send again.
   */
  lost(): { topic: string; messageIds: number[] } | undefined {
    let suspect: { topic: string; size: number } | undefined;
    for (const entry of this.inFlight.values()) if (!suspect || entry.size > suspect.size) suspect = entry;
    if (!suspect) return undefined;
    const topic = suspect.topic;
    const strikes = (this.strikes.get(topic) ?? 0) + 1;
    this.strikes.set(topic, strikes);
    if (strikes < STRIKES) return undefined;
    this.refused.add(topic);
    this.strikes.delete(topic);
    const messageIds = [...this.inFlight].filter(([, entry]) => entry.topic === topic).map(([id]) => id);
    for (const id of messageIds) this.inFlight.delete(id);
    return { topic, messageIds };
  }
}
