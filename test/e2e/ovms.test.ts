import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GoeSimulator } from "../../src/goe/simulator/server.js";
import { type CarState, OvmsSimulator } from "../../src/ovms/simulator/server.js";
import { DaemonProcess } from "../helpers/daemon-process.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { linesToMap, mosquittoSub, writeAndAnswer } from "../helpers/mqtt-cli.js";
import { MqttWatch } from "../helpers/mqtt-watch.js";
import { waitFor } from "../helpers/recording-sink.js";

// OVMS end to end, as a user runs it: the built daemon as a process at log level debug, a real
// mosquitto, the OVMS server simulator (REST and the v2 command protocol) and a go-e charger
// simulator on the loadpoint the car is linked to; writes with mosquitto_pub. Every value read
// is checked against the simulated car's state, never against numbers written down here.
// The schema's floors hold (interval 5 s, commandTimeout 1 s); the car pushes its reports over
// the v2 link at once, so values still follow within moments.

const ROOT = "ev2mqtt";
const NAME = "zoe";
const CAR = `${ROOT}/vehicles/${NAME}`;
const LP1 = `${ROOT}/loadpoints/1`;
// no white space: the v2 login line is split at spaces; no characters a URL query would encode
const PASSWORD = "ovms-Pw-4Kq9xT7mZ2";
const PIN = "pin-83Jd5Wq";
const COMMAND_TIMEOUT_S = 2;
/** The car reports this often while a peer is connected (and at once on every change). */
const REPORT_MS = 5_000;

const INITIAL: Partial<CarState> = {
  soc: 63.5,
  fullRange: 310,
  odometer: 23456.7,
  pluggedIn: true,
  charging: false,
  chargeState: "stopped",
  chargeMode: "range",
  chargeCurrent: 11,
  chargeLimitSoc: 85,
  lineVoltage: 228,
  locked: true,
  latitude: 46.948271,
  longitude: 7.447312,
  temperatures: { battery: 23.5, motor: 31, pem: 29, charger: 35.5, cabin: 19.5, ambient: 8 },
  tyresKpa: [251, 249.5, 238, 240],
  pin: PIN,
};

let broker: Mosquitto;
let sim: OvmsSimulator;
let goe: GoeSimulator;
let daemon: DaemonProcess;
let watch: MqttWatch;
/** When the simulated car made its first report: it makes no other until something changes. */
let reportedAt: number;

/** The simulator's rounding of a value it sends as text. */
function round(value: number, decimals = 1): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}

/** SPEC §3 encoding: at most 3 decimals, trailing zeros trimmed. */
function mqttNumber(value: number): string {
  const text = String(Number(value.toFixed(3)));
  return text === "-0" ? "0" : text;
}

/** What the bridge must publish under the vehicle's topic for a car in this state (units km). */
function expectedValues(car: CarState): Record<string, string> {
  expect(car.units).toBe("K");
  expect(car.tpms).toBe("Y");
  const latitude = round(car.latitude, 6);
  const longitude = round(car.longitude, 6);
  const powerKw = car.charging ? round((car.lineVoltage * car.chargeCurrent) / 1000, 3) : 0;
  const values: Record<string, string> = {
    soc: mqttNumber(round(car.soc)),
    range: mqttNumber(round((car.fullRange * car.soc) / 100)),
    odometer: mqttNumber(round(car.odometer)),
    charging: String(car.charging),
    pluggedIn: String(car.pluggedIn || car.charging),
    chargeState: car.chargeState,
    chargeMode: car.chargeMode,
    chargePower: mqttNumber(Math.round(powerKw * 1000)),
    // the setting (what chargeCurrent/set changes), and the current actually flowing
    chargeCurrent: mqttNumber(car.chargeCurrent),
    chargeCurrentMeasured: mqttNumber(car.charging ? car.chargeCurrent : 0),
    chargeLimitSoc: mqttNumber(car.chargeLimitSoc),
    locked: String(car.locked),
    latitude: mqttNumber(latitude),
    longitude: mqttNumber(longitude),
    location: JSON.stringify({ latitude, longitude }),
    moduleConnected: String(car.moduleConnected),
    online: "true",
    error: "",
  };
  for (const key of ["battery", "motor", "charger", "cabin", "ambient"] as const) {
    values[`temperatures/${key}`] = mqttNumber(round(car.temperatures[key]));
  }
  ["fl", "fr", "rl", "rr"].forEach((wheel, index) => {
    values[`tyres/${wheel}/pressure`] = mqttNumber(round(car.tyresKpa[index] ?? Number.NaN));
  });
  return values;
}

