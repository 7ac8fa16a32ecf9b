import net from "node:net";
import tls from "node:tls";
import { networkAdvice } from "../upstream/errors.js";
import type { Logger } from "../util/log.js";

/** Longest v2 line: real ones are below 1 KB; a server that sends more is broken or hostile. */
const MAX_LINE = 64 * 1024;

// One v2 protocol connection (scheme 1: plaintext lines after `MP-<type> 1 <user> <pass> <vehicle>`).
// The server binds a v2 session to exactly one vehicle: `*` only picks the account's first car,
// and replies and records carry no vehicle id. So the client keeps one link per vehicle.
// It logs in as a batch client (`B`) by default: an app (`A`) login raises the car's peer
// count, which makes the module report at its fast "connected" interval for as long as the
// link lives; a batch client gets the same records and replies without that cost.

export interface V2LinkOptions {
  /** tcp://host[:6867] or tls://host[:6870]. */
  url: string;
  username: string;
  password: string;
  vehicleId: string;
  clientType: "A" | "B";
  rejectUnauthorized: boolean;
  /** `A` pings keep the session alive: the server drops silent batch clients (see v2client.ts). */
  pingIntervalMs: number;
  loginTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  logger: Logger;
}

export interface V2LinkEvents {
  /** A line after login, split into its code (first character) and data. */
  line(code: string, data: string): void;
  /** The link logged in (true) or went down (false, with the reason in words). */
  state(up: boolean, error: string): void;
}

export function endpointOf(url: string): { tls: boolean; host: string; port: number } {
  const parsed = new URL(url);
  const secure = parsed.protocol === "tls:";
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  const port = parsed.port ? Number(parsed.port) : secure ? 6870 : 6867;
  return { tls: secure, host, port };
}

