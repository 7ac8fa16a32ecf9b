import mqtt from "mqtt";
import { Agent, request } from "undici";
import { STATUS_KEYS } from "../goe/mapping.js";

// The floor: what polling N chargers costs with nothing of the bridge around it. Per charger
// and second: one HTTP GET of the same status the bridge asks for, its body read, and one
// retained QoS 1 MQTT publish. argv: <count> <simulator url> <broker url> <first serial>.

const count = Number(process.argv[2] ?? 10);
const base = process.argv[3] ?? "";
const brokerUrl = process.argv[4] ?? "";
const first = Number(process.argv[5] ?? 100000);
const agent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000 });
const client = await mqtt.connectAsync(brokerUrl, { clientId: `ev2mqtt-floor-${process.pid}` });
const filter = STATUS_KEYS.join(",");
let stopped = false;

async function poll(serial: string): Promise<void> {
  while (!stopped) {
    try {
      const response = await request(`${base}/${serial}/api/status?filter=${filter}`, {
        dispatcher: agent,
        headers: { accept: "application/json" },
      });
      const text = await response.body.text();
      client.publish(`floor/${serial}`, String(text.length), { qos: 1, retain: true });
    } catch {
      // the floor ignores failures: it measures the happy path
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

for (let index = 0; index < count; index++) void poll(String(first + index));
process.send?.({ type: "ready" });
process.on("SIGTERM", () => {
  stopped = true;
  void client.endAsync(true).then(() => process.exit(0));
});
