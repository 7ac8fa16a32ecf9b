import type { Config } from "./config/schema.js";
import { InstanceConflictError } from "./instance.js";
import { probeRoot } from "./mqtt/instance-probe.js";
import { unownedTopics } from "./retained-cleanup.js";
import type { Logger } from "./util/log.js";

/**
 * Before the bridge takes its root topic on an external broker: refuses to start while another
 * instance is live on it (InstanceConflictError, unless told to take over), and returns the
 * retained topics of devices no longer configured, for the daemon to erase once connected.
 */
export async function claimRoot(
  config: Config,
  url: string,
  protocolVersion: 4 | 5,
  logger: Logger,
): Promise<string[]> {
  const { mqtt } = config;
  const probe = await probeRoot({
    url,
    username: mqtt.username,
    password: mqtt.password,
    protocolVersion,
    ca: mqtt.ca,
    cert: mqtt.cert,
    key: mqtt.key,
    rejectUnauthorized: mqtt.rejectUnauthorized,
    root: mqtt.topic,
  });
  if (probe.state === "unreachable") {
    // the connection retries on its own; an instance check needs the broker
    logger.warn(
      { err: probe.error },
      "broker not reachable yet: starting without checking for another instance on this root",
    );
  } else if (probe.state === "live") {
    if (!mqtt.takeover) throw new InstanceConflictError(mqtt.topic, probe.info);
    logger.warn({ other: probe.info }, "taking over the root from another live instance (takeover)");
  } else if (probe.state === "stale") {
    logger.info(
      { other: probe.info },
      "the root says online but no instance answers (it crashed): taking it",
    );
  }
  return unownedTopics(config, probe.retained);
}
