import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import mqtt, { type IClientOptions } from "mqtt";
import type { InstanceIdentity } from "../instance.js";
import type { ConnectionOptions } from "./connection.js";

/** The probe connects as the bridge would: same broker, login and TLS settings. */
export type ProbeOptions = Pick<
  ConnectionOptions,
  "url" | "username" | "password" | "protocolVersion" | "ca" | "cert" | "key" | "rejectUnauthorized"
> & {
  root: string;
  /** How long a live instance has to answer the health check; default 2 s. */
  answerMs?: number;
  /** How long to try the broker; default 5 s. */
  connectMs?: number;
};

export type ProbeResult = (
  | { state: "free" }
  /** `status` says online but nobody answered: a crashed instance whose will has not fired yet. */
  | { state: "stale"; info?: Partial<InstanceIdentity> }
  | { state: "live"; info: Partial<InstanceIdentity> }
  | { state: "unreachable"; error: string }
) & {
  /** Topics under the root that hold a retained message now. */
  retained: string[];
};

/**
 * Looks at a root before the bridge takes it: with a throwaway client id (so no one is thrown
 * off the broker) it reads the retained messages under the root, `<root>/status` and
 * `<root>/bridge/info` among them; when the root
 * says `online`, it asks `bridge/request/health_check`, which only a running instance answers.
 */
export async function probeRoot(options: ProbeOptions): Promise<ProbeResult> {
  const id = randomBytes(6).toString("hex");
  const clientOptions: IClientOptions = {
    clientId: `ev2mqtt-probe-${id}`,
    username: options.username,
    password: options.password,
    protocolVersion: options.protocolVersion,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: options.connectMs ?? 5000,
    rejectUnauthorized: options.rejectUnauthorized,
    // the first client to write decides for the whole process: with the default, mqtt-packet
    // keeps a 6 MB cache of message-id buffers for good (see connection.ts)
    writeCache: false,
  };
  if (options.ca) clientOptions.ca = readFileSync(options.ca);
  if (options.cert) clientOptions.cert = readFileSync(options.cert);
  if (options.key) clientOptions.key = readFileSync(options.key);
  let client: mqtt.MqttClient;
  try {
    client = await mqtt.connectAsync(options.url, clientOptions, false);
  } catch (error) {
    return { state: "unreachable", error: (error as Error).message, retained: [] };
  }
  const { root } = options;
  const marker = `${root}/bridge/probe/${id}`;
  const transaction = `probe-${id}`;
  let status = "";
  let info: Partial<InstanceIdentity> | undefined;
  let markerSeen: () => void = () => undefined;
  let answered: () => void = () => undefined;
  const markerArrived = new Promise<void>((resolve) => (markerSeen = resolve));
  const answer = new Promise<void>((resolve) => (answered = resolve));
  const retained = new Set<string>();
  client.on("message", (topic, payload, packet) => {
    const text = payload.toString("utf8");
    if (packet.retain && payload.length > 0) retained.add(topic);
    if (topic === `${root}/status`) status = text.trim();
    else if (topic === `${root}/bridge/info`) info = instanceOf(text);
    else if (topic === marker) markerSeen();
    else if (topic === `${root}/bridge/response/health_check` && text.includes(transaction)) answered();
  });
  const wait = (promise: Promise<void>, ms: number) =>
    Promise.race([
      promise.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref()),
    ]);
  try {
    await client.subscribeAsync(`${root}/#`, { qos: 1 });
    // the broker delivers the retained messages before our own marker comes back
    await client.publishAsync(marker, "", { qos: 1 });
    await wait(markerArrived, 10_000);
    if (status !== "online") return { state: "free", retained: [...retained] };
    await client.publishAsync(`${root}/bridge/request/health_check`, JSON.stringify({ transaction }), {
      qos: 1,
    });
    const live = await wait(answer, options.answerMs ?? 2000);
    return live
      ? { state: "live", info: info ?? {}, retained: [...retained] }
      : { state: "stale", info, retained: [...retained] };
  } catch (error) {
    return { state: "unreachable", error: (error as Error).message, retained: [...retained] };
  } finally {
    await client.endAsync(true).catch(() => undefined);
  }
}

/** The `instance` of a `bridge/info` payload, if it has one. */
export function instanceOf(text: string): Partial<InstanceIdentity> | undefined {
  try {
    const parsed = JSON.parse(text) as { instance?: Partial<InstanceIdentity> };
    return parsed && typeof parsed.instance === "object" ? parsed.instance : undefined;
  } catch {
    return undefined;
  }
}
