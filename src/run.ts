import type { Daemon } from "./daemon.js";
import type { Logger } from "./util/log.js";

const STOP_DEADLINE_MS = 5000;

/** Runs a daemon until SIGTERM/SIGINT, then stops it within the deadline. */
export async function runDaemon(daemon: Daemon, logger: Logger, onStarted?: () => void): Promise<number> {
  process.on("uncaughtException", (error) => {
    logger.fatal({ err: error.message, stack: error.stack }, "uncaught exception");
    process.exit(1);
  });
  try {
    await daemon.start();
  } catch (error) {
    logger.fatal({ err: (error as Error).message }, "could not start");
    await daemon.stop().catch(() => undefined);
    return 1;
  }
  onStarted?.();
  const signal = await new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  logger.info({ signal }, "stopping");
  const deadline = setTimeout(() => {
    logger.error("did not stop within 5 s; exiting anyway");
    process.exit(1);
  }, STOP_DEADLINE_MS);
  deadline.unref();
  await daemon.stop();
  clearTimeout(deadline);
  return 0;
}