export class V2Link {
  private socket: net.Socket | undefined;
  private buffer = "";
  private loggedIn = false;
  private stopped = true;
  private retryTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private loginTimer: NodeJS.Timeout | undefined;
  private backoffMs: number;
  private lastRx = 0;
  private upSince = 0;
  private failure = "";
  /** The server closed the connection at login: credentials or vehicle refused. */
  private isRefused = false;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly options: V2LinkOptions,
    private readonly events: V2LinkEvents,
  ) {
    this.backoffMs = options.reconnectMinMs;
  }

  get up(): boolean {
    return this.loggedIn;
  }

  /** Whether the server closed the last attempt at login (refused credentials, or an old server). */
  get refused(): boolean {
    return this.isRefused;
  }

  /** Why the link is down, in words ("" while up or before the first attempt). */
  get lastError(): string {
    return this.failure;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  close(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.teardown();
    for (const wake of this.waiters) wake();
  }

  /** Writes one line; false when the link is not logged in. */
  send(line: string): boolean {
    if (!this.loggedIn || !this.socket) return false;
    this.socket.write(`${line}\r\n`);
    return true;
  }

  /**
   * Resolves true once the link is logged in, false when `timeoutMs` passes first or the link
   * fails. A link waiting out its back-off reconnects at once, unless the server refused the login.
   */
  ready(timeoutMs: number): Promise<boolean> {
    if (this.loggedIn) return Promise.resolve(true);
    // refused logins are not retried before their back-off: answer with the refusal at once
    if (this.stopped || (this.isRefused && !this.socket)) return Promise.resolve(false);
    if (!this.socket) {
      clearTimeout(this.retryTimer);
      this.connect();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve(this.loggedIn);
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(done);
    });
  }

  private connect(): void {
    if (this.stopped || this.socket) return;
    const { username, password, vehicleId } = this.options;
    if ([username, password, vehicleId].some((field) => /\s/.test(field) || field === "")) {
      // the login line is split at white space: such a login can never work, so do not try
      this.isRefused = true;
      this.failure = "the v2 protocol cannot carry a username, password or vehicle id with spaces";
      return;
    }
    const { host, port, tls: secure } = endpointOf(this.options.url);
    const socket = secure
      ? tls.connect({
          host,
          port,
          servername: net.isIP(host) ? undefined : host,
          rejectUnauthorized: this.options.rejectUnauthorized,
        })
      : net.connect({ host, port });
    this.socket = socket;
    this.buffer = "";
    socket.setEncoding("utf8");
    socket.setKeepAlive(true, 60_000);
    socket.setNoDelay(true);
    socket.on(secure ? "secureConnect" : "connect", () => {
      socket.write(`MP-${this.options.clientType} 1 ${username} ${password} ${vehicleId}\r\n`);
    });
    socket.on("data", (chunk: string) => this.receive(chunk));
    socket.on("error", (error: NodeJS.ErrnoException) => {
      this.failure = describeSocketError(error, host, port);
    });
    socket.on("close", () => this.closed(socket));
    this.loginTimer = setTimeout(() => {
      this.failure = `${host}:${port}: no login answer within ${this.options.loginTimeoutMs / 1000}s`;
      socket.destroy();
    }, this.options.loginTimeoutMs);
  }

  private receive(chunk: string): void {
    this.lastRx = performance.now();
    this.buffer += chunk;
    let newline = this.buffer.indexOf("\n");
    while (newline >= 0) {
      const line = this.buffer.slice(0, newline).replace(/\r$/, "");
      this.buffer = this.buffer.slice(newline + 1);
      if (line) this.handle(line);
      newline = this.buffer.indexOf("\n");
    }
    // a server that never sends a newline must not grow the buffer without bound
    if (this.buffer.length > MAX_LINE) {
      this.failure = `the OVMS server sent a line longer than ${MAX_LINE / 1024} KB; the link was dropped and is retried`;
      this.buffer = "";
      this.socket?.destroy();
    }
  }

  private handle(line: string): void {
    if (!this.loggedIn) {
      if (!line.startsWith("MP-S ")) return;
      clearTimeout(this.loginTimer);
      this.loggedIn = true;
      this.isRefused = false;
      this.failure = "";
      this.upSince = performance.now();
      this.startPings();
      this.options.logger.debug({ vehicle: this.options.vehicleId }, "v2 link logged in");
      this.events.state(true, "");
      for (const wake of this.waiters) wake();
      return;
    }
    this.events.line(line.charAt(0), line.slice(1));
  }

  private startPings(): void {
    clearInterval(this.pingTimer);
    const interval = this.options.pingIntervalMs;
    this.pingTimer = setInterval(() => {
      // no line at all (not even the `a` to the previous ping) for two rounds: the link is dead
      if (performance.now() - this.lastRx > 2 * interval + this.options.loginTimeoutMs) {
        this.failure = "the OVMS server stopped answering pings";
        this.socket?.destroy();
        return;
      }
      this.send("A");
    }, interval);
    this.pingTimer.unref?.();
  }

  private closed(socket: net.Socket): void {
    if (this.socket !== socket) return;
    const wasUp = this.loggedIn;
    const { host, port } = endpointOf(this.options.url);
    if (!wasUp && !this.failure) {
      // ApiV2.pm closes without a word on bad credentials, a foreign vehicle or a token without `v2`
      this.isRefused = true;
      this.failure = `the OVMS server at ${host}:${port} closed the connection at login (wrong username or password, vehicle ${this.options.vehicleId} not on the account, or a token without the v2 permit)`;
    } else if (wasUp && !this.failure) {
      this.failure = `the connection to the OVMS server at ${host}:${port} was closed`;
    }
    const livedMs = wasUp ? performance.now() - this.upSince : 0;
    this.teardown();
    if (this.stopped) return;
    if (livedMs > 10_000) this.backoffMs = this.options.reconnectMinMs;
    this.options.logger.warn(
      { vehicle: this.options.vehicleId, retryInMs: this.backoffMs },
      `OVMS command link down: ${this.failure}`,
    );
    this.events.state(false, this.failure);
    for (const wake of this.waiters) wake();
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.options.reconnectMaxMs, this.backoffMs * 2);
    this.retryTimer = setTimeout(() => {
      this.failure = "";
      this.connect();
    }, delay);
    this.retryTimer.unref?.();
  }

  private teardown(): void {
    clearTimeout(this.loginTimer);
    clearInterval(this.pingTimer);
    this.loggedIn = false;
    const socket = this.socket;
    this.socket = undefined;
    socket?.destroy();
  }
}

function describeSocketError(error: NodeJS.ErrnoException, host: string, port: number): string {
  const where = `${host}:${port} (the v2 endpoint, setting commands)`;
  // the same causes and next steps as every other upstream's network errors
  const advice = networkAdvice(error.code);
  return advice
    ? `${where}: ${advice}`
    : `${where}: ${error.code ?? error.message}; check the commands endpoint and this machine's network`;
}
