import { createRequire } from "node:module";
import { destination, type LevelWithSilent, type Logger, levels, pino } from "pino";
import type { PrettyOptions, PrettyStream } from "pino-pretty";
import { scrub } from "./secrets.js";

export type { Logger };

/** Field names whose values never reach a log, whatever they contain. */
const REDACT = [
  "password",
  "token",
  "*.password",
  "*.token",
  "*.access_token",
  "*.authorization",
  "*.Authorization",
  "*.cookie",
  "*.Cookie",
  "*.headers.authorization",
  "*.headers.cookie",
  '*.headers["set-cookie"]',
];

export interface LogOptions {
  level: LevelWithSilent;
  /** Human-readable output; default: when stdout is a terminal. */
  pretty?: boolean;
  destination?: NodeJS.WritableStream;
}

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

export function isLogLevel(text: string): text is LevelWithSilent {
  return (LOG_LEVELS as readonly string[]).includes(text);
}

/** The level each logger tree filters at, changeable at run time (`bridge/request/log_level`). */
const thresholds = new WeakMap<Logger, { level: LevelWithSilent }>();

function levelValue(level: LevelWithSilent): number {
  return level === "silent" ? Number.POSITIVE_INFINITY : (levels.values[level] ?? 30);
}

/**
 * Changes the level of a logger made by createLogger and of every child it has or will have.
 * (pino copies the level into each child when it is made, so the filter sits in a hook all of
 * them share.) Returns false for a logger that createLogger did not make.
 */
export function setLogLevel(logger: Logger, level: LevelWithSilent): boolean {
  const threshold = thresholds.get(logger);
  if (!threshold) return false;
  threshold.level = level;
  return true;
}

export function logLevel(logger: Logger): LevelWithSilent {
  return thresholds.get(logger)?.level ?? (logger.level as LevelWithSilent);
}

/** JSON logs (pretty on a TTY), with secrets removed by name and by value. */
export function createLogger(options: LogOptions): Logger {
  const threshold = { level: options.level };
  const prettyOutput = options.pretty ?? Boolean(process.stdout.isTTY);
  const stream = prettyOutput
    ? loadPretty()({ colorize: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname", sync: true })
    : (options.destination ?? destination({ sync: true }));
  const logger = pino(
    {
      level: "trace",
      base: undefined,
      redact: { paths: REDACT, censor: "***" },
      hooks: {
        streamWrite: (line: string) => scrub(line),
        logMethod(args, method, level) {
          if (level >= levelValue(threshold.level)) method.apply(this, args);
        },
      },
    },
    stream,
  );
  thresholds.set(logger, threshold);
  return logger;
}

/** pino-pretty and its dependencies are loaded only for a terminal, never by a service. */
function loadPretty(): (options: PrettyOptions) => PrettyStream {
  return createRequire(import.meta.url)("pino-pretty") as (options: PrettyOptions) => PrettyStream;
}

/** A logger that writes nothing: for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
