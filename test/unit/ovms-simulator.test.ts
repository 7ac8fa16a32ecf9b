import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { OvmsSimulator, type OvmsSimulatorOptions } from "../../src/ovms/simulator/server.js";
import { waitFor } from "../helpers/recording-sink.js";

// The OVMS server simulator behaves as the real server does where the bridge depends on it
// (upstreams.md B5): raw sockets here, so nothing of the bridge hides a difference.

const PASSWORD = "sim-pw";
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function started(options: OvmsSimulatorOptions = {}) {
  const sim = new OvmsSimulator({ password: PASSWORD, ...options });
  const urls = await sim.start();
  cleanups.push(() => sim.stop());
  return { sim, ...urls };
}

/** A raw v2 client: every line it receives, in order. */
async function v2Client(url: string, type: "A" | "B") {
  const { hostname, port } = new URL(url);
  const socket = net.connect({ host: hostname, port: Number(port) });
  cleanups.push(() => socket.destroy());
  const lines: string[] = [];
  let closed = false;
  let buffer = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    buffer += chunk;
    const parts = buffer.split("\r\n");
    buffer = parts.pop() ?? "";
    lines.push(...parts);
  });
  socket.on("close", () => {
    closed = true;
  });
  socket.write(`MP-${type} 1 demo ${PASSWORD} DEMO\r\n`);
  await waitFor(() => lines.some((line) => line.startsWith("T")), 3000, "the login replay");
  return { lines, socket, closed: () => closed, send: (line: string) => socket.write(`${line}\r\n`) };
}

/** One raw HTTP request: status line, headers and body as sent. */
async function raw(restUrl: string, path: string): Promise<{ head: string[]; body: string }> {
  const { hostname, port } = new URL(restUrl);
  const socket = net.connect({ host: hostname, port: Number(port) });
  socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
  let text = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    text += chunk;
  });
  await new Promise((resolve) => socket.on("close", resolve));
  const [head = "", body = ""] = text.split("\r\n\r\n");
  return { head: head.split("\r\n"), body };
}

describe("OVMS simulator, v2 side", () => {
  it("replays Z, F, S, the rest by code (W and Y both), T; then pushes each record with T0 after it", async () => {
    const { sim, commandsUrl } = await started({ vehicles: [{ id: "DEMO", state: { tpms: "both" } }] });
    const app = await v2Client(commandsUrl, "B");
    const codes = app.lines.slice(1).map((line) => line.charAt(0));
    expect(codes).toEqual(["Z", "F", "S", "D", "L", "W", "Y", "T"]);
    const before = app.lines.length;
    sim.setCarState({ soc: 55 });
    await waitFor(() => app.lines.length >= before + 10, 3000, "the live report");
    expect(app.lines.slice(before).map((line) => line.charAt(0))).toEqual([
      "S",
      "T",
      "D",
      "T",
      "L",
      "T",
      "W",
      "T",
      "Y",
      "T",
    ]);
    expect(app.lines.slice(before).filter((line) => line.startsWith("T"))).toEqual(Array(5).fill("T0"));
    const mark = app.lines.length;
    sim.setCarConnected(false);
    sim.setCarConnected(true);
    await waitFor(() => app.lines.slice(mark).some((line) => line.startsWith("S")), 3000, "the report");
    expect(app.lines.slice(mark, mark + 3)).toEqual(["Z0", "Z1", expect.stringMatching(/^F/)]);
  });

  it("drops a silent batch client after timeout_api, looked at after each idle check; pings keep it", async () => {
    const { sim, commandsUrl } = await started({ v2: { timeoutApiMs: 300, idleCheckMs: 400 } });
    const silent = await v2Client(commandsUrl, "B");
    const pinging = await v2Client(commandsUrl, "B");
    const timer = setInterval(() => pinging.send("A"), 150);
    cleanups.push(() => clearInterval(timer));
    await waitFor(() => silent.closed(), 3000, "the silent client dropped");
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(pinging.closed()).toBe(false);
    expect(pinging.lines).toContain("a");
    expect(sim.v2Stats.idleDrops).toBe(1);
  });

  it("sends each command reply to the connection that asked, first in first out; an app login peers", async () => {
    const { sim, commandsUrl } = await started({ replyDelayMs: 20 });
    const one = await v2Client(commandsUrl, "B");
    const two = await v2Client(commandsUrl, "B");
    const idle = await v2Client(commandsUrl, "B");
    one.send("C15,16");
    two.send("C15,20");
    await waitFor(() => two.lines.includes("c15,0"), 3000, "the second reply");
    expect(one.lines).toContain("c15,0");
    expect(idle.lines.some((line) => line.startsWith("c"))).toBe(false);
    expect(sim.carState().chargeCurrent).toBe(20);
    expect(sim.carPeers()).toBe(0);
    await v2Client(commandsUrl, "A");
    expect(sim.carPeers()).toBe(1);
    expect(sim.v2Stats.logins).toEqual({ A: 1, B: 3 });
  });
});

