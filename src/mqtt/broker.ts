import { createServer, type Server, type Socket } from "node:net";
import { Aedes } from "aedes";
import type { Logger } from "../util/log.js";

export interface EmbeddedBroker {
  url: string;
  close(): Promise<void>;
}

/** Splits `host:port`, `[::1]:1883`. */
export function splitHostPort(listen: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(listen);
  if (!match) throw new Error(`not host:port: ${listen}`);
  return { host: match[1]!, port: Number(match[2]) };
}

/**
 * An in-process aedes broker for users without one (and for the demo): plain MQTT 3.1.1 on
 * `listen`, usable by any other client (Home Assistant, Node-RED, mosquitto_sub).
 */
export async function startEmbeddedBroker(listen: string, logger: Logger): Promise<EmbeddedBroker> {
  const { host, port } = splitHostPort(listen);
  const broker = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    // without it a message that follows another (an ack, then a write's answer) waits ~40 ms
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    broker.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      reject(
        error.code === "EADDRINUSE"
          ? new Error(
              `cannot start the embedded MQTT broker: ${listen} is already in use (is mosquitto running? set mqtt.url to use it, or mqtt.listen to another port)`,
            )
          : error,
      );
    });
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const actualPort = typeof address === "object" && address ? address.port : port;
  const url = `mqtt://${host.includes(":") ? `[${host}]` : host}:${actualPort}`;
  logger.info({ listen: `${host}:${actualPort}` }, "embedded MQTT broker listening");
  return {
    url,
    close: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
