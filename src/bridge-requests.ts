import type { IPublishPacket } from "mqtt";
import { bridgeInfo } from "./bridge-info.js";
import type { BridgeContext, Extension } from "./extension.js";
import { shown } from "./util/echo.js";
import { isLogLevel, LOG_LEVELS, logLevel, setLogLevel } from "./util/log.js";

/** The answer on `<root>/bridge/response/<what>`, as Zigbee2MQTT users know it. */
export type BridgeResponse =
  | { status: "ok"; data: unknown; transaction?: unknown }
  | { status: "error"; error: string; data: Record<string, never>; transaction?: unknown };

type Handler = (options: Record<string, unknown>) => Promise<unknown> | unknown;

class RequestError extends Error {}

const MAX_REQUEST = 4096;

/**
 * `<root>/bridge/request/<what>` → `<root>/bridge/response/<what>` (and the MQTT 5 response
 * topic, when it is a safe one): `info`, `health_check`, `log_level`, `poll`, `restart`. The
 * payload is JSON (`{"value":"debug","transaction":1}`) or a plain value (`debug`); the
 * `transaction` is echoed. Nothing here writes to an upstream: `poll` only reads.
 */
export class BridgeRequests implements Extension {
  readonly name = "bridge-requests";
  private readonly filter: string;
  private readonly handlers: Record<string, Handler>;

  constructor(
    private readonly context: BridgeContext,
    private readonly onLogLevel: () => void = () => undefined,
  ) {
    this.filter = `${context.publisher.root}/bridge/request/+`;
    this.handlers = {
      info: () => bridgeInfo(context),
      health_check: () => healthOf(context),
      log_level: (options) => this.logLevel(options),
      poll: (options) => this.poll(options),
      restart: () => {
        // answer first: the response must leave before the connection closes
        setTimeout(() => context.end("restart"), 100).unref();
        return { restarting: true };
      },
    };
  }

  async start(): Promise<void> {
    this.context.connection.subscribe(this.filter, this.onRequest);
  }

  async stop(): Promise<void> {
    this.context.connection.unsubscribe(this.filter, this.onRequest);
  }

  private readonly onRequest = (topic: string, payload: Buffer, packet: IPublishPacket): void => {
    // an empty payload is what clearing a retained request looks like (ours included): it is
    // no request, as an empty /set is no write. A request carries at least `{}` or a word.
    if (payload.length === 0) return;
    const what = topic.slice(topic.lastIndexOf("/") + 1);
    // a retained request would run again at every start: clear it, never act on it, say why
    if (packet.retain) {
      this.context.publisher.clearRetained(topic);
      void this.handle(
        what,
        payload,
        packet,
        "a retained request is stale and never acted on (publish without retain)",
      );
      return;
    }
    void this.handle(what, payload, packet);
  };

  private async handle(
    what: string,
    payload: Buffer,
    packet: IPublishPacket,
    refusal?: string,
  ): Promise<void> {
    const parsed = parseRequest(payload);
    const { options, transaction } = parsed;
    const problem = refusal ?? parsed.problem;
    let response: BridgeResponse;
    const handler = Object.hasOwn(this.handlers, what) ? this.handlers[what] : undefined;
    try {
      if (problem) throw new RequestError(problem);
      if (!handler) {
        // the name is not echoed: the response topic names it (see util/echo.ts)
        throw new RequestError(`unknown request (known: ${Object.keys(this.handlers).join(", ")})`);
      }
      response = { status: "ok", data: await handler(options) };
    } catch (error) {
      response = { status: "error", error: (error as Error).message, data: {} };
    }
    if (transaction !== undefined) response.transaction = transaction;
    this.context.logger.info({ request: what, status: response.status }, "bridge request");
    await this.context.publisher.response(
      `${this.context.publisher.root}/bridge/response/${what}`,
      JSON.stringify(response),
      packet,
      this.context.config.homeassistant.prefix,
    );
  }

