import type { Logger } from "./log.js";

/** The log message of an unhandled rejection; the hostile-client tests look for it. */
export const UNHANDLED_REJECTION = "unhandled promise rejection (a bug; the bridge keeps running)";

/**
 * Defence in depth (issue 13.1): a rejection nobody handles is a bug, but no message from a
 * broker client may stop the bridge through one. It is logged at error level, and the bridge
 * runs on.
 */
export function logUnhandledRejections(logger: Logger): void {
  process.on("unhandledRejection", (reason) => {
    logger.error({ err: reason instanceof Error ? reason.message : String(reason) }, UNHANDLED_REJECTION);
  });
}
