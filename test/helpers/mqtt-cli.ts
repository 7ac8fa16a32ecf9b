import { execFile, spawn } from "node:child_process";
import type { MqttWatch } from "./mqtt-watch.js";

/** `mosquitto_pub`, exactly as a user would type it. */
export function mosquittoPub(
  port: number,
  topic: string,
  message: string,
  extra: string[] = [],
): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      "mosquitto_pub",
      ["-h", "127.0.0.1", "-p", String(port), "-q", "1", "-t", topic, "-m", message, ...extra],
      (error, _stdout, stderr) => (error ? reject(new Error(`mosquitto_pub failed: ${stderr}`)) : resolve()),
    );
  });
}

/**
 * `mosquitto_sub -v` for a while: the lines it printed (`topic payload`). With `count` it ends
 * after that many messages, as `-C` does; otherwise after `seconds` (`-W`).
 */
export function mosquittoSub(
  port: number,
  topic: string,
  options: { seconds: number; count?: number; retainedOnly?: boolean },
): Promise<string[]> {
  const args = ["-h", "127.0.0.1", "-p", String(port), "-v", "-t", topic, "-W", String(options.seconds)];
  if (options.count) args.push("-C", String(options.count));
  if (options.retainedOnly) args.push("--retained-only");
  return new Promise((resolve) => {
    const child = spawn("mosquitto_sub", args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    // -W ends with exit code 27 ("timed out"): that is the normal end here
    child.on("close", () => resolve(output.split("\n").filter((line) => line.length > 0)));
  });
}

/** Parses `mosquitto_sub -v` lines into a topic → last payload map. */
export function linesToMap(lines: string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of lines) {
    const space = line.indexOf(" ");
    if (space < 0) map.set(line, "");
    else map.set(line.slice(0, space), line.slice(space + 1));
  }
  return map;
}

/**
 * A write as a user makes it: `mosquitto_pub` to `<valueTopic>/set`, then the bridge's answer on
 * `<valueTopic>/result` as `watch` sees it.
 */
export async function writeAndAnswer(
  watch: MqttWatch,
  port: number,
  valueTopic: string,
  payload: string,
  timeoutMs = 15_000,
): Promise<Record<string, unknown>> {
  const since = watch.now();
  await mosquittoPub(port, `${valueTopic}/set`, payload);
  const answer = await watch.waitForMessage(`${valueTopic}/result`, since, timeoutMs);
  return JSON.parse(answer.payload) as Record<string, unknown>;
}
