import { request as httpRequest } from "node:http";
import { STATUS_KEYS } from "../goe/mapping.js";
import { GoeSimulator } from "../goe/simulator/server.js";
import type { BenchBroker } from "./broker.js";
import { DaemonChild, Subscriber } from "./processes.js";

// Start-up (spawn → `<root>/status online` and the first loadpoint value) and the bytes of one
// go-e status poll on the wire.

export interface Startup {
  online: number[];
  firstValue: number[];
}

export async function startupRuns(broker: BenchBroker): Promise<Startup> {
  const sim = new GoeSimulator({ chargers: [{ serial: "300000", mode: "local" }] });
  await sim.start();
  const result: Startup = { online: [], firstValue: [] };
  for (let run = 0; run < 3; run++) {
    const root = `benchstart${run}`;
    const subscriber = await Subscriber.connect(broker.url, `${root}/#`);
    const daemon = DaemonChild.start({
      mqtt: { url: broker.url, topic: root, clientId: `ev2mqtt-${root}` },
      log: { level: "warn" },
      goe: [{ serial: "300000", loadpoint: 1, url: sim.chargerUrl("300000"), interval: "5s" }],
    });
    let online = Number.NaN;
    let value = Number.NaN;
    subscriber.on((message) => {
      if (message.topic === `${root}/status` && Number.isNaN(online)) online = message.at - daemon.spawnedAt;
      if (message.topic === `${root}/loadpoints/1/maxCurrent` && Number.isNaN(value))
        value = message.at - daemon.spawnedAt;
    });
    await subscriber.waitFor(() => !Number.isNaN(online) && !Number.isNaN(value), 20_000, "start-up");
    result.online.push(online);
    result.firstValue.push(value);
    await daemon.stop();
    await subscriber.close();
  }
  await sim.stop();
  return result;
}

export interface PollBytes {
  request: number;
  response: number;
  body: number;
}

export async function pollBytes(): Promise<PollBytes> {
  const sim = new GoeSimulator({ chargers: [{ serial: "400000", mode: "local" }] });
  const base = await sim.start();
  const url = new URL(`${base}/400000/api/status?filter=${STATUS_KEYS.join(",")}`);
  const figures = await new Promise<PollBytes>((resolve, reject) => {
    const req = httpRequest(url, { agent: false, headers: { accept: "application/json" } }, (res) => {
      let body = 0;
      res.on("data", (chunk: Buffer) => {
        body += chunk.length;
      });
      res.on("end", () =>
        resolve({ request: req.socket?.bytesWritten ?? 0, response: res.socket.bytesRead, body }),
      );
    });
    req.on("error", reject);
    req.end();
  });
  await sim.stop();
  return figures;
}
