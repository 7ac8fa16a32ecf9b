import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultSite } from "../../src/climkit/simulator/site.js";
import { parseConfig } from "../../src/config/load.js";
import { Daemon } from "../../src/daemon.js";
import { demoConfig } from "../../src/demo.js";
import { CAR, CAR_BATTERY_KWH, DemoWorld, GARAGE } from "../../src/demo-world.js";
import { silentLogger } from "../../src/util/log.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { MqttWatch } from "../helpers/mqtt-watch.js";
import { waitFor } from "../helpers/recording-sink.js";

// The demo's car, chargers and building as one world (issue 12 item 12): what the charger
// delivers is what the car draws, stopping either stops both, the SoC rises with the energy,
// and the building's charge point meter (Climkit) measures the chargers.

const QUARTER = 15 * 60_000;

const power = (status: Record<string, unknown>): number => (status.nrg as number[])[11] ?? Number.NaN;
const carPower = (world: DemoWorld): number => {
  const car = world.ovms.carState(CAR);
  return car.charging ? car.lineVoltage * (car.supply?.amps ?? 0) * (car.supply?.phases ?? 1) : 0;
};

describe("the demo world on a clock 300 times as fast (a real second is five demo minutes)", () => {
  const SCALE = 300;
  // a June morning, at a quarter hour: the first quarter is all charging
  const start = Date.UTC(2026, 5, 21, 8, 0, 0);
  const realStart = Date.now();
  // the clock can stand still, so that two simulators are read at one and the same instant
  let frozen: number | undefined;
  const now = () => frozen ?? start + (Date.now() - realStart) * SCALE;
  const atOneInstant = <T>(read: () => T): T => {
    frozen = now();
    try {
      return read();
    } finally {
      frozen = undefined;
    }
  };
  let world: DemoWorld;
  let climkitUrl: string;
  let created: number;

  beforeAll(async () => {
    created = now();
    world = new DemoWorld({ now, syncMs: 20 });
    ({ climkitUrl } = await world.start());
  });
  afterAll(() => world.stop());

  it("the car draws what the garage charger delivers, and its SoC rises by that energy", async () => {
    const charger = world.goe.status(GARAGE);
    expect(power(charger)).toBe(11_040);
    expect(carPower(world)).toBe(11_040);
    const read = () =>
      atOneInstant(() => [world.ovms.carState(CAR).soc, Number(world.goe.status(GARAGE).wh)]);
    const [soc = 0, wh = 0] = read();
    // over at least a demo minute of charging
    const minuteLater = now() + 60_000;
    await waitFor(() => now() > minuteLater, 5000, "a demo minute");
    const [socLater = 0, whLater = 0] = read();
    const delivered = whLater - wh;
    const gained = socLater - soc;
    expect(delivered).toBeGreaterThan(11_040 / 60);
    expect(gained).toBeCloseTo((delivered / 1000 / CAR_BATTERY_KWH) * 100, 2);
  });

  it("the building's charge point meter and its consumption hold the chargers' quarter", async () => {
    // the first quarter ends 15 demo minutes (3 real seconds) in; Climkit serves it afterwards
    await waitFor(() => now() > start + QUARTER + 60_000, 10_000, "the first quarter to end");
    const auth = await fetch(`${climkitUrl}/auth`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "demo-building", password: "demo-climkit-password" }),
    });
    const { access_token: token } = (await auth.json()) as { access_token: string };
    const post = async (path: string) => {
      // Climkit allows one request per second and account, on the real clock
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const response = await fetch(`${climkitUrl}/${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ t_s: new Date(start).toISOString().slice(0, 19), sampling_frequency: "15T" }),
      });
      const rows = (await response.json()) as unknown;
      if (!Array.isArray(rows)) throw new Error(`${path}: ${JSON.stringify(rows)}`);
      return rows as Array<Record<string, number | string>>;
    };
    const site = defaultSite();
    const siteId = site.id;
    const meters = site.meters;
    const chargePoint = meters.find((meter) => meter.type === "charge_point")?.id ?? "";
    const quarterOf = (rows: Array<Record<string, number | string>>) =>
      rows.find((row) => Date.parse(String(row.timestamp).replace(" ", "T")) === start + QUARTER);
    const meterRow = quarterOf(await post(`meter_data/${siteId}/${chargePoint}`));
    // 11.04 kW from the moment the world was made (a few demo seconds into the quarter) to
    // its end; the charger counts whole Wh
    const expected = (11_040 * (start + QUARTER - created)) / 3_600_000 / 1000;
    expect(Math.abs(Number(meterRow?.total) - expected)).toBeLessThan(0.003);
    const siteRow = quarterOf(await post(`site_data/${siteId}/electricity`));
    expect(siteRow?.[`total_${chargePoint}`]).toBe(meterRow?.total);
    const consumers = meters.filter((meter) => meter.mode === "consumption" && meter.type !== "heating");
    const consumption = consumers.reduce((sum, meter) => sum + Number(siteRow?.[`total_${meter.id}`]), 0);
    expect(Number(siteRow?.conso_total)).toBeCloseTo(consumption, 2);
    expect(Number(siteRow?.conso_total)).toBeGreaterThan(Number(meterRow?.total));
  });
});

describe("the demo world through the bridge, on MQTT", () => {
  let broker: Mosquitto;
  let world: DemoWorld;
  let daemon: Daemon;
  let watch: MqttWatch;
  const lp = "ev2mqtt/loadpoints/1";
  const car = "ev2mqtt/vehicles/car";

  beforeAll(async () => {
    broker = await Mosquitto.start();
    world = new DemoWorld();
    const urls = await world.start();
    const raw = demoConfig(world, urls) as { ovms: Array<Record<string, unknown>> };
    // the car is polled as often as the server allows, so a change shows within seconds
    for (const server of raw.ovms) Object.assign(server, { interval: "5s", activeInterval: "5s" });
    const config = parseConfig({ ...raw, mqtt: { url: broker.url }, climkit: [] });
    daemon = new Daemon(config, silentLogger());
    await daemon.start();
    watch = await MqttWatch.connect(broker.url, "ev2mqtt/#");
  });
  afterAll(async () => {
    await watch?.close();
    await daemon?.stop();
    await world?.stop();
    await broker?.stop();
  });

  it("the car's charge power is the charger's; stopping the car stops the charger, stopping the charger stops the car", async () => {
    await watch.waitForValue(`${lp}/chargePower`, "11040", 20_000);
    await watch.waitForValue(`${car}/chargePower`, "11040", 20_000);

    watch.mqtt.publish(`${car}/charging/set`, "false");
    await watch.waitForValue(`${car}/charging/result`, (answer) => answer.includes('"ok":true'));
    await watch.waitForValue(`${lp}/chargePower`, "0", 20_000);
    await watch.waitForValue(`${lp}/charging`, "false");
    await watch.waitForValue(`${car}/chargePower`, "0", 20_000);

    watch.mqtt.publish(`${car}/charging/set`, "true");
    await watch.waitForValue(`${lp}/chargePower`, "11040", 20_000);
    await watch.waitForValue(`${car}/chargePower`, "11040", 20_000);

    watch.mqtt.publish(`${lp}/mode/set`, "off");
    await watch.waitForValue(`${lp}/chargePower`, "0", 20_000);
    await watch.waitForValue(`${car}/charging`, "false", 20_000);
    await watch.waitForValue(`${car}/chargePower`, "0", 20_000);
  }, 90_000);
});
