import { cpus, totalmem } from "node:os";
import { STATUS_KEYS } from "../goe/mapping.js";
import type { LatencyResults } from "./latency.js";
import type { AllocationProfile } from "./profile.js";
import type { ScaleResult } from "./scale.js";
import { fmt, median, TARGET_N, WARMUP_S, WINDOW_S, windowFor } from "./settings.js";
import type { ClimkitHour, OvmsRun } from "./slow-upstreams.js";
import type { PollBytes, Startup } from "./startup.js";
import { notes, targets } from "./targets.js";

// docs/benchmarks.md from one run's figures. Every number in it comes from the run.

export interface Report {
  broker: string;
  quick: boolean;
  scale: ScaleResult[];
  profile: AllocationProfile | string | undefined;
  latency: LatencyResults | undefined;
  startup: Startup | undefined;
  bytes: PollBytes | undefined;
  climkit: ClimkitHour | string | undefined;
  ovms: OvmsRun | string | undefined;
  /** Sections measured by files of their own (sections.ts). */
  extra: Array<{ title: string; lines: string[] }>;
  seconds: number;
}

const kb = (bytes: number) => fmt(bytes / 1024, 2);
const label = (run: ScaleResult) => `${run.count}${run.discovery ? "" : " (discovery off)"}`;

function header(report: Report): string[] {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  return [
    "# Benchmarks",
    "",
    "Produced by `npm run bench` (`node dist/bench/run.js`), which writes this file. It prints figures",
    "and never asserts times; run it again on your machine to compare (`BENCH_QUICK=1 npm run bench`",
    "for a short run; `src/bench/settings.ts` lists the other settings).",
    "",
    `- Machine: ${cpu}, ${cpus().length} cores, ${fmt(totalmem() / 2 ** 30)} GB memory`,
    `- Node ${process.version}, ${process.platform} ${process.arch}`,
    `- Broker: ${report.broker} on 127.0.0.1; go-e simulator (\`src/goe/simulator/\`) on 127.0.0.1, in a process of its own`,
    `- Date: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC; the whole run took ${fmt(report.seconds, 0)} s${report.quick ? " (quick mode: shorter windows, fewer writes)" : ""}`,
    `- Windows: ${WINDOW_S} s of measurement after the start-up burst (${windowFor(TARGET_N)} s at N=${TARGET_N}, where the targets are judged); CPU is user+system time from /proc of that`,
    "  one process over the window, as a percentage of one core; RSS is VmRSS, sampled every 500 ms.",
    "",
  ];
}

function scaleSection(report: Report): string[] {
  const lines = [
    "## 1. Scale: N go-e chargers polled every second",
    "",
    "The daemon runs as a user runs it (`node dist/cli.js --config …`, no node flags, log level warn,",
    "Home Assistant discovery on), in a child process. Polls are counted by the simulator (status",
    "requests received), messages by a subscriber on `<root>/#` and the bridge's own discovery configs",
    "(`homeassistant/+/<root>/+/config`). RSS is split into file pages (the node",
    "binary's code and ICU data, shared with every node process) and the process's own memory.",
    "",
    "| N | polls/s (share of N) | bridge CPU % of a core | RSS MB, highest (mean) | of the highest: file / own | start-up peak RSS MB | MQTT msgs/s (values and configs) | simulator CPU % | mosquitto CPU % | all online after | start-up burst over after |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const run of report.scale) {
    const b = run.bridge;
    lines.push(
      `| ${label(run)} | ${fmt(b.pollsPerSecond)} (${fmt((b.pollsPerSecond / run.count) * 100, 0)} %) | ${fmt(b.proc.cpuPercent)} | ${fmt(b.proc.rssMaxMb, 0)} (${fmt(b.proc.rssAvgMb, 0)}) | ${fmt(b.proc.rssAtMax.file, 0)} / ${fmt(b.proc.rssAtMax.anon, 0)} | ${fmt(run.startupRssMaxMb, 0)} | ${fmt(b.messagesPerSecond)} | ${fmt(b.simCpuPercent)} | ${fmt(b.brokerCpuPercent ?? Number.NaN)} | ${fmt(run.startupSeconds)} s | ${fmt(run.settledSeconds)} s |`,
    );
  }
  lines.push(
    "",
    `The window starts ${WARMUP_S} s after the start-up burst is over, that is 3 s without a message but`,
    "`updated` (the first poll of every charger publishes all of its values, and Home Assistant",
    "discovery all of its entities; V8 collects that garbage at its next full collection). The",
    "start-up peak is the highest RSS from the spawn to the window.",
    "",
    "## 2. The floor: the same polling with nothing of the bridge",
    "",
    "`dist/bench/floor.js`: per charger and second one undici GET of the same status (same filter), the",
    "body read, one retained QoS 1 publish. The ratio is what the bridge costs on top of that.",
    "",
    "| N | floor polls/s | floor CPU % | floor RSS MB, highest (mean) | bridge CPU ÷ floor CPU | bridge RSS ÷ floor RSS |",
    "| ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const run of report.scale) {
    const f = run.floor;
    if (!f) continue;
    lines.push(
      `| ${run.count} | ${fmt(f.pollsPerSecond)} | ${fmt(f.proc.cpuPercent)} | ${fmt(f.proc.rssMaxMb, 0)} (${fmt(f.proc.rssAvgMb, 0)}) | ${fmt(run.bridge.proc.cpuPercent / f.proc.cpuPercent, 2)} × | ${fmt(run.bridge.proc.rssMaxMb / f.proc.rssMaxMb, 2)} × |`,
    );
  }
  return [...lines, ""];
}