  private logLevel(options: Record<string, unknown>): unknown {
    const value = options.value;
    if (typeof value !== "string" || !isLogLevel(value)) {
      throw new RequestError(`log_level must be one of ${LOG_LEVELS.join(", ")} (got ${show(value)})`);
    }
    setLogLevel(this.context.logger, value);
    this.context.logger.info({ logLevel: value }, "log level changed");
    this.onLogLevel();
    return { value: logLevel(this.context.logger) };
  }

  private async poll(options: Record<string, unknown>): Promise<unknown> {
    const wanted = options.device ?? options.value;
    const devices = this.context.devices();
    const device = devices.find((d) => d.describe().topic === wanted || d.describe().id === wanted);
    const known = devices.map((d) => d.describe().topic).join(", ");
    if (!device) throw new RequestError(`no device ${show(wanted)} (devices: ${known || "none yet"})`);
    if (!device.pollNow) throw new RequestError(`${device.describe().topic} cannot be polled on request`);
    await device.pollNow();
    const topic = device.describe().topic;
    const state = this.context.availability().get(topic);
    return { device: topic, online: state?.online ?? false, error: state?.error ?? "" };
  }
}

/** JSON with options, or a plain value (`debug`, `loadpoints/1`); never throws. */
function parseRequest(payload: Buffer): {
  options: Record<string, unknown>;
  transaction?: unknown;
  problem?: string;
} {
  if (payload.length > MAX_REQUEST)
    return { options: {}, problem: `request too long (${payload.length} bytes)` };
  const text = payload.toString("utf8").trim();
  if (text === "") return { options: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { options: { value: text } };
  }
  if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) {
    const options = Object.fromEntries(Object.entries(parsed));
    const { transaction } = options;
    const valid =
      transaction === undefined || typeof transaction === "string" || typeof transaction === "number";
    return valid
      ? { options, transaction }
      : { options, problem: "transaction must be a string or a number" };
  }
  return { options: { value: parsed } };
}

/** What a refusal shows of what it got: an excerpt no secret fits in (see util/echo.ts). */
function show(value: unknown): string {
  return shown(typeof value === "string" ? value : (JSON.stringify(value) ?? String(value)));
}

/** Health as `health_check` answers and `bridge/health` holds it: per device, and counts. */
export function healthOf(context: BridgeContext): Record<string, unknown> {
  const devices: Record<string, { online: boolean; error: string }> = {};
  let online = 0;
  for (const [topic, state] of context.availability()) {
    devices[topic] = { online: state.online, error: state.error };
    if (state.online) online += 1;
  }
  return {
    healthy: context.connection.connected,
    mqtt: {
      connected: context.connection.connected,
      received: context.connection.received,
      published: context.connection.published,
    },
    devices,
    counts: { devices: Object.keys(devices).length, online, offline: Object.keys(devices).length - online },
  };
}

/**
 * `<root>/bridge/health`: retained `healthOf`, published when a device's state changes (a
 * second later, to take a burst in one) and every minute for the counts.
 */
export class BridgeHealth implements Extension {
  readonly name = "bridge-health";
  private debounce: NodeJS.Timeout | undefined;
  private interval: NodeJS.Timeout | undefined;

  constructor(
    private readonly context: BridgeContext,
    private readonly timings: { debounceMs?: number; everyMs?: number } = {},
  ) {}

  async start(): Promise<void> {
    this.context.events.on("availability", this.schedule);
    this.context.connection.on("connect", this.schedule);
    this.interval = setInterval(() => this.publish(), this.timings.everyMs ?? 60_000);
    this.interval.unref();
    this.publish();
  }

  async stop(): Promise<void> {
    this.context.events.off("availability", this.schedule);
    this.context.connection.off("connect", this.schedule);
    clearTimeout(this.debounce);
    clearInterval(this.interval);
  }

  private readonly schedule = (): void => {
    if (this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      this.publish();
    }, this.timings.debounceMs ?? 1000);
    this.debounce.unref();
  };

  private publish(): void {
    const { publisher } = this.context;
    publisher.setRaw(`${publisher.root}/bridge/health`, JSON.stringify(healthOf(this.context)));
  }
}
