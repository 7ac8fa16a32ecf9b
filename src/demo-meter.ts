import mqtt, { type MqttClient } from "mqtt";
import type { GoeSimulator } from "./goe/simulator/server.js";

// The demo's grid meter: publishes the house's grid power every 2 s on the broker, as a smart
// meter reader would, so the demo shows the PV-surplus feed. PV swings between a cloudy 1.5 kW
// and a sunny 10 kW over five minutes; the house draws about 500 W; the charger's own power
// (read from the simulator) counts too, as a real meter sees it.

export const DEMO_METER = { grid: "demo/meter/grid/power", pv: "demo/meter/pv/power" } as const;
const PERIOD_MS = 300_000;

export function pvPower(now: number): number {
  const phase = (now % PERIOD_MS) / PERIOD_MS;
  return Math.round(5750 - 4250 * Math.cos(2 * Math.PI * phase));
}

export class DemoMeter {
  private client: MqttClient | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly goe: GoeSimulator,
    private readonly serial: string,
  ) {}

  start(brokerUrl: string, credentials: { username?: string; password?: string } = {}): void {
    this.client = mqtt.connect(brokerUrl, {
      ...credentials,
      clientId: "ev2mqtt-demo-meter",
      reconnectPeriod: 1000,
    });
    this.timer = setInterval(() => this.publish(), 2000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.client?.endAsync(true);
  }

  private publish(): void {
    const client = this.client;
    if (!client?.connected) return;
    const now = Date.now();
    const nrg = this.goe.status(this.serial).nrg;
    const charger = Array.isArray(nrg) && typeof nrg[11] === "number" ? nrg[11] : 0;
    const house = 450 + Math.round(100 * Math.sin(now / 7000));
    const pv = pvPower(now);
    client.publish(DEMO_METER.grid, String(house + charger - pv));
    client.publish(DEMO_METER.pv, String(pv));
  }
}
