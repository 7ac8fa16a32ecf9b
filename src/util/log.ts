import { destination, type LevelWithSilent, type Logger, pino } from "pino";
import pretty from "pino-pretty";
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

/** JSON logs (pretty on a TTY), with secrets removed by name and by value. */
export function createLogger(options: LogOptions): Logger {
  const prettyOutput = options.pretty ?? Boolean(process.stdout.isTTY);
  const stream = prettyOutput
    ? pretty({ colorize: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname", sync: true })
    : (options.destination ?? destination({ sync: true }));
  return pino(
    {
      level: options.level,
      base: undefined,
      redact: { paths: REDACT, censor: "***" },
      hooks: { streamWrite: (line: string) => scrub(line) },
    },
    stream,
  );
}

/** A logger that writes nothing: for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
