// The command line (cli.ts loads this once V8's memory rules are set).
import { readFileSync } from "node:fs";
import { parseArgs, parseEnv } from "node:util";
import { ConfigError, loadConfig } from "./config/load.js";
import type { Config } from "./config/schema.js";
import { Daemon, packageVersion } from "./daemon.js";
import { sizeHeapFor } from "./memory.js";
import { EXIT_CONFIG, runDaemon } from "./run.js";
import { describeConfig } from "./summary.js";
import { createLogger, isLogLevel, LOG_LEVELS } from "./util/log.js";
import { logUnhandledRejections } from "./util/unhandled.js";

const HELP = `ev2mqtt ${packageVersion()}: go-eCharger, Climkit and OVMS on MQTT, evcc-style

Usage:
  ev2mqtt --config FILE            run the bridge
  ev2mqtt --check --config FILE    validate the configuration, print what would run
  ev2mqtt --demo [--config FILE]   run against built-in simulators and an embedded broker
  ev2mqtt --version | --help

Options:
  --load-env FILE      read NAME=value lines (the service's EnvironmentFile) before the config
  --log-level LEVEL    fatal, error, warn, info, debug, trace or silent (else EV2MQTT_LOG_LEVEL,
                       else log.level from the config)
  --takeover           start even if another ev2mqtt instance is live on the same root topic

Exit codes:
  0   stopped normally
  1   other fatal error (see the log)
  64  wrong command line
  75  another ev2mqtt instance is live on the root topic (it is named; see --takeover)
  78  bad configuration (every problem is listed; fix the file, check it with --check)
Documentation: README.md; every option is in config.example.yaml.`;

async function main(): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse();
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${HELP}\n`);
    return 64;
  }
  if (args.values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (args.values.version) {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  const levelArg = args.values["log-level"] ?? process.env.EV2MQTT_LOG_LEVEL;
  if (levelArg !== undefined && !isLogLevel(levelArg)) {
    const from = args.values["log-level"] !== undefined ? "--log-level" : "EV2MQTT_LOG_LEVEL";
    process.stderr.write(
      `${from} must be one of ${LOG_LEVELS.join(", ")} (got ${JSON.stringify(levelArg)})\n`,
    );
    return 64;
  }
  const envFile = args.values["load-env"];
  if (envFile) {
    const problem = loadEnvFile(envFile);
    if (problem) {
      process.stderr.write(`${problem}\n`);
      return EXIT_CONFIG;
    }
  }
  if (args.values.demo) {
    const { runDemo } = await import("./demo.js");
    return runDemo(args.values.config, levelArg);
  }
  const file = args.values.config;
  if (!file) {
    process.stderr.write(`--config FILE is required\n\n${HELP}\n`);
    return 64;
  }
  const read = async (): Promise<Config> => {
    const config = await loadConfig(file);
    if (levelArg) config.log.level = levelArg;
    if (args.values.takeover) config.mqtt.takeover = true;
    return config;
  };
  let config: Config;
  try {
    config = await read();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return EXIT_CONFIG;
    }
    throw error;
  }
  if (args.values.check) {
    process.stdout.write(
      `${file}: configuration OK\n${describeConfig(config)
        .map((line) => `  ${line}`)
        .join("\n")}\n`,
    );
    return 0;
  }
  sizeHeapFor(config.goe.length + config.climkit.length + config.ovms.length);
  const logger = createLogger({ level: config.log.level });
  logUnhandledRejections(logger);
  let first = true;
  // a `restart` request reads the file again: a configuration edited since takes effect
  return runDaemon(async () => {
    const current = first ? config : await read();
    first = false;
    return new Daemon(current, logger);
  }, logger);
}

/** Reads `NAME=value` lines as systemd's EnvironmentFile does; variables already set win. */
function loadEnvFile(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === "EACCES"
      ? `${path}: this user may not read it; run as root (sudo) or as the ev2mqtt user (sudo -u ev2mqtt)`
      : `${path}: cannot read the environment file (${code ?? String(error)})`;
  }
  for (const [name, value] of Object.entries(parseEnv(text))) process.env[name] ??= value;
  return undefined;
}

function parse() {
  return parseArgs({
    options: {
      config: { type: "string", short: "c" },
      check: { type: "boolean" },
      // not --env-file: Node 20 takes that for itself wherever it is on the command line
      "load-env": { type: "string" },
      "log-level": { type: "string" },
      takeover: { type: "boolean" },
      demo: { type: "boolean" },
      version: { type: "boolean", short: "v" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
}

main().then(
  (code) => {
    process.exitCode = code;
    // sockets of the HTTP keep-alive pool would keep the process alive for a while
    setTimeout(() => process.exit(code), 100).unref();
  },
  (error: Error) => {
    process.stderr.write(`ev2mqtt: ${error.message}\n`);
    process.exit(1);
  },
);