function profileSection(report: Report): string[] {
  const profile = report.profile;
  if (profile === undefined) return [];
  const lines = ["## 3. Where the allocation of a poll goes", ""];
  if (typeof profile === "string") return [...lines, profile, ""];
  const perPoll = (bytes: number) => bytes / Math.max(1, profile.polls);
  const share = (bytes: number) => `${fmt((bytes / profile.totalBytes) * 100, 0)} %`;
  const shareTable = (heading: string, entries: Array<{ what: string; bytes: number }>) => [
    `| ${heading} | KB per poll | share |`,
    "| --- | ---: | ---: |",
    ...entries
      .slice(0, 12)
      .map((entry) => `| ${entry.what} | ${kb(perPoll(entry.bytes))} | ${share(entry.bytes)} |`),
    "",
  ];
  lines.push(
    `V8's sampling heap profiler in the daemon at N=${profile.count} (\`src/bench/alloc-profile.ts\`, a run of its`,
    `own), ${fmt(profile.seconds, 0)} s after the start-up burst, counting objects the collector has already freed`,
    `too: **${kb(perPoll(profile.totalBytes))} KB allocated per poll** (${profile.polls} polls). Most of it dies young; what lives`,
    "for a second or more (timers, state kept until the next poll) is what reaches the old generation",
    "and the RSS.",
    "",
    ...shareTable("allocated in", profile.bySite),
    ...shareTable("on behalf of (the bridge's function nearest on the stack)", profile.byCause),
  );
  return lines;
}

function latencySection(report: Report): string[] {
  const latency = report.latency;
  if (!latency) return [];
  const lines = [
    "## 4. Write latency",
    "",
    "An MQTT.js client publishes `<root>/loadpoints/<n>/maxCurrent/set` (QoS 1); the go-e simulator, a",
    "process of its own, timestamps the `/api/set` it receives (both on the same clock). The answer",
    "on `…/maxCurrent/result` comes once the bridge has read the value back from the charger, so it",
    "means applied and confirmed. Writes go round-robin over the chargers, so that no write waits for",
    "an earlier write to the same charger; under load, the chargers written to are polled every second",
    "(or, for comparison, hourly) while N chargers are.",
    "",
    "| scenario | writes | reached the charger | p50 ms | p99 ms | max ms | answered (ok) | answer p50 ms | answer p99 ms | answer max ms |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const run of latency.runs) {
    lines.push(
      `| ${run.label} | ${run.writes} | ${run.arrived} | ${fmt(run.p50)} | ${fmt(run.p99)} | ${fmt(run.max)} | ${run.answered} (${run.answeredOk}) | ${fmt(run.answerP50, 0)} | ${fmt(run.answerP99, 0)} | ${fmt(run.answerMax, 0)} |`,
    );
  }
  if (latency.cli.length > 0) {
    lines.push(
      "",
      `Spot check with the real \`mosquitto_pub -q 1\` (idle; includes starting the mosquitto_pub process): ${latency.cli.map((ms) => `${fmt(ms)} ms`).join(", ")}.`,
    );
  }
  return [...lines, ""];
}

