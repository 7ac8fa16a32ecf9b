import { hostname } from "node:os";

/** Who runs a bridge on a root: published in `bridge/info`, named when another instance is refused. */
export interface InstanceIdentity {
  host: string;
  pid: number;
  /** ISO time the instance started. */
  since: string;
  clientId: string;
}

/**
 * `ev2mqtt-<hostname>-<root>`: the same across restarts (so the broker keeps the bridge's
 * session and its queued `/set`), different for another host or root (so two instances never
 * throw each other off the broker by sharing an id). MQTT 3.1.1 brokers may limit ids to 23
 * characters; mosquitto and aedes accept longer ones.
 */
export function defaultClientId(root: string, host = hostname()): string {
  const safe = (text: string) => text.replace(/[^A-Za-z0-9_-]+/g, "_").replace(/^_+|_+$/g, "");
  return `ev2mqtt-${safe(host) || "host"}-${safe(root) || "root"}`;
}

export function currentInstance(clientId: string): InstanceIdentity {
  return { host: hostname(), pid: process.pid, since: new Date().toISOString(), clientId };
}

/** The same instance: a `bridge/info` the bridge published itself. */
export function sameInstance(a: InstanceIdentity, b: Partial<InstanceIdentity> | undefined): boolean {
  return b?.host === a.host && b.pid === a.pid && b.since === a.since;
}

export function describeInstance(instance: Partial<InstanceIdentity>): string {
  return `host ${instance.host ?? "?"}, pid ${instance.pid ?? "?"}, running since ${instance.since ?? "?"}, client id ${instance.clientId ?? "?"}`;
}

/** Another live instance holds the root: the bridge refuses to start (exit 75). */
export class InstanceConflictError extends Error {
  constructor(
    readonly root: string,
    readonly other: Partial<InstanceIdentity>,
  ) {
    super(
      `another ev2mqtt instance is live on the root topic ${root}/ (${describeInstance(other)}): stop it, give this one another mqtt.topic, or start this one with --takeover (mqtt.takeover: true) to replace it`,
    );
    this.name = "InstanceConflictError";
  }
}
