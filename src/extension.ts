import type { EventEmitter } from "node:events";
import type { Config } from "./config/schema.js";
import type { InstanceIdentity } from "./instance.js";
import type { MqttConnection } from "./mqtt/connection.js";
import type { Publisher } from "./mqtt/publisher.js";
import type { WriteEvent, WriteOrigin } from "./mqtt/writes.js";
import type { Device, Values, WriteResult } from "./source.js";
import type { Logger } from "./util/log.js";

/** What happens in the bridge, for extensions that react to it. */
export interface BridgeEvents {
  device: [Device];
  /** New values of a device, as its source delivered them (keys relative to the device topic). */
  values: [topic: string, values: Values];
  availability: [topic: string, online: boolean, error: string];
  polled: [topic: string];
  write: [WriteEvent];
}

/** Everything an extension may use; it gets no upstream, only what the sources announced. */
export interface BridgeContext {
  config: Config;
  logger: Logger;
  version: string;
  connection: MqttConnection;
  publisher: Publisher;
  events: EventEmitter<BridgeEvents>;
  devices(): Device[];
  /** Availability per device topic, as last reported by its source. */
  availability(): ReadonlyMap<string, { online: boolean; error: string }>;
  /**
   * The bridge's one write path (WriteRouter.write): a write to a value topic relative to the
   * root (`loadpoints/1/maxCurrent`), validated, carried out and answered on its `/result`.
   */
  write(valueTopic: string, payload: string, origin?: WriteOrigin): Promise<WriteResult>;
  /** Who this instance is (host, pid, start time, client id). */
  instance: InstanceIdentity;
  /** Asks for the daemon to be restarted (configuration read again), or ended for good. */
  end(why: "restart" | "takenOver"): void;
}

/** A part of the bridge with a lifetime: Home Assistant discovery, health, bridge info. */
export interface Extension {
  readonly name: string;
  /** Besides subscribing and publishing, start does no slow work: the daemon waits for it. */
  start(): Promise<void>;
  stop(): Promise<void>;
}