function trafficSection(report: Report): string[] {
  const lines = ["## 5. Traffic", ""];
  for (const run of report.scale) {
    const b = run.bridge;
    const perPoll = b.polls > 0 ? b.extraMessages / b.polls : Number.NaN;
    lines.push(
      `- N=${label(run)}, idle chargers: ${b.extraMessages} MQTT messages besides \`<root>/updated\` and \`<root>/bridge/health\` in ${b.polls} polls = ${fmt(perPoll, 3)} per poll${b.extraTopics.length > 0 ? ` (topics: ${b.extraTopics.map((t) => `\`${t}\``).join(", ")})` : ""}; \`updated\` itself at most once a second for all chargers together, \`bridge/health\` ${b.healthMessages === 1 ? "once" : `${b.healthMessages} times`} in the ${windowFor(run.count)} s (once a minute, with the poll counts).`,
    );
  }
  const bytes = report.bytes;
  if (bytes) {
    lines.push(
      `- One go-e status poll (the bridge's filter of ${STATUS_KEYS.length} keys, local API of the simulator): request ${bytes.request} bytes, answer ${bytes.response} bytes on the wire of which ${bytes.body} body. At 1 s per charger that is ${fmt(((bytes.request + bytes.response) * 3600) / 2 ** 20, 1)} MB per charger and hour (without TCP/TLS overhead; the real cloud adds its own headers and TLS).`,
    );
  }
  const c = report.climkit;
  if (typeof c === "string") lines.push(`- Climkit: ${c}`);
  else if (c) {
    const paths = Object.entries(c.byPath)
      .map(([path, n]) => `${path} ${n}`)
      .join(", ");
    lines.push(
      `- Climkit, default settings (interval 5 min, one account, one site with 5 meters and 2 sensors): ${c.requests} requests in a simulated hour (${c.polls} polls, ${c.logins} logins; ${paths}). The clock is moved 5 min after each poll, so the hour took ${fmt(c.realSeconds, 0)} s.`,
    );
  }
  const o = report.ovms;
  if (typeof o === "string") lines.push(`- OVMS: ${o}`);
  else if (o) {
    const paths = Object.entries(o.byPath)
      .map(([path, n]) => `${path} ${n}`)
      .join(", ");
    lines.push(
      `- OVMS, default settings (v2 link up, one account, one parked car, the simulator's 120 s sessions): ${o.requests} requests in ${fmt(o.minutes, 1)} min of real time ≈ ${fmt(o.perHour, 0)} requests per hour (${o.logins} logins; ${paths}). See \`src/ovms/README.md\` for the simulated-hour budget.`,
    );
  }
  return [...lines, ""];
}

function startupSection(report: Report): string[] {
  const startup = report.startup;
  if (!startup) return [];
  const { online, firstValue } = startup;
  const list = (values: number[]) => values.map((ms) => fmt(ms, 0)).join(", ");
  return [
    "## 6. Start-up",
    "",
    `From spawning \`node dist/cli.js --config …\` (one charger) to \`<root>/status online\`: median ${fmt(median(online), 0)} ms (${list(online)}); to the first loadpoint value (\`maxCurrent\`): median ${fmt(median(firstValue), 0)} ms (${list(firstValue)}).`,
    "",
  ];
}

export function render(report: Report): string {
  const lines = [
    ...header(report),
    ...targets(report),
    "",
    ...scaleSection(report),
    ...profileSection(report),
    ...latencySection(report),
    ...trafficSection(report),
    ...startupSection(report),
  ];
  for (const section of report.extra) lines.push(`## ${section.title}`, "", ...section.lines, "");
  lines.push(...notes(report), "");
  return lines.join("\n");
}
