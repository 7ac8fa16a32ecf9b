import type { IPublishPacket } from "mqtt";
import type { BridgeContext, Extension } from "./extension.js";
import { describeInstance, sameInstance } from "./instance.js";
import { instanceOf } from "./mqtt/instance-probe.js";
import { logLevel } from "./util/log.js";

/** What `bridge/info` and the `info` request answer with. Holds no secret: ids, topics, names. */
export function bridgeInfo(context: BridgeContext): Record<string, unknown> {
  const devices = context.devices();
  const announced = new Set(devices.map((device) => device.describe().topic));
  return {
    version: context.version,
    topic: context.publisher.root,
    instance: context.instance,
    log_level: logLevel(context.logger),
    discovery: context.config.homeassistant.discovery,
    devices: devices.map((device) => {
      const { id, topic, kind, name, model, swVersion } = device.describe();
      return { id, topic, kind, name, model, swVersion, writable: Boolean(device.write) };
    }),
    // states without a device yet: a Climkit account before its first discovery
    accounts: [...context.availability()]
      .filter(([topic]) => !announced.has(topic))
      .map(([topic, state]) => ({ topic, online: state.online, error: state.error })),
  };
}

/**
 * `<root>/bridge/info`: retained JSON naming the version, this instance and the configured
 * devices, so a user (or a support request) can see what runs without reading the config. It
 * is also how an instance learns that another one took its root over (`--takeover`): it then
 * ends, instead of both obeying the same `/set` topics.
 */
export class BridgeInfo implements Extension {
  readonly name = "bridge-info";
  private timer: NodeJS.Timeout | undefined;
  private readonly topic: string;

  constructor(private readonly context: BridgeContext) {
    this.topic = `${context.publisher.root}/bridge/info`;
  }

  async start(): Promise<void> {
    this.context.events.on("device", this.schedule);
    this.context.events.on("availability", this.onAvailability);
    this.context.connection.subscribe(this.topic, this.onInfo);
    this.publish();
  }

  async stop(): Promise<void> {
    this.context.events.off("device", this.schedule);
    this.context.events.off("availability", this.onAvailability);
    this.context.connection.unsubscribe(this.topic, this.onInfo);
    clearTimeout(this.timer);
  }

  /** Publishes at once (after a log level change, say). */
  publish(): void {
    this.context.publisher.setRaw(this.topic, JSON.stringify(bridgeInfo(this.context)));
  }

  // devices announce themselves in bursts at start-up: publish once the burst is over
  private readonly schedule = (): void => {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.publish(), 200);
    this.timer.unref();
  };

  // only a state without a device shows in the info (devices' states are in bridge/health)
  private readonly onAvailability = (topic: string): void => {
    if (!this.context.devices().some((device) => device.describe().topic === topic)) this.schedule();
  };

  private readonly onInfo = (_topic: string, payload: Buffer, packet: IPublishPacket): void => {
    const other = instanceOf(payload.toString("utf8"));
    const own = this.context.instance;
    if (!other || sameInstance(own, other)) return;
    // a retained info from before this instance started is its predecessor's: not a takeover
    if (packet.retain && !(typeof other.since === "string" && other.since > own.since)) return;
    this.context.logger.warn(
      { other },
      `another instance took over this root (${describeInstance(other)}): stopping this one`,
    );
    this.context.end("takenOver");
  };
}
