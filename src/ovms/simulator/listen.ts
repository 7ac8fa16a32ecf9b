// Listening and closing for the simulator's two socket servers (HTTP/1.0 and v2). Imports
// nothing of the product.

import net from "node:net";

/** Starts a socket server on a free port of `host`; returns the server and its port. */
export async function listen(
  host: string,
  accept: (socket: net.Socket) => void,
): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer(accept);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  return { server, port: typeof address === "object" && address ? address.port : 0 };
}

export async function closeServer(server: net.Server | undefined): Promise<void> {
  if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
}
