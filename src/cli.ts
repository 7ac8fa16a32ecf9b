#!/usr/bin/env node
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "./config/load.js";
import type { Config } from "./config/schema.js";
import { Daemon, packageVersion } from "./daemon.js";
import { runDaemon } from "./run.js";
import { describeConfig } from "./summary.js";
import { createLogger } from "./util/log.js";

const EXIT_CONFIG = 78; // EX_CONFIG from sysexits.h: systemd and users know it
/** The log message of an unhandled rejection; tests look for it. */
export const UNHANDLED_REJECTION = "unhandled promise rejection (a bug; the bridge keeps running)";

const HELP = `ev2mqtt ${packageVersion()}: go-eCharger, Climkit and OVMS on MQTT, evcc-style

Usage:
  ev2mqtt --config FILE            run the bridge
  ev2mqtt --check --config FILE    validate the configuration, print what would run
  ev2mqtt --demo [--config FILE]   run against built-in simulators and an embedded broker
  ev2mqtt --version | --help

Exit codes: 0 stopped normally, 78 bad configuration, 1 other fatal error.
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
  if (args.values.demo) {
    const { runDemo } = await import("./demo.js");
    return runDemo(args.values.config);
  }
  const file = args.values.config;
  if (!file) {
    process.stderr.write(`--config FILE is required\n\n${HELP}\n`);
    return 64;
  }
  let config: Config;
  try {
    config = await loadConfig(file);
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
  const logger = createLogger({ level: config.log.level });
  // defence in depth (issue 13.1): a rejection nobody handles is a bug, but no message from a
  // broker client may stop the bridge through one; it is logged and the bridge runs on
  process.on("unhandledRejection", (reason) => {
    logger.error({ err: reason instanceof Error ? reason.message : String(reason) }, UNHANDLED_REJECTION);
  });
  return runDaemon(new Daemon(config, logger), logger);
}

function parse() {
  return parseArgs({
    options: {
      config: { type: "string", short: "c" },
      check: { type: "boolean" },
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
