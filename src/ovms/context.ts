import type { OvmsConfig } from "../config/schema.js";
import type { Priority } from "../upstream/queue.js";
import type { Logger } from "../util/log.js";
import type { FastReporting } from "./fast.js";
import type { OvmsRest } from "./rest.js";
import type { OvmsV2Client } from "./v2client.js";

/** The vehicle list as read, and when it was asked for (a `Z` line after that is newer). */
export interface VehicleList {
  body: unknown;
  requestedAt: number;
}

/** What the vehicles of one server account share. */
export interface ServerContext {
  config: OvmsConfig;
  /** `ovms[0]`, for messages that point at the configuration. */
  configPath: string;
  serverHost: string;
  rest: OvmsRest;
  /** The v2 links (data path and commands); undefined with `commands: false`. */
  v2: OvmsV2Client | undefined;
  /** App logins that keep a car reporting fast; undefined without v2. */
  fast: FastReporting | undefined;
  /** /api/vehicles, shared by the server's vehicles and reused while younger than maxAgeMs. */
  vehicleList(maxAgeMs: number, priority: Priority): Promise<VehicleList>;
  /** False once the server answered GET /api/vehicle/<id> with 404 (servers before 2021). */
  peerSupported: boolean;
  logger: Logger;
  /** Registers a running write with the source, which answers it before stop() resolves. */
  track<T>(write: Promise<T>): Promise<T>;
}