function mismatches(expected: Record<string, string>, actual: (key: string) => string | undefined): string[] {
  return Object.entries(expected)
    .filter(([key, value]) => actual(key) !== value)
    .map(([key, value]) => `${key}: ${JSON.stringify(actual(key))}, expected ${JSON.stringify(value)}`);
}

/** Waits until every vehicle topic holds what the simulated car's current state implies. */
async function vehicleFollowsCar(timeoutMs = 20_000): Promise<Record<string, string>> {
  const current = () => expectedValues(sim.carState());
  const wrong = () => mismatches(current(), (key) => watch.value(`${CAR}/${key}`));
  await waitFor(() => wrong().length === 0, timeoutMs, "the vehicle's topics to match the car").catch(
    () => undefined,
  );
  expect(wrong()).toEqual([]);
  return current();
}

function write(key: string, payload: string): Promise<Record<string, unknown>> {
  return writeAndAnswer(watch, broker.port, `${CAR}/${key}`, payload, 20_000);
}

function onlinePayloads(): string[] {
  return watch.messages.filter((message) => message.topic === `${CAR}/online`).map((m) => m.payload);
}

function config(urls: { restUrl: string; commandsUrl: string }) {
  return {
    mqtt: { url: broker.url, topic: ROOT, clientId: "ev2mqtt-e2e-ovms" },
    log: { level: "debug" },
    goe: [{ serial: "000001", loadpoint: 1, interval: "1s", timeout: "2s", url: goe.chargerUrl("000001") }],
    ovms: [
      {
        url: urls.restUrl,
        username: "demo",
        password: "${OVMS_PASSWORD}",
        commands: urls.commandsUrl,
        interval: "5s",
        activeInterval: "5s",
        timeout: "5s",
        commandTimeout: `${COMMAND_TIMEOUT_S}s`,
        vehicles: [{ id: "DEMO", name: NAME, loadpoint: 1, pin: "${OVMS_PIN}" }],
      },
    ],
  };
}

beforeAll(async () => {
  reportedAt = Date.now();
  sim = new OvmsSimulator({
    password: PASSWORD,
    // parked and asleep: no report of its own for 10 minutes; a peer makes it report every 5 s
    vehicles: [
      { id: "DEMO", state: INITIAL, socPerMinute: 0, connectedReportMs: REPORT_MS, idleReportMs: 600_000 },
    ],
    // sessions end only when a test ends them
    sessionLifetimeMs: 3_600_000,
  });
  const urls = await sim.start();
  broker = await Mosquitto.start();
  // the charger on loadpoint 1 has no car yet: the vehicle is polled at its slow interval
  goe = new GoeSimulator({ chargers: [{ serial: "000001", mode: "local", carConnected: false }] });
  await goe.start();
  // everything, from the first message on: discovery, values, results (for the secrets check)
  watch = await MqttWatch.connect(broker.url, "#");
  // the bridge logs in well after the car's report, as it would to a car asleep for hours
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, reportedAt + 2_500 - Date.now())));
  daemon = DaemonProcess.start(config(urls), { OVMS_PASSWORD: PASSWORD, OVMS_PIN: PIN });
  await watch.waitForValue(`${ROOT}/status`, "online");
});

afterAll(async () => {
  await daemon?.stop();
  await watch?.close();
  await sim?.stop();
  await goe?.stop();
  await broker?.stop();
});

