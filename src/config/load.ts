import { readFile } from "node:fs/promises";
import { parseDocument } from "yaml";
import type { z } from "zod";
import { addSecret } from "../util/secrets.js";
import { type Config, ConfigSchema } from "./schema.js";
import { describeYamlError } from "./yaml-errors.js";

/** A configuration that cannot run; `problems` are `path: message` lines, all of them. */
export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    source: string,
  ) {
    super(
      `${source}: ${problems.length} configuration problem${problems.length === 1 ? "" : "s"}:\n  ${problems.join("\n  ")}`,
    );
    this.name = "ConfigError";
  }
}

/** `goe[0].serial` from ["goe", 0, "serial"]. */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const part of path) {
    if (typeof part === "number") text += `[${part}]`;
    else text += text ? `.${String(part)}` : String(part);
  }
  return text || "(top level)";
}

/** What one entry of each list is, for the "add `- `" hint. */
const LIST_ENTRY: Record<string, string> = {
  goe: "charger",
  climkit: "account",
  ovms: "server",
  vehicles: "vehicle",
  sites: "site",
  writableKeys: "key",
};

function formatIssue(issue: z.core.$ZodIssue): string[] {
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map(
      (key) =>
        `${formatPath([...issue.path, key])}: unknown key (check the spelling; see config.example.yaml)`,
    );
  }
  let message = issue.message;
  if (issue.code === "invalid_type") {
    const received = /received (\w+)/.exec(message)?.[1];
    if (received === "undefined") message = "is required";
    else if (issue.expected === "array" && received === "object") {
      const entry = LIST_ENTRY[String(issue.path.at(-1))] ?? "entry";
      message = `must be a list: write "- " in front of the first key of each ${entry}, as in config.example.yaml`;
    } else if (issue.expected === "int") message = "must be a whole number";
    else message = `must be ${article(issue.expected)}${received ? ` (got ${article(received)})` : ""}`;
  } else if (issue.code === "too_small" && issue.origin === "string" && Number(issue.minimum) === 1) {
    message = "must not be empty";
  } else if (issue.code === "invalid_value") {
    message = `must be one of ${issue.values.map((value) => JSON.stringify(value)).join(", ")}`;
  }
  return [`${formatPath(issue.path)}: ${message}`];
}

function article(type: string): string {
  const names: Record<string, string> = {
    string: "text",
    number: "a number",
    boolean: "true or false",
    object: "a section of keys",
    array: "a list",
  };
  return names[type] ?? type;
}

interface Substitution {
  problems: string[];
  /** Fields whose value is unusable because of a substitution problem: their schema errors would only repeat it. */
  broken: string[];
}

const VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Replaces `${NAME}` in every string by the environment variable; each mistake is one problem. */
function substituteEnv(
  node: unknown,
  env: NodeJS.ProcessEnv,
  path: PropertyKey[],
  out: Substitution,
): unknown {
  if (typeof node === "string") {
    const where = formatPath(path);
    const fail = (problem: string) => {
      out.problems.push(`${where}: ${problem}`);
      out.broken.push(where);
      return node;
    };
    const bare = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(node.trim());
    if (bare)
      return fail(
        `"${node.trim()}" is taken literally: write \${${bare[1]}} to use the environment variable`,
      );
    const unclosed = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?![A-Za-z0-9_]*\})/.exec(node);
    if (unclosed) return fail(`"\${${unclosed[1]}" has no closing }: write \${${unclosed[1]}}`);
    const unset = [...node.matchAll(VARIABLE)]
      .map((match) => match[1])
      .filter((name) => env[name!] === undefined);
    if (unset.length > 0) {
      return fail(
        `environment variable ${unset.join(", ")} ${unset.length === 1 ? "is" : "are"} not set (systemd: put ${unset[0]}=… in the EnvironmentFile)`,
      );
    }
    return node.replace(VARIABLE, (_match, name: string) => env[name] ?? "");
  }
  if (Array.isArray(node)) return node.map((item, index) => substituteEnv(item, env, [...path, index], out));
  if (node && typeof node === "object") {
    return Object.fromEntries(
      Object.entries(node).map(([key, value]) => [key, substituteEnv(value, env, [...path, key], out)]),
    );
  }
  return node;
}

/** Validates an already parsed configuration object. Throws ConfigError with every problem. */
export function parseConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env, source = "config"): Config {
  const out: Substitution = { problems: [], broken: [] };
  const substituted = substituteEnv(raw ?? {}, env, [], out);
  const result = ConfigSchema.safeParse(substituted);
  const problems = [...out.problems];
  if (!result.success) {
    // one cause, one message: a field already reported for its variable is not reported again
    const repeated = (line: string) =>
      out.broken.some(
        (path) => line.startsWith(`${path}: `) || line.startsWith(`${path}.`) || line.startsWith(`${path}[`),
      );
    problems.push(...result.error.issues.flatMap(formatIssue).filter((line) => !repeated(line)));
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(problems, source);
  registerSecrets(result.data);
  return result.data;
}

export interface LoadOptions {
  /** A file that configures no device is refused (the demo reads only the broker settings). */
  requireDevice?: boolean;
}

/** Reads, substitutes and validates a YAML configuration file. */
export async function loadConfig(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  options: LoadOptions = {},
): Promise<Config> {
  const text = await readConfigFile(file);
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new ConfigError(
      document.errors.map((error) => `YAML syntax: ${describeYamlError(error, text)}`),
      file,
    );
  }
  const raw: unknown = document.toJS();
  const requireDevice = options.requireDevice ?? true;
  if (raw === null || raw === undefined) {
    throw new ConfigError(
      ["the file is empty: start from config.example.yaml and configure at least one device"],
      file,
    );
  }
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError(
      ["(top level): must be sections of keys (mqtt:, goe:, …), as in config.example.yaml"],
      file,
    );
  }
  const config = parseConfig(raw, env, file);
  if (requireDevice && config.goe.length + config.climkit.length + config.ovms.length === 0) {
    throw new ConfigError(
      ["no device is configured: add a goe:, climkit: or ovms: section (see config.example.yaml)"],
      file,
    );
  }
  return config;
}

async function readConfigFile(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why: Record<string, string> = {
      ENOENT: "there is no such file: check the path, or copy config.example.yaml there",
      EACCES: `this user (uid ${process.getuid?.() ?? "?"}) may not read it: check its owner and mode (the service runs as ev2mqtt: chgrp ev2mqtt, chmod 0640)`,
      EISDIR: "it is a directory: give the path of the YAML file",
    };
    throw new ConfigError(
      [`cannot read the file: ${(code && why[code]) ?? `${code ?? String(error)}`}`],
      file,
    );
  }
}

/** Every configured secret is scrubbed from logs and payloads from here on. */
function registerSecrets(config: Config): void {
  addSecret(config.mqtt.password);
  addSecret(config.http.token);
  for (const charger of config.goe) addSecret(charger.token);
  for (const account of config.climkit) addSecret(account.password);
  for (const server of config.ovms) {
    addSecret(server.password);
    for (const vehicle of server.vehicles) addSecret(vehicle.pin);
  }
}
