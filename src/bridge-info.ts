import type { BridgeContext, Extension } from "./extension.js";

/**
 * `<root>/bridge/info`: retained JSON naming the version and the configured devices, so a user
 * (or a support request) can see what runs without reading the config. It holds no secret:
 * only ids, topics and names.
 */
export class BridgeInfo implements Extension {
  readonly name = "bridge-info";
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly context: BridgeContext) {}

  async start(): Promise<void> {
    this.context.events.on("device", this.schedule);
    this.publish();
  }

  async stop(): Promise<void> {
    this.context.events.off("device", this.schedule);
    clearTimeout(this.timer);
  }

  // devices announce themselves in bursts at start-up: publish once the burst is over
  private readonly schedule = (): void => {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.publish(), 200);
    this.timer.unref();
  };

  private publish(): void {
    const { context } = this;
    const info = {
      version: context.version,
      topic: context.publisher.root,
      discovery: context.config.homeassistant.discovery,
      devices: context.devices().map((device) => {
        const { id, topic, kind, name, model, swVersion } = device.describe();
        return { id, topic, kind, name, model, swVersion, writable: Boolean(device.write) };
      }),
    };
    context.publisher.setRaw(`${context.publisher.root}/bridge/info`, JSON.stringify(info));
  }
}