describe("an OVMS vehicle on evcc-style topics", () => {
  it("publishes every value as the simulated car holds it, retained, and follows the car", async () => {
    await vehicleFollowsCar();
    // messageAge: the seconds since the car's report, as the server counts them (a poll tells;
    // the records the v2 link replays at login carry no age)
    const seen = await watch.waitForMessage(`${CAR}/messageAge`, 0, 25_000);
    const sinceReport = (seen.time - reportedAt) / 1000;
    expect(Number(seen.payload)).toBeLessThanOrEqual(sinceReport + 1);
    // read at most one poll (5 requests, 2 s apart) before it was published
    expect(Number(seen.payload)).toBeGreaterThanOrEqual(sinceReport - 12);
    expect(Number(seen.payload)).toBeGreaterThanOrEqual(2);

    const retained = linesToMap(
      await mosquittoSub(broker.port, `${CAR}/#`, { seconds: 2, retainedOnly: true }),
    );
    // an empty payload (error: none) erases a retained value: absent is empty
    const retainedValue = (key: string) => retained.get(`${CAR}/${key}`) ?? "";
    expect(mismatches(expectedValues(sim.carState()), retainedValue)).toEqual([]);
    expect(retained.has(`${CAR}/messageAge`)).toBe(true);

    // the car wakes up and reports: every changed value follows, and its report is 0 s old
    const woke = Date.now();
    sim.setCarState({
      soc: 58.2,
      odometer: 23501.3,
      chargeLimitSoc: 80,
      lineVoltage: 231,
      latitude: 46.951083,
      longitude: 7.438637,
      temperatures: { battery: 26, motor: 40.5, pem: 33, charger: 38, cabin: 21, ambient: 9.5 },
      tyresKpa: [255, 253, 241.5, 243],
    });
    await vehicleFollowsCar();
    await waitFor(
      () =>
        watch.messages.some((m) => m.topic === `${CAR}/messageAge` && m.time >= woke && m.payload === "0"),
      10_000,
      "messageAge 0 after the report",
    );
  }, 45_000);

  it("links the vehicle to loadpoint 1: vehicleSoc is the car's soc, vehicleName its name", async () => {
    expect(watch.value(`${LP1}/connected`)).toBe("false");
    expect(sim.peerConnected()).toBe(false);
    const expected = await vehicleFollowsCar();
    await watch.waitForValue(`${LP1}/vehicleSoc`, expected.soc!);
    expect(watch.value(`${LP1}/vehicleName`)).toBe(NAME);
    await watch.waitForValue(`${LP1}/vehicleRange`, expected.range!);
    await watch.waitForValue(`${LP1}/vehicleOdometer`, expected.odometer!);
    // a car is plugged in at the loadpoint: the car is made to report fast, by a v2 app login
    goe.update("000001", { carConnected: true });
    await watch.waitForValue(`${LP1}/connected`, "true");
    await waitFor(() => sim.v2Clients("DEMO", "A") === 1, 20_000, "the app login of fast reporting");
    expect(sim.peerConnected()).toBe(false);
    sim.setCarState({ soc: 57.4 });
    const now = await vehicleFollowsCar();
    await watch.waitForValue(`${LP1}/vehicleSoc`, now.soc!);
    expect(watch.value(`${CAR}/soc`)).toBe(now.soc);
  }, 45_000);

  it("stops charging with mosquitto_pub charging/set false, and carries out every command", async () => {
    const sent = sim.commands;
    expect(await write("charging", "true")).toEqual({ ok: true, value: true });
    expect(sim.carState().charging).toBe(true);
    await vehicleFollowsCar();
    expect(Number(watch.value(`${CAR}/chargePower`))).toBeGreaterThan(1000);

    expect(await write("charging", "false")).toEqual({ ok: true, value: false });
    expect(sim.carState().charging).toBe(false);
    await vehicleFollowsCar();
    expect(watch.value(`${CAR}/chargePower`)).toBe("0");

    expect(await write("chargeCurrent", "16")).toEqual({ ok: true, value: 16 });
    expect(sim.carState().chargeCurrent).toBe(16);
    expect(await write("chargeMode", "performance")).toEqual({ ok: true, value: "performance" });
    expect(sim.carState().chargeMode).toBe("performance");
    expect(await write("wakeup", "PRESS")).toEqual({ ok: true, value: true });
    expect(sim.carState().awake).toBe(true);
    // lock and unlock carry the configured PIN
    expect(await write("locked", "false")).toEqual({ ok: true, value: false });
    expect(sim.carState().locked).toBe(false);
    expect(await write("charging", "true")).toEqual({ ok: true, value: true });
    expect(sim.commandLog.slice(sent)).toEqual(["C11", "C12", "C15,16", "C10,4", "C18", `C22,${PIN}`, "C11"]);
    await vehicleFollowsCar();
    expect(watch.value(`${CAR}/chargeCurrent`)).toBe("16");
    expect(watch.value(`${CAR}/chargeMode`)).toBe("performance");
    expect(watch.value(`${CAR}/locked`)).toBe("false");
    // reported every few seconds while connected as a peer
    expect(Number(watch.value(`${CAR}/messageAge`))).toBeLessThanOrEqual(REPORT_MS / 1000);
  });

  it("answers a command the car refuses and one it does not support on /result", async () => {
    sim.refuse(12, "charge port locked", { times: 1 });
    const sent = sim.commands;
    expect(await write("charging", "false")).toEqual({ ok: false, error: "car refused: charge port locked" });
    expect(sim.commands).toBe(sent + 1);
    expect(sim.carState().charging).toBe(true);

    sim.unsupported(18);
    const answer = await write("wakeup", "PRESS");
    sim.unsupported(18, false);
    expect(answer.ok).toBe(false);
    expect(answer.error).toBe("the car's module does not support wake up");
    expect(sim.commands).toBe(sent + 2);
    expect(watch.value(`${CAR}/charging`)).toBe("true");
  });

  it("refuses bad payloads on /result and sends no command", async () => {
    const sent = sim.commands;
    const refused = [
      ["chargeCurrent", "abc", 'chargeCurrent must be a whole number of amps, 1..32 (got "abc")'],
      [
        "chargeMode",
        "turbo",
        'chargeMode must be one of standard, storage, range, performance (got "tur…" (5 characters))',
      ],
      ["charging", "maybe", 'charging must be true or false (got "may…" (5 characters))'],
    ] as const;
    for (const [key, payload, error] of refused) {
      expect(await write(key, payload), `${key} ${payload}`).toEqual({ ok: false, error });
    }
    expect(sim.commands).toBe(sent);
    expect(sim.carState()).toMatchObject({ chargeCurrent: 16, chargeMode: "performance", charging: true });
  });

  it("says so when the car's module is not connected and the command times out", async () => {
    sim.setCarConnected(false);
    await watch.waitForValue(`${CAR}/moduleConnected`, "false");
    const sent = sim.commands;
    const started = Date.now();
    expect(await write("charging", "false")).toEqual({
      ok: false,
      error: `the car did not answer within ${COMMAND_TIMEOUT_S}s (is its module online?)`,
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_S * 1000 - 100);
    // sent to the server, which had no car to forward it to
    expect(sim.commands).toBe(sent + 1);
    expect(sim.carState().charging).toBe(true);
    // a sleeping module is no reason to call the vehicle offline
    expect(watch.value(`${CAR}/online`)).toBe("true");
    sim.setCarConnected(true);
    await watch.waitForValue(`${CAR}/moduleConnected`, "true");
    await vehicleFollowsCar();
  });

  it("gets its v2 connection back after the server drops it: a later command succeeds", async () => {
    expect(sim.v2Clients("DEMO", "B")).toBe(1);
    const mark = daemon.text.length;
    sim.dropConnections();
    await waitFor(() => daemon.text.slice(mark).includes("OVMS command link down"), 10_000, "link down");
    await waitFor(() => sim.v2Clients("DEMO", "B") === 1, 15_000, "the v2 link back");
    expect(await write("chargeCurrent", "12")).toEqual({ ok: true, value: 12 });
    expect(sim.carState().chargeCurrent).toBe(12);
    await watch.waitForValue(`${CAR}/chargeCurrent`, "12");
    // one data link per vehicle, as a batch client, and the app login of fast reporting while
    // the loadpoint has a car (it keeps the module on its fast interval, so only then)
    expect(sim.v2Clients("DEMO", "B")).toBe(1);
    await waitFor(() => sim.v2Clients("DEMO", "A") === 1, 15_000, "the app login back");
    expect(onlinePayloads()).not.toContain("false");
  });

  it("stops cleanly and never shows the OVMS password or PIN in a log line or MQTT message", async () => {
    expect(await daemon.stop()).toBe(0);
    await watch.waitForValue(`${ROOT}/status`, "offline");
    const lines = daemon.logLines();
    expect(lines.some((line) => line.level === 20)).toBe(true);
    expect(lines.some((line) => line.msg === "OVMS command sent")).toBe(true);
    for (const secret of [PASSWORD, PIN]) {
      expect(daemon.text).not.toContain(secret);
      for (const message of watch.messages) {
        expect(message.topic).not.toContain(secret);
        expect(message.payload).not.toContain(secret);
      }
    }
    expect(watch.messages.length).toBeGreaterThan(100);
  });
});
