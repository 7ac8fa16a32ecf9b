import { execFile } from "node:child_process";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ClimkitSimulator } from "../../src/climkit/simulator/server.js";
import { GoeSimulator } from "../../src/goe/simulator/server.js";
import { OvmsSimulator } from "../../src/ovms/simulator/server.js";
import { DaemonProcess } from "../helpers/daemon-process.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { MqttWatch } from "../helpers/mqtt-watch.js";
import { freePort } from "../helpers/ports.js";

// evcc's REST API as a user calls it, with curl and a plain HTTP client, against the built
// daemon, the go-e simulator and a real mosquitto. One daemon listens on 127.0.0.1 with a token
// (checked whenever one is set), the other on 127.0.0.2 without one: there, writes are refused.

const ROOT = "ev2mqtt";
const LP = `${ROOT}/loadpoints/1`;
const TOKEN = "rest-token-0123456789abcdef";
const CLIMKIT = { username: "rest-user", password: "rest-climkit-password" };

let broker: Mosquitto;
let sim: GoeSimulator;
let climkit: ClimkitSimulator;
let ovms: OvmsSimulator;
let ovmsUrls = { restUrl: "", commandsUrl: "" };
let local: DaemonProcess;
let open: DaemonProcess;
let watch: MqttWatch;
let api = "";
let openApi = "";

function daemonConfig(root: string, serial: string, listen: string, token?: string) {
  return {
    mqtt: { url: broker.url, topic: root, clientId: `ev2mqtt-${root}` },
    log: { level: "info" },
    http: { listen, ...(token ? { token } : {}) },
    homeassistant: { discovery: false },
    goe: [
      { serial, loadpoint: 1, title: "Garage", interval: "1s", timeout: "2s", url: sim.chargerUrl(serial) },
    ],
    climkit: root === ROOT ? [{ ...CLIMKIT, url: climkit.url }] : [],
    ovms:
      root === ROOT
        ? [
            {
              url: ovmsUrls.restUrl,
              commands: ovmsUrls.commandsUrl,
              username: ovms.username,
              password: ovms.password,
              interval: "5s",
              vehicles: [{ id: "DEMO", name: "car", loadpoint: 1 }],
            },
          ]
        : [],
  };
}

beforeAll(async () => {
  broker = await Mosquitto.start();
  sim = new GoeSimulator({
    chargers: [
      { serial: "000001", mode: "local", carConnected: true, amp: 16, ama: 16 },
      { serial: "000002", mode: "local", carConnected: false },
    ],
  });
  await sim.start();
  climkit = new ClimkitSimulator({ users: [CLIMKIT] });
  await climkit.start();
  ovms = new OvmsSimulator({
    vehicles: [{ id: "DEMO", state: { soc: 57, pluggedIn: true }, connectedReportMs: 1000 }],
  });
  ovmsUrls = await ovms.start();
  watch = await MqttWatch.connect(broker.url, [`${ROOT}/#`]);
  const [port, openPort] = [await freePort(), await freePort()];
  api = `http://127.0.0.1:${port}/api`;
  openApi = `http://127.0.0.2:${openPort}/api`;
  local = DaemonProcess.start(daemonConfig(ROOT, "000001", `127.0.0.1:${port}`, TOKEN));
  open = DaemonProcess.start(daemonConfig("open", "000002", `127.0.0.2:${openPort}`));
  await watch.waitForValue(`${LP}/chargePower`, (value) => Number(value) > 0);
});

afterEach((context) => {
  if (context.task.result?.state !== "fail") return;
  const lines = local?.logLines().filter((line) => Number(line.level) >= 30);
  console.error(`daemon log:\n${lines?.map((line) => JSON.stringify(line)).join("\n")}`);
});

afterAll(async () => {
  await Promise.all([local?.stop(), open?.stop()]);
  await watch?.close();
  await Promise.all([sim?.stop(), climkit?.stop(), ovms?.stop()]);
  await broker?.stop();
});

