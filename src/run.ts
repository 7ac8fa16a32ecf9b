import { ConfigError } from "./config/load.js";
import type { Daemon } from "./daemon.js";
import { InstanceConflictError } from "./instance.js";
import type { Logger } from "./util/log.js";

/** The process is gone by 5 s: main.ts exits 100 ms after runDaemon returns. */
const STOP_DEADLINE_MS = 4800;
export const EXIT_CONFIG = 78; // EX_CONFIG from sysexits.h: systemd and users know it
export const EXIT_INSTANCE_CONFLICT = 75; // EX_TEMPFAIL: another instance holds the root for now

/**
 * Runs a daemon until SIGTERM/SIGINT, then stops it within the deadline. A `restart` request
 * stops it and starts a new one from `make` (which may read the configuration again); another
 * instance taking over the root ends it.
 */
export async function runDaemon(
  make: () => Daemon | Promise<Daemon>,
  logger: Logger,
  onStarted?: () => void,
): Promise<number> {
  process.on("uncaughtException", (error) => {
    logger.fatal({ err: error.message, stack: error.stack }, "uncaught exception");
    process.exit(1);
  });
  // the first SIGTERM/SIGINT stops the bridge; more while it stops (systemd and an impatient
  // Ctrl-C send them) are only logged: the default action would kill it with writes unanswered
  let signalled = false;
  const signal = new Promise<string>((resolve) => {
    const onSignal = (name: string) => {
      if (signalled) {
        logger.warn(
          { signal: name },
          "already stopping; the signal is ignored (the bridge stops within 5 s)",
        );
        return;
      }
      signalled = true;
      resolve(name);
    };
    process.on("SIGTERM", () => onSignal("SIGTERM"));
    process.on("SIGINT", () => onSignal("SIGINT"));
  });
  let started = false;
  for (;;) {
    let daemon: Daemon;
    try {
      daemon = await make();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      logger.fatal({ problems: error.problems }, "the configuration became invalid; not restarting");
      return EXIT_CONFIG;
    }
    try {
      await daemon.start();
    } catch (error) {
      await daemon.stop().catch(() => undefined);
      if (error instanceof InstanceConflictError) {
        logger.fatal({ other: error.other }, error.message);
        return EXIT_INSTANCE_CONFLICT;
      }
      logger.fatal({ err: (error as Error).message }, "could not start");
      return 1;
    }
    if (!started) onStarted?.();
    started = true;
    const reason = await Promise.race([signal, daemon.ended]);
    logger.info(typeof reason === "string" ? { signal: reason } : { reason: reason.why }, "stopping");
    // every stop step is bounded (daemon.ts): this is the last resort, and still a normal exit
    // (systemd would record exit 1 as a failure and count it against the restart limit)
    const deadline = setTimeout(() => {
      logger.warn("stopping took longer than 5 s; exiting now");
      logger.info("ev2mqtt stopped");
      process.exit(typeof reason === "string" ? 0 : reason.why === "takenOver" ? EXIT_INSTANCE_CONFLICT : 0);
    }, STOP_DEADLINE_MS);
    deadline.unref();
    await daemon.stop();
    clearTimeout(deadline);
    if (typeof reason === "string") return 0;
    // a non-zero code, so systemd starts it again and it waits (exit 75 each time) until the
    // other instance is gone; a forged bridge/info then costs a restart, not the service
    if (reason.why === "takenOver") return EXIT_INSTANCE_CONFLICT;
    logger.info("restarting");
  }
}
