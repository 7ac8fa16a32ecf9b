import { readFile } from "node:fs/promises";
import { parseDocument } from "yaml";
import type { z } from "zod";
import { addSecret } from "../util/secrets.js";
import { type Config, ConfigSchema } from "./schema.js";

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

function formatIssue(issue: z.core.$ZodIssue): string[] {
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map(
      (key) =>
        `${formatPath([...issue.path, key])}: unknown key (check the spelling; see config.example.yaml)`,
    );
  }
  let message = issue.message;
  if (issue.code === "invalid_type" && /received undefined/.test(message)) message = "is required";
  return [`${formatPath(issue.path)}: ${message}`];
}

/** Replaces `${NAME}` in every string by the environment variable; unset ones are problems. */
function substituteEnv(
  node: unknown,
  env: NodeJS.ProcessEnv,
  path: PropertyKey[],
  problems: string[],
): unknown {
  if (typeof node === "string") {
    return node.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_match, name: string) => {
      const value = env[name];
      if (value === undefined) {
        problems.push(`${formatPath(path)}: environment variable ${name} is not set`);
        return "";
      }
      return value;
    });
  }
  if (Array.isArray(node))
    return node.map((item, index) => substituteEnv(item, env, [...path, index], problems));
  if (node && typeof node === "object") {
    return Object.fromEntries(
      Object.entries(node).map(([key, value]) => [key, substituteEnv(value, env, [...path, key], problems)]),
    );
  }
  return node;
}

/** Validates an already parsed configuration object. Throws ConfigError with every problem. */
export function parseConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env, source = "config"): Config {
  const problems: string[] = [];
  const substituted = substituteEnv(raw ?? {}, env, [], problems);
  const result = ConfigSchema.safeParse(substituted);
  if (!result.success) problems.push(...result.error.issues.flatMap(formatIssue));
  if (problems.length > 0 || !result.success) throw new ConfigError(problems, source);
  registerSecrets(result.data);
  return result.data;
}

/** Reads, substitutes and validates a YAML configuration file. */
export async function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError([`cannot read the file (${code ?? String(error)})`], file);
  }
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new ConfigError(
      document.errors.map((error) => `YAML syntax: ${error.message.split("\n")[0]}`),
      file,
    );
  }
  return parseConfig(document.toJS(), env, file);
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