function curl(args: string[]): Promise<{ code: number; body: string }> {
  return new Promise((resolve, reject) => {
    execFile("curl", ["-sS", "-w", "\n%{http_code}", ...args], (error, stdout, stderr) => {
      if (error) return reject(new Error(`curl failed: ${stderr}`));
      const at = stdout.lastIndexOf("\n");
      resolve({ body: stdout.slice(0, at), code: Number(stdout.slice(at + 1)) });
    });
  });
}

async function call(
  method: string,
  url: string,
  token: string | null = TOKEN,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
  const response = await fetch(url, { method, headers });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** The MQTT value a REST path writes. */
function topicOf(method: string, path: string): string {
  if (path.startsWith("target/time") || (method === "DELETE" && path === "plan/energy")) return "planTime";
  if (path.startsWith("target/energy") || path.startsWith("plan/energy")) return "planEnergy";
  const names: Record<string, string> = {
    mode: "mode",
    maxcurrent: "maxCurrent",
    mincurrent: "minCurrent",
    phases: "phasesConfigured",
    limitenergy: "limitEnergy",
    enable: "enableThreshold",
    disable: "disableThreshold",
  };
  return names[path.split("/")[0] ?? ""] ?? path;
}

const setCalls = () => sim.setCalls("000001").length;

describe("evcc REST API", () => {
  it("GET /api/state answers evcc's shape: loadpoints array, site at the top, vehicles", async () => {
    await watch.waitForValue(`${ROOT}/site/pvPower`, () => true);
    await watch.waitForValue(`${ROOT}/vehicles/car/soc`, "57");
    const { code, body } = await curl([`${api}/state`]);
    expect(code).toBe(200);
    const state = (JSON.parse(body) as { result: Record<string, unknown> }).result;
    expect(state.version).toMatch(/^ev2mqtt /);
    expect(typeof state.siteTitle).toBe("string");
    expect(typeof state.pvPower).toBe("number");
    expect(typeof state.gridPower).toBe("number");
    expect(state.vehicles).toMatchObject({ car: { title: "car", soc: 57 } });
    const [loadpoint] = state.loadpoints as Array<Record<string, unknown>>;
    expect(loadpoint).toMatchObject({
      title: "Garage",
      connected: true,
      charging: true,
      mode: "now",
      maxCurrent: 16,
      chargePower: 11040,
      chargeCurrents: [16, 16, 16],
      chargeVoltages: [230, 230, 230],
      phasesConfigured: 0,
      online: true,
      vehicleName: "car",
      vehicleSoc: 57,
    });
    expect(typeof loadpoint?.chargeTotalImport).toBe("number");

    const health = await curl([`${api}/health`]);
    expect(health).toEqual({ code: 200, body: "OK\n" });
  });

  it("takes every loadpoint write on evcc's paths through the MQTT write path, with its read-back", async () => {
    // [method, path, the answer's result (undefined: any string), what the charger then shows]
    const writes: Array<[string, string, unknown, Record<string, unknown>]> = [
      ["POST", "mode/pv", "pv", { frc: 0, lmo: 4, fup: true, acp: true }],
      ["POST", "maxcurrent/10", 10, { amp: 10 }],
      ["POST", "mincurrent/8", 8, { mca: 8 }],
      ["POST", "phases/1", 1, { psm: 1 }],
      ["POST", "limitenergy/5", 5, { dwo: 5000 }],
      ["POST", "enable/threshold/-1800", -1800, { fst: 1800 }],
      ["POST", "disable/threshold/300", 300, { sh: 300 }],
      ["POST", "target/energy/12", 12, { lmo: 5, ate: 12_000 }],
      ["POST", "target/time/07:30", undefined, { lmo: 5, att: 27_000 }],
      ["DELETE", "target/time", "none", { lmo: 4 }],
      ["POST", "plan/energy/20/06:15", 20, { lmo: 5, ate: 20_000, att: 22_500 }],
      ["DELETE", "plan/energy", "none", { lmo: 4 }],
      ["POST", "mode/smart", "pv", { frc: 0, lmo: 4 }],
      ["POST", "mode/now", "now", { frc: 2 }],
    ];
    for (const [method, path, result, status] of writes) {
      // strictly after the previous answer: target/time and its DELETE answer on one topic
      const since = watch.now();
      const answer = await call(method, `${api}/loadpoints/1/${path}`);
      expect(answer.status, `${method} ${path}: ${JSON.stringify(answer.body)}`).toBe(200);
      if (result === undefined) expect(typeof answer.body.result, path).toBe("string");
      else expect(answer.body, path).toEqual({ result });
      expect(sim.status("000001"), path).toMatchObject(status);
      // the same answer on MQTT as for a /set, and the value read back
      const onMqtt = await watch.waitForMessage(`${LP}/${topicOf(method, path)}/result`, since);
      expect(JSON.parse(onMqtt.payload), path).toEqual({ ok: true, value: answer.body.result });
    }
    await watch.waitForValue(`${LP}/maxCurrent`, "10");
    await watch.waitForValue(`${LP}/minCurrent`, "8");
    await watch.waitForValue(`${LP}/mode`, "now");
  });

  it("refuses a bad value with 400 and sends nothing to the charger", async () => {
    const before = setCalls();
    const since = Date.now();
    for (const path of ["maxcurrent/40", "maxcurrent/abc", "mode/fast", "phases/2", "limitenergy/-1"]) {
      const answer = await call("POST", `${api}/loadpoints/1/${path}`);
      expect(answer.status, path).toBe(400);
      expect(String(answer.body.error), path).not.toBe("");
    }
    expect(setCalls()).toBe(before);
    const result = await watch.waitForMessage(`${LP}/maxCurrent/result`, since);
    expect(JSON.parse(result.payload)).toMatchObject({ ok: false });
  });

  it("answers unknown paths 404 and what the bridge cannot do 501, with the reason", async () => {
    const cases: Array<[string, string, number, RegExp]> = [
      ["POST", "loadpoints/9/maxcurrent/10", 404, /no loadpoint 9/],
      ["POST", "loadpoints/1/fly/high", 404, /unknown loadpoint path/],
      ["GET", "nothing", 404, /unknown path/],
      ["POST", "buffersoc/50", 501, /home battery/],
      ["GET", "tariff/grid", 501, /tariffs/],
      ["GET", "sessions", 501, /session/],
      ["POST", "settings/telemetry/true", 501, /telemetry/],
      ["POST", "loadpoints/1/limitsoc/80", 501, /state of charge/],
      ["GET", "loadpoints/1/maxcurrent/10", 405, /use POST/],
      ["POST", "state", 405, /use GET/],
    ];
    const before = setCalls();
    for (const [method, path, status, error] of cases) {
      const answer = await call(method, `${api}/${path}`);
      expect(answer.status, path).toBe(status);
      expect(String(answer.body.error), path).toMatch(error);
    }
    expect(setCalls()).toBe(before);
  });

  it("answers 502 while the charger cannot be reached, and works again once it can", async () => {
    sim.fault("000001", { status: 503 });
    await watch.waitForValue(`${LP}/online`, "false");
    const answer = await call("POST", `${api}/loadpoints/1/maxcurrent/11`);
    expect(answer.status).toBe(502);
    expect(String(answer.body.error)).toMatch(/503/);
    sim.fault("000001", undefined);
    await watch.waitForValue(`${LP}/online`, "true");
    expect(await call("POST", `${api}/loadpoints/1/maxcurrent/11`)).toEqual({
      status: 200,
      body: { result: 11 },
    });
  });

  it("refuses a write without the token, a wrong token, and any write on a non-loopback listener without one", async () => {
    const before = [sim.setCalls("000001").length, sim.setCalls("000002").length];
    expect((await call("POST", `${api}/loadpoints/1/maxcurrent/12`, null)).status).toBe(401);
    expect((await call("POST", `${api}/loadpoints/1/maxcurrent/12`, "wrong-token-0000000000")).status).toBe(
      401,
    );
    const refused = await curl(["-X", "POST", `${openApi}/loadpoints/1/maxcurrent/12`]);
    expect(refused.code).toBe(403);
    expect(JSON.parse(refused.body).error).toMatch(/set http\.token/);
    expect([sim.setCalls("000001").length, sim.setCalls("000002").length]).toEqual(before);
    // reading needs no token
    const state = await curl([`${openApi}/state`]);
    expect(state.code).toBe(200);
    expect(local.text).not.toContain(TOKEN);
  });
});
