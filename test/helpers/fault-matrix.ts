import { expect } from "vitest";
import type { GoeSimulator } from "../../src/goe/simulator/server.js";
import type { MqttWatch } from "./mqtt-watch.js";
import { waitFor } from "./recording-sink.js";

export interface FaultCase {
  name: string;
  /** What the device's `error` must say for this fault. */
  error: RegExp;
}

/**
 * One daemon, one upstream account/server per fault kind plus a healthy one (index 0), and a
 * go-e charger on loadpoint 1: every fault at once. Shared by the Climkit and OVMS suites.
 */
export interface FaultMatrix<Case extends FaultCase> {
  watch: MqttWatch;
  /** Device topic of upstream `index` (0 = the healthy one). */
  device(index: number): string;
  cases: Case[];
  /** Injects case `testCase` into upstream `index` (1 + its position in `cases`). */
  inject(index: number, testCase: Case): void;
  clearAll(): void;
  /** A secret no error may contain. */
  secret: string;
  goe: GoeSimulator;
  goeSerial: string;
  /** Requests the healthy upstream has served so far. */
  healthyRequests(): number;
  /** A value every device publishes, compared before and after. */
  sampleKey: string;
  /** Whether the sample must be the same after recovery (a frozen simulated clock) or only present. */
  sampleUnchanged: boolean;
  root: string;
}

async function waitUntil(check: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
  try {
    await waitFor(check, timeoutMs);
  } catch {
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${describe()}`);
  }
}

/**
 * Asserts that each faulted device goes offline with its error (no secret in it), that the
 * healthy one and the charger are not disturbed, and that everything recovers.
 */
export async function runFaultMatrix<Case extends FaultCase>(m: FaultMatrix<Case>): Promise<void> {
  const { watch, device, cases } = m;
  const all = [0, ...cases.map((_, index) => index + 1)];
  const online = (index: number) => watch.value(`${device(index)}/online`);
  const state = () => all.map((index) => `${index}=${online(index)}`).join(" ");

  await waitUntil(
    () => all.every((index) => online(index) === "true"),
    20_000,
    () => `every device online (${state()})`,
  );
  const sampleBefore = watch.value(`${device(0)}/${m.sampleKey}`);
  expect(sampleBefore).toBeDefined();

  for (const [index, testCase] of cases.entries()) m.inject(index + 1, testCase);
  await waitUntil(
    // `online` and `error` are two messages: wait for the error text too, not only the first
    () =>
      cases.every(
        (_, index) =>
          online(index + 1) === "false" && (watch.value(`${device(index + 1)}/error`) ?? "") !== "",
      ),
    20_000,
    () => `every faulted device offline (${state()})`,
  );
  const problems: string[] = [];
  for (const [index, testCase] of cases.entries()) {
    const text = watch.value(`${device(index + 1)}/error`) ?? "";
    if (!testCase.error.test(text)) problems.push(`${testCase.name}: ${JSON.stringify(text)}`);
    if (text.includes(m.secret)) problems.push(`${testCase.name}: the secret is in the error`);
  }
  expect(problems).toEqual([]);

  // the healthy upstream and the charger are not disturbed
  const since = Date.now();
  const amps = Number(m.goe.status(m.goeSerial).amp) === 13 ? 14 : 13;
  m.goe.update(m.goeSerial, { amp: amps });
  await watch.waitForValue(`${m.root}/loadpoints/1/maxCurrent`, String(amps), 5000);
  await new Promise((resolve) => setTimeout(resolve, 3000));
  expect(online(0)).toBe("true");
  expect(
    watch.messages.filter((msg) => msg.topic === `${device(0)}/online` && msg.payload !== "true"),
  ).toEqual([]);
  expect(
    watch.countSince(since, (msg) => msg.topic === `${m.root}/loadpoints/1/sessionEnergy`),
  ).toBeGreaterThan(0);
  const healthyBefore = m.healthyRequests();
  await waitFor(() => m.healthyRequests() > healthyBefore, 5000, "the healthy upstream polled again");

  m.clearAll();
  await waitUntil(
    () => all.every((index) => online(index) === "true" && watch.value(`${device(index)}/error`) === ""),
    25_000,
    () => `every device back (${state()})`,
  );
  for (const index of all) {
    const sample = watch.value(`${device(index)}/${m.sampleKey}`);
    if (m.sampleUnchanged) expect(sample, `device ${index}`).toBe(sampleBefore);
    else expect(sample, `device ${index}`).toBeDefined();
  }
}
