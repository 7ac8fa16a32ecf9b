import type { Logger } from "../util/log.js";
import { V2Link } from "./v2link.js";

// Fast reporting through a v2 app login. The module reports at its slow "idle" interval (many
// minutes) while no app is connected, and at its fast interval while one is. The server counts
// v2 app (`A`) logins and REST `GET /api/vehicle/<id>` peers alike, and tells the car the count
// (`Z <n>`). A REST peer dies with its session (every timeout_api, so the car gets a new peer
// count and sends a full report each time); an app login lives as long as its connection. So
// while a car charges or stands at a busy loadpoint the bridge keeps one app login for it,
// and ends it when that ends, so the module goes back to its data-saving interval. The lines
// it receives are the same as on the data link, and are ignored.

export interface FastReportingOptions {
  url: string;
  username: string;
  password: string;
  rejectUnauthorized: boolean;
  pingIntervalMs: number;
  reconnectMinMs: number;
  logger: Logger;
}

export class FastReporting {
  private readonly links = new Map<string, V2Link>();

  constructor(private readonly options: FastReportingOptions) {}

  /** Starts (true) or ends (false) the app login that keeps the car reporting fast. */
  set(vehicleId: string, on: boolean): void {
    const link = this.links.get(vehicleId);
    if (on && !link) {
      const created = new V2Link(
        {
          ...this.options,
          vehicleId,
          clientType: "A",
          loginTimeoutMs: 15_000,
          reconnectMaxMs: 300_000,
        },
        { line: () => undefined, state: () => undefined },
      );
      this.links.set(vehicleId, created);
      created.start();
      this.options.logger.info({ vehicle: vehicleId }, "OVMS fast reporting on (v2 app login)");
    } else if (!on && link) {
      link.close();
      this.links.delete(vehicleId);
      this.options.logger.info({ vehicle: vehicleId }, "OVMS fast reporting off");
    }
  }

  /** Whether the app login of a vehicle is up. */
  up(vehicleId: string): boolean {
    return this.links.get(vehicleId)?.up ?? false;
  }

  close(): void {
    for (const link of this.links.values()) link.close();
    this.links.clear();
  }
}
