import type { OvmsConfig } from "../config/schema.js";
import { UpstreamQueue } from "../upstream/queue.js";
import type { Logger } from "../util/log.js";
import { OvmsSource, type OvmsSourceOptions } from "./source.js";

export { OvmsSimulator, type OvmsSimulatorOptions } from "./simulator/server.js";
export { OvmsSource, type OvmsSourceOptions } from "./source.js";

export interface CreateOvmsOptions {
  logger: Logger;
  /** Spacing of REST requests per server host; default 2000 ms (30 requests/min at most). */
  minSpacingMs?: number;
  /** v2 link tuning, for tests. */
  v2?: OvmsSourceOptions["v2"];
  /** No REST request for this long after a 429 (default a minute), for tests. */
  rateLimitPauseMs?: number;
  /** The server's session sweep and what counts as a fresh session, for scaled runs. */
  sessionTiming?: OvmsSourceOptions["sessionTiming"];
}

/**
 * One source per configured OVMS account. Accounts on the same server host share one REST
 * queue: the server's rate limit counts requests per client address, not per account.
 */
export function createOvmsSources(configs: OvmsConfig[], options: CreateOvmsOptions): OvmsSource[] {
  const queues = new Map<string, UpstreamQueue>();
  return configs.map((config, index) => {
    const host = new URL(config.url).hostname.toLowerCase();
    let queue = queues.get(host);
    if (!queue) {
      queue = new UpstreamQueue(`ovms:${host}`, options.minSpacingMs ?? 2000);
      queues.set(host, queue);
    }
    return new OvmsSource(config, {
      logger: options.logger,
      index,
      queue,
      ...(options.v2 ? { v2: options.v2 } : {}),
      ...(options.rateLimitPauseMs !== undefined ? { rateLimitPauseMs: options.rateLimitPauseMs } : {}),
      ...(options.sessionTiming ? { sessionTiming: options.sessionTiming } : {}),
    });
  });
}
