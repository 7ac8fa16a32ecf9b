import { z } from "zod";
import { DENIED_KEYS } from "../goe/writes.js";
import { parseDuration } from "../util/duration.js";
import { commandsUrl, hostPort, httpUrl, mqttUrl, parseUrl } from "./fields.js";

// The configuration's single source of truth: the types the code uses are inferred from it,
// and every error it reports carries the path of the field (`goe[0].serial`).

function duration(fallback: string, minMs = 0) {
  return z
    .union([z.string(), z.number()])
    .default(fallback)
    .transform((raw, ctx) => {
      const ms = parseDuration(raw);
      if (ms === undefined) {
        ctx.addIssue({
          code: "custom",
          message: `must be a duration such as 500ms, 5s, 2m, 1h (got ${JSON.stringify(raw)})`,
        });
        return z.NEVER;
      }
      if (ms < minMs) {
        ctx.addIssue({ code: "custom", message: `must be at least ${minMs / 1000}s` });
        return z.NEVER;
      }
      return ms;
    });
}

const secret = z.string().min(1, "must not be empty");

/** One MQTT topic (the wildcards # and + would make it a filter). */
const NO_WILDCARDS = /^[^#+]+$/;

const loadpoint = z
  .number()
  .int("must be a whole number")
  .min(1, "must be 1 or more (loadpoints count from 1)");

const mqtt = z
  .strictObject({
    url: mqttUrl.optional(),
    listen: hostPort.default("127.0.0.1:1883"),
    topic: z
      .string()
      .min(1)
      .regex(NO_WILDCARDS, "must not contain MQTT wildcards (# or +)")
      .transform((topic) => topic.replace(/^\/+|\/+$/g, ""))
      .default("ev2mqtt"),
    username: z.string().optional(),
    password: z.string().optional(),
    /** Default: `ev2mqtt-<hostname>-<root>`, stable across restarts and distinct per host and root. */
    clientId: z.string().min(1).optional(),
    /** Start even when another live ev2mqtt instance holds the root (it is taken over). */
    takeover: z.boolean().default(false),
    protocolVersion: z.literal([4, 5]).default(5),
    ca: z.string().optional(),
    cert: z.string().optional(),
    key: z.string().optional(),
    rejectUnauthorized: z.boolean().default(true),
    /** A write the broker kept for the bridge longer than this is answered as stale, not carried out. */
    staleWriteAfter: duration("30s", 100),
    /** MQTT 5: how long the broker keeps the bridge's session (and the writes for it) while it is away. */
    sessionExpiry: duration("1h", 1000),
  })
  .prefault({});

const log = z
  .strictObject({
    level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  })
  .prefault({});

const http = z
  .strictObject({
    listen: hostPort.optional(),
    /**
     * Bearer token for the REST writes (`POST /api/loadpoints/...`). Required for writes when
     * `listen` is not a loopback address (127.0.0.1, ::1, localhost); checked whenever it is set.
     */
    token: z.string().min(16, "must be at least 16 characters (e.g. openssl rand -hex 24)").optional(),
  })
  .prefault({});

/** One live power reading for the PV-surplus feed: an MQTT topic and how to read its payload. */
// one meter, one topic: a wildcard would mix several meters' readings into one input
const meterTopic = z
  .string()
  .min(1)
  .regex(NO_WILDCARDS, "must be one topic, without MQTT wildcards (# or +)");
// a topic alone is short for { topic }; one object schema keeps the error messages precise
const powerInput = z.preprocess(
  (raw) => (typeof raw === "string" ? { topic: raw } : raw),
  z.strictObject({
    topic: meterTopic,
    /** Multiplies the reading into W: 1000 for a meter that publishes kW. */
    scale: z
      .number()
      .refine((n) => Number.isFinite(n) && n !== 0, "must be a number other than 0")
      .default(1),
    /** Flips the sign, for a meter whose convention is the opposite of the one asked for. */
    invert: z.boolean().default(false),
    /** Dotted path to the number in a JSON payload: `ENERGY.Power`, `meters.0.power`. */
    json: z.string().min(1).optional(),
  }),
);

const surplus = z.strictObject({
  /** Grid power in W, import positive, export negative (after scale and invert). Required. */
  grid: powerInput,
  /** PV production in W, positive. */
  pv: powerInput.optional(),
  /** Home battery power in W: positive discharging, negative charging (go-e's pAkku). */
  battery: powerInput.optional(),
  /** How often the charger gets the readings (go-e forgets them after about 10 s). */
  interval: duration("4s", 1000).refine((ms) => ms <= 5000, "must be at most 5s: go-e needs ids every 5s"),
  /** A reading older than this is stale; with a stale grid reading nothing is sent. */
  maxAge: duration("10s", 1000),
});

const homeassistant = z
  .strictObject({
    discovery: z.boolean().default(true),
    prefix: z
      .string()
      .regex(/^[^#+\s]+$/, "must be a topic without wildcards")
      .default("homeassistant"),
  })
  .prefault({});

const goeCharger = z.strictObject({
  serial: z
    .union([z.string(), z.number().int()])
    // YAML reads an unquoted 000001 as the number 1: restore the leading zeros
    .transform((raw) => (typeof raw === "number" ? String(raw).padStart(6, "0") : raw))
    .pipe(z.string().regex(/^\d{6}$/, 'must be the charger\'s 6-digit serial number, e.g. "000001"')),
  token: secret.optional(),
  loadpoint,
  title: z.string().optional(),
  interval: duration("5s", 1000),
  timeout: duration("10s", 500),
  /** A bare host (`192.168.1.50`) is the local API, which is plain HTTP. */
  url: httpUrl({ bareHost: "http", suggest: "http" }).optional(),
  /** Extra go-e keys writable through `goe/<key>/set`, beyond the built-in allow-list. */
  writableKeys: z
    .array(
      z
        .string()
        .regex(/^[a-zA-Z0-9_]+$/, "must be a go-e API key such as lmo")
        .refine((key) => !DENIED_KEYS.has(key), {
          error: (issue) =>
            `${JSON.stringify(issue.input)} is always refused (${DENIED_KEYS.get(String(issue.input))}): remove it`,
        }),
    )
    .default([]),
  /** Live grid (and PV, battery) power from MQTT, sent to the charger for PV-surplus charging. */
  surplus: surplus.optional(),
});

const climkitAccount = z.strictObject({
  username: z.string().min(1),
  password: secret,
  sites: z.array(z.string().min(1)).optional(),
  interval: duration("5m", 60_000),
  timeout: duration("20s", 1000),
  url: httpUrl({ suggest: "https" }).default("https://api.climkit.io/api/v1"),
});

const ovmsVehicle = z.strictObject({
  id: z.string().min(1),
  name: z
    .string()
    .regex(/^[a-zA-Z0-9_-]+$/, "must be letters, digits, - or _ (it becomes a topic level)")
    .optional(),
  loadpoint: loadpoint.optional(),
  /** Enables `locked/set` (lock/unlock), which OVMS guards with this PIN. */
  pin: secret.optional(),
  /** Enables `command/set`: raw OVMS shell commands. Off unless asked for. */
  shell: z.boolean().default(false),
});

/** `commands`: the v2 endpoint, `false` for none, or left out for the default (see below). */
const commandsSetting = z.unknown().transform((raw, ctx): string | false | undefined => {
  if (raw === false || raw === undefined) return raw;
  const parsed = commandsUrl.safeParse(raw);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) ctx.addIssue({ code: "custom", message: issue.message });
  return z.NEVER;
});

const ovmsServer = z
  .strictObject({
    url: httpUrl({ suggest: "https" }),
    username: z.string().min(1),
    password: secret,
    /** The v2 endpoint: the data path and commands. Default: from `url`; `false` turns it off. */
    commands: commandsSetting.optional(),
    interval: duration("60s", 5000),
    /** Poll interval while a vehicle charges or sits at a loadpoint with a car connected. */
    activeInterval: duration("15s", 5000),
    /** While the v2 link is up, the REST API is still read this often, as a cross-check. */
    restInterval: duration("15m", 5000),
    timeout: duration("30s", 1000),
    /** How long to wait for the car's reply to a command. */
    commandTimeout: duration("20s", 1000),
    rejectUnauthorized: z.boolean().default(true),
    vehicles: z.array(ovmsVehicle).min(1, "list at least one vehicle id"),
  })
  // the v2 endpoint the OVMS apps use on the same host: TLS 6870 next to HTTPS, else TCP 6867
  .transform(({ commands, ...server }) => ({
    ...server,
    commands: commands === false ? undefined : (commands ?? defaultV2Endpoint(server.url)),
  }));

function defaultV2Endpoint(url: string): string {
  const parsed = new URL(url);
  return parsed.protocol === "https:" ? `tls://${parsed.hostname}:6870` : `tcp://${parsed.hostname}:6867`;
}

export const ConfigSchema = z
  .strictObject({
    mqtt,
    log,
    http,
    homeassistant,
    goe: z.array(goeCharger).default([]),
    climkit: z.array(climkitAccount).default([]),
    ovms: z.array(ovmsServer).default([]),
  })
  .superRefine((config, ctx) => {
    const loadpoints = new Map<number, number>();
    const serials = new Map<string, number>();
    config.goe.forEach((charger, index) => {
      const sameSerial = serials.get(charger.serial);
      if (sameSerial !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["goe", index, "serial"],
          message: `charger ${charger.serial} is already configured as goe[${sameSerial}]: list each charger once`,
        });
      } else serials.set(charger.serial, index);
      const previous = loadpoints.get(charger.loadpoint);
      if (previous !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["goe", index, "loadpoint"],
          message: `loadpoint ${charger.loadpoint} is already used by goe[${previous}]`,
        });
      } else loadpoints.set(charger.loadpoint, index);
      const host = charger.url ? parseUrl(charger.url)?.hostname : undefined;
      const cloud = !charger.url || /\.api\.v3\.go-e\.io$/i.test(host ?? "");
      if (cloud && !charger.token) {
        ctx.addIssue({
          code: "custom",
          path: ["goe", index, "token"],
          message:
            "the go-e cloud needs the API token (app: Internet › Advanced settings); for the local API set url: http://<charger ip>",
        });
      }
    });
    const names = new Map<string, string>();
    config.ovms.forEach((server, s) => {
      server.vehicles.forEach((vehicle, v) => {
        const name = vehicle.name ?? vehicle.id.toLowerCase();
        const path = `ovms[${s}].vehicles[${v}]`;
        const previous = names.get(name);
        if (previous) {
          ctx.addIssue({
            code: "custom",
            path: ["ovms", s, "vehicles", v, "name"],
            message: `name "${name}" is already used by ${previous}`,
          });
        } else names.set(name, path);
        if (!/^[a-zA-Z0-9_-]+$/.test(name)) {
          ctx.addIssue({
            code: "custom",
            path: ["ovms", s, "vehicles", v, "name"],
            message: `id "${vehicle.id}" is no valid topic name: set name`,
          });
        }
        if (vehicle.loadpoint !== undefined && !loadpoints.has(vehicle.loadpoint)) {
          ctx.addIssue({
            code: "custom",
            path: ["ovms", s, "vehicles", v, "loadpoint"],
            message: `no go-e charger has loadpoint ${vehicle.loadpoint}`,
          });
        }
      });
    });
  });

export type Config = z.output<typeof ConfigSchema>;
export type MqttConfig = Config["mqtt"];
export type GoeConfig = Config["goe"][number];
export type SurplusConfig = NonNullable<GoeConfig["surplus"]>;
export type PowerInputConfig = SurplusConfig["grid"];
export type ClimkitConfig = Config["climkit"][number];
export type OvmsConfig = Config["ovms"][number];
export type OvmsVehicleConfig = OvmsConfig["vehicles"][number];
