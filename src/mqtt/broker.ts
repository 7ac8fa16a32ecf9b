import { createServer, type Server, type Socket } from "node:net";
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

/** Loopback addresses: only this machine can reach a broker bound there. */
export function isLoopback(host: string): boolean {
  return /^(127\.\d+\.\d+\.\d+|::1|\[::1\]|localhost)$/i.test(host);
}

/** What a user of the embedded broker must know: who can reach it, and who can write. */
export function embeddedBrokerNotes(
  listen: string,
  login: boolean,
): Array<{ level: "info" | "warn"; text: string }> {
  if (isLoopback(splitHostPort(listen).host)) {
    return [
      {
        level: "info",
        text: "the embedded broker is reachable from this machine only: Home Assistant on another machine (HA OS) cannot connect; use your broker (mqtt.url), or listen on the LAN with a login",
      },
    ];
  }
  if (login) return [];
  return [
    {
      level: "warn",
      text: "the embedded broker listens beyond this machine without a login: anyone on the network can write /set topics; set mqtt.username and mqtt.password, or listen on 127.0.0.1",
    },
  ];
}

/**
 * An in-process aedes broker for users without one (and for the demo): plain MQTT 3.1.1 on
 * `listen`, usable by any other client (Home Assistant, Node-RED, mosquitto_sub). With a
 * login (mqtt.username and mqtt.password) every client must give it; without one anyone who
 * can reach `listen` may read and write `/set`.
 */
export async function startEmbeddedBroker(
  listen: string,
  logger: Logger,
  login?: { username?: string; password?: string },
): Promise<EmbeddedBroker> {
  const { host, port } = splitHostPort(listen);
  // aedes is loaded only here: the CLI reads this module for its notes on the embedded broker,
  // and a bridge with a broker of its own should not carry aedes in memory
  const { Aedes } = await import("aedes");
  const broker = await Aedes.createBroker();
  if (login?.username && login.password) {
    const { username, password } = login;
    broker.authenticate = (_client, user, pass, done) => {
      const ok = user === username && pass?.toString("utf8") === password;
      done(null, ok);
    };
  }
  for (const note of embeddedBrokerNotes(listen, Boolean(login?.username && login.password))) {
    logger[note.level]({ listen }, note.text);
  }
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
              `cannot start the embedded MQTT broker: ${listen} is already in use (by mosquitto, or another ev2mqtt with its embedded broker: set mqtt.url to use that broker, or mqtt.listen to another port)`,
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
