import { afterEach, describe, expect, it } from "vitest";
import { OvmsRest } from "../../src/ovms/rest.js";
import { OvmsSimulator, type OvmsSimulatorOptions } from "../../src/ovms/simulator/server.js";
import { errorKind } from "../../src/upstream/errors.js";
import { UpstreamQueue } from "../../src/upstream/queue.js";

// The REST session against the simulator with the real server's session handling (a 10 s
// sweep ends sessions timeout_api after login), scaled: sessions of 1 s, a 100 ms sweep.

const PASSWORD = "rest-Pw-5";
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(sim: OvmsSimulatorOptions) {
  const simulator = new OvmsSimulator({ password: PASSWORD, ...sim });
  const { restUrl } = await simulator.start();
  cleanups.push(() => simulator.stop());
  const rest = new OvmsRest({
    url: restUrl,
    username: "demo",
    password: PASSWORD,
    timeoutMs: 2000,
    queue: new UpstreamQueue("ovms:test", 0),
    sessionTiming: { sweepMs: 100, freshMs: 300 },
  });
  return { sim: simulator, rest };
}

describe("OvmsRest session", () => {
  it("takes the 404 of a dying handler on a fresh session for what it is, not an expiry", async () => {
    const { sim, rest } = await setup({ vehicles: [{ id: "DEMO", tpmsDies: true }] });
    await rest.call("/api/charge/DEMO");
    const error = await rest.call("/api/tpms/DEMO").catch((e: unknown) => e);
    expect(errorKind(error)).toBe("notFound");
    expect(String(error)).toMatch(/404 not found/);
    expect(sim.logins).toBe(1);
    expect(sim.requestLog.map((r) => `${r.status} ${r.path}`)).toEqual([
      "200 /api/cookie",
      "200 /api/charge/DEMO",
      "404 /api/tpms/DEMO",
    ]);
  });

  it("renews before the session's lifetime once one session has died, instead of meeting the 401", async () => {
    const { sim, rest } = await setup({ sessionLifetimeMs: 1000, sweepMs: 100 });
    const until = performance.now() + 4000;
    while (performance.now() < until) {
      await rest.call("/api/vehicles");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // the first expiry is met; later sessions are renewed before theirs (a request under way
    // while a sweep lands on a stalled machine may still meet one more)
    const refused = sim.requestLog.filter((r) => r.status === 401).length;
    expect(refused).toBeGreaterThanOrEqual(1);
    expect(rest.knownSessionLifetimeMs).toBeGreaterThan(500);
    expect(sim.logins - 1 - refused).toBeGreaterThanOrEqual(2);
  });
});
