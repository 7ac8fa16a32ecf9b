import type { LevelWithSilent } from "pino";
import { ConfigError, loadConfig, parseConfig } from "./config/load.js";
import type { Config } from "./config/schema.js";
import { Daemon } from "./daemon.js";
import { DEMO_METER, DemoMeter } from "./demo-meter.js";
import { CARPORT, DEMO_CHARGERS, DEMO_CLIMKIT, type DemoUrls, DemoWorld, GARAGE } from "./demo-world.js";
import { defaultClientId } from "./instance.js";
import { splitHostPort } from "./mqtt/broker.js";
import { runDaemon } from "./run.js";
import { createLogger } from "./util/log.js";

/** The demo's own root topic and client id, whatever the configuration it borrows the broker from says. */
export const DEMO_ROOT = "ev2mqtt-demo";
// stable per host, as the bridge's own: the broker keeps one session for the demo, not one per run
const DEMO_CLIENT_ID = defaultClientId(DEMO_ROOT);

/** Runs the bridge against the built-in simulators; the broker and ports may come from a config. */
export async function runDemo(configFile?: string, logLevel?: LevelWithSilent): Promise<number> {
  let overrides: Partial<Config> = {};
  if (configFile) {
    try {
      const file = await loadConfig(configFile, process.env, { requireDevice: false });
      // the demo never takes the user's root or client id: its simulated chargers must not
      // mix with (or erase) a real charger's topics, nor throw the real bridge off the broker
      overrides = {
        mqtt: { ...file.mqtt, topic: DEMO_ROOT, clientId: DEMO_CLIENT_ID, takeover: false },
        http: file.http,
        log: file.log,
        homeassistant: file.homeassistant,
      };
    } catch (error) {
      if (error instanceof ConfigError) {
        process.stderr.write(`${error.message}\n`);
        return 78;
      }
      throw error;
    }
  }
  // the car at the garage charger, the carport charger and the building's meters, as one world
  const world = new DemoWorld();
  const urls = await world.start();
  // the carport charger holds a departure plan, as set in the go-e app: 15 kWh by 07:00
  world.goe.update(CARPORT, { lmo: 5, ate: 15_000, att: 7 * 3600 });
  // a second car arrives at the carport half a minute in, so the demo shows a session start
  const arrival = setTimeout(() => world.plugInCarport(), 30_000);
  arrival.unref();

  const config = parseConfig(demoConfig(world, urls));
  Object.assign(config, overrides);
  if (logLevel) config.log.level = logLevel;

  const logger = createLogger({ level: config.log.level });
  let daemon: Daemon | undefined;
  const meter = new DemoMeter(world.goe, GARAGE);
  const makeDaemon = () => {
    daemon = new Daemon(config, logger);
    return daemon;
  };
  const exitCode = await runDaemon(makeDaemon, logger, () => {
    meter.start(daemon?.brokerUrl() ?? "", {
      username: config.mqtt.username,
      password: config.mqtt.password,
    });
    const { host, port } = config.mqtt.url ? hostOf(config.mqtt.url) : splitHostPort(config.mqtt.listen);
    const topic = config.mqtt.topic;
    process.stdout.write(
      [
        "",
        "ev2mqtt demo: two go-e chargers, a Climkit-metered building and an OVMS car (all simulated) on MQTT. Watch it with:",
        `  mosquitto_sub -h ${host} -p ${port} -t '${topic}/#' -v`,
        "Change a charger:",
        `  mosquitto_pub -h ${host} -p ${port} -t ${topic}/loadpoints/1/maxCurrent/set -m 10`,
        `  mosquitto_pub -h ${host} -p ${port} -t ${topic}/loadpoints/1/mode/set -m off`,
        `Charge from PV surplus (a simulated meter publishes on ${DEMO_METER.grid}):`,
        `  mosquitto_pub -h ${host} -p ${port} -t ${topic}/loadpoints/1/mode/set -m pv`,
        `  mosquitto_pub -h ${host} -p ${port} -t ${topic}/vehicles/car/charging/set -m false`,
        "Change the carport's departure plan (or end it with none):",
        `  mosquitto_pub -h ${host} -p ${port} -t ${topic}/loadpoints/2/planTime/set -m 06:30`,
        `  mosquitto_pub -h ${host} -p ${port} -t ${topic}/loadpoints/2/planEnergy/set -m 20`,
        "Stop with Ctrl-C.",
        "",
      ].join("\n"),
    );
  });
  clearTimeout(arrival);
  await meter.stop();
  await world.stop();
  return exitCode;
}

/** The bridge's configuration for the demo world (the embedded broker on 1883 unless overridden). */
export function demoConfig(world: DemoWorld, urls: DemoUrls): Record<string, unknown> {
  const { goe, ovms } = world;
  return {
    mqtt: { listen: "127.0.0.1:1883", topic: DEMO_ROOT, clientId: DEMO_CLIENT_ID },
    log: { level: "info" },
    goe: DEMO_CHARGERS.map((charger, index) => ({
      serial: charger.serial,
      token: charger.token,
      loadpoint: index + 1,
      title: charger.fna,
      interval: "2s",
      url: goe.chargerUrl(charger.serial),
      // the garage charger gets live power from a simulated meter: set its mode to pv
      ...(charger.serial === GARAGE
        ? { surplus: { grid: DEMO_METER.grid, pv: DEMO_METER.pv, interval: "2s" } }
        : {}),
    })),
    climkit: [{ ...DEMO_CLIMKIT, interval: "1m", url: urls.climkitUrl }],
    ovms: [
      {
        url: urls.restUrl,
        username: ovms.username,
        password: ovms.password,
        commands: urls.commandsUrl,
        interval: "20s",
        activeInterval: "5s",
        // the simulated car's PIN: the demo shows the lock
        vehicles: [{ id: "DEMO", name: "car", loadpoint: 1, pin: "4711" }],
      },
    ],
  };
}

function hostOf(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port || 1883) };
}