describe("OVMS simulator, REST side", () => {
  it("answers HTTP/1.0 with the server's headers, and the five newer /api/charge fields", async () => {
    const { restUrl } = await started();
    const answer = await raw(restUrl, `/api/charge/DEMO?username=demo&password=${PASSWORD}`);
    expect(answer.head[0]).toBe("HTTP/1.0 200 Ok");
    for (const header of ["Date", "Expires", "Cache-Control: max-age=0", "Access-Control-Allow-Origin: *"])
      expect(answer.head.some((line) => line.startsWith(header))).toBe(true);
    const charge = JSON.parse(answer.body) as Record<string, unknown>;
    for (const field of [
      "batt_current",
      "batt_range_speed",
      "charge_kwh_grid",
      "charge_kwh_grid_total",
      "batt_capacity",
    ])
      expect(charge).toHaveProperty(field);
    expect((await raw(restUrl, "/api/nothing")).head[0]).toBe("HTTP/1.0 404 Unrecongised API call");
  });

  it("keeps a connection alive only when asked, and closes it after its idle time", async () => {
    const { restUrl } = await started({ keepAliveMs: 300 });
    const { hostname, port } = new URL(restUrl);
    const socket = net.connect({ host: hostname, port: Number(port) });
    cleanups.push(() => socket.destroy());
    let text = "";
    let closedAt = 0;
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      text += chunk;
    });
    socket.on("close", () => {
      closedAt = performance.now();
    });
    const ask = "GET /api/vehicles HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n";
    socket.write(ask);
    await waitFor(() => text.includes("Authentication failed"), 3000, "the first answer");
    socket.write(ask);
    await waitFor(() => text.split("HTTP/1.0 401").length === 3, 3000, "the second answer on one connection");
    expect(text).toContain("Connection: Keep-Alive");
    const idleFrom = performance.now();
    await waitFor(() => closedAt > 0, 3000, "the idle connection closed");
    expect(closedAt - idleFrom).toBeGreaterThanOrEqual(200);
    // without the header the server closes after the answer
    const once = await raw(restUrl, "/api/vehicles");
    expect(once.head).not.toContain("Connection: Keep-Alive");
  });

  it("holds a request past the quota, then answers a bare 429", async () => {
    const { restUrl } = await started({ rateLimit: { burst: 1, holdMs: 50 } });
    await raw(restUrl, "/api/vehicles");
    await raw(restUrl, "/api/vehicles");
    const refused = await raw(restUrl, "/api/vehicles");
    expect(refused.head[0]).toBe("HTTP/1.0 429 Too many requests");
    expect(refused.head).toContain("Content-Length: 0");
    expect(refused.head.some((line) => /^content-type/i.test(line))).toBe(false);
    expect(refused.body).toBe("");
  });

  it("ends sessions on its sweep, a fixed time after login however busy", async () => {
    let now = Date.now();
    const { sim, restUrl } = await started({ now: () => now, sessionLifetimeMs: 120_000, sweepMs: 60_000 });
    const login = await fetch(`${restUrl}/api/cookie?username=demo&password=${PASSWORD}`);
    const cookie = login.headers.get("set-cookie") ?? "";
    const status = async () => (await fetch(`${restUrl}/api/vehicles`, { headers: { cookie } })).status;
    now += 121_000;
    expect(await status()).toBe(200); // past timeout_api, but the sweep has not run yet
    sim.sweepSessions();
    expect(await status()).toBe(401);
  });
});
