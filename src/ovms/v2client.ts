import { formatDuration } from "../util/duration.js";
import type { Logger } from "../util/log.js";
import { markSent } from "../util/request-trail.js";
import { V2Link } from "./v2link.js";
import type { CommandReply } from "./writes.js";

// Commands over the OVMS v2 protocol: one logged-in link per vehicle (the server binds a v2
// session to one car, see v2link.ts), replies matched to commands per car, first in first out
// by command code (the server keeps a FIFO of waiting clients per car and forwards the car's
// `c<code>,…` to the head). A car that is not connected to the server gets nothing and answers
// nothing, so every command has a deadline.

export interface V2ClientOptions {
  /** tcp://host:6867 or tls://host:6870. */
  url: string;
  username: string;
  password: string;
  rejectUnauthorized: boolean;
  /** How long to wait for the car's reply. */
  commandTimeoutMs: number;
  logger: Logger;
  /** Default `B` (batch client): does not make the car report faster. */
  clientType?: "A" | "B";
  pingIntervalMs?: number;
  loginTimeoutMs?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

/** One line the server pushed: its code (first character) and the rest. */
export interface PushedLine {
  code: string;
  data: string;
}

/**
 * Records pushed on a link. `live` false: the stored records the server replays at login, all
 * at once, with `ageS` from its `T<secs>` line (they may be hours old). `live` true: one record
 * the car just sent.
 */
export type RecordsListener = (
  vehicleId: string,
  lines: PushedLine[],
  live: boolean,
  ageS: number | undefined,
) => void;

/** The link's state: up once the login replay is through; `refused` when the server closed it at login. */
export type LinkListener = (vehicleId: string, up: boolean, error: string, refused: boolean) => void;

export type CommandFailure = "timeout" | "unreachable" | "dropped" | "stopped";

export class CommandError extends Error {
  constructor(
    readonly kind: CommandFailure,
    message: string,
  ) {
    super(message);
    this.name = "CommandError";
  }
}

interface Pending {
  code: number;
  /** Undefined for a command that timed out while the car was connected: its late reply is dropped. */
  settle?: (reply: CommandReply | CommandError) => void;
  expiresAt: number;
}

interface Channel {
  link: V2Link;
  pending: Pending[];
  /** From the `Z` lines: whether the car's module is connected to the server. */
  carConnected: boolean | undefined;
  /** From login to the first `T` line the server replays the car's stored records, of any age. */
  replaying: boolean;
  /** The replay so far: applied as one state when its `T` line comes. */
  replay: PushedLine[];
}

/** How long a timed-out command's late reply is still expected (and dropped when it comes). */
const LATE_REPLY_MS = 5 * 60_000;

export class OvmsV2Client {
  private readonly channels = new Map<string, Channel>();
  private readonly recordListeners = new Set<RecordsListener>();
  private readonly linkListeners = new Set<LinkListener>();
  private readonly carListeners = new Set<(vehicleId: string, connected: boolean) => void>();
  private stopped = false;

  constructor(private readonly options: V2ClientOptions) {}

  /** Records the server pushes unasked (S, D, L, W, Y, F, …), per vehicle: see RecordsListener. */
  onRecords(listener: RecordsListener): void {
    this.recordListeners.add(listener);
  }

  /** The link of a vehicle came up (its replay applied) or went down. */
  onLinkState(listener: LinkListener): void {
    this.linkListeners.add(listener);
  }

  /** `Z` lines: the car's module connected to (true) or left (false) the server. */
  onCarConnected(listener: (vehicleId: string, connected: boolean) => void): void {
    this.carListeners.add(listener);
  }

  /** Opens (and keeps open) a link for each vehicle. */
  start(vehicleIds: string[]): void {
    for (const id of vehicleIds) this.channel(id).link.start();
  }

  /** Whether the vehicle's link is logged in, and why not. */
  linkState(vehicleId: string): { up: boolean; error: string; carConnected: boolean | undefined } {
    const channel = this.channels.get(vehicleId);
    return {
      up: channel?.link.up ?? false,
      error: channel?.link.lastError ?? "",
      carConnected: channel?.carConnected,
    };
  }

  /**
   * Sends `C<code>,<params…>` to the vehicle and resolves with the car's reply (whatever its
   * result); rejects with a CommandError when no reply comes in time or the link fails.
   */
  async command(vehicleId: string, code: number, params: string[] = []): Promise<CommandReply> {
    if (this.stopped) throw new CommandError("stopped", "the bridge is stopping");
    const channel = this.channel(vehicleId);
    channel.link.start();
    const started = performance.now();
    const timeoutMs = this.options.commandTimeoutMs;
    if (!(await channel.link.ready(timeoutMs))) {
      if (this.stopped) throw new CommandError("stopped", "the bridge is stopping");
      const reason = channel.link.lastError || `no login within ${formatDuration(timeoutMs)}`;
      throw new CommandError("unreachable", `cannot reach the OVMS command server: ${reason}`);
    }
    const line = `C${[code, ...params].join(",")}`;
    const carWasConnected = channel.carConnected !== false;
    return new Promise<CommandReply>((resolve, reject) => {
      const entry: Pending = {
        code,
        expiresAt: Number.POSITIVE_INFINITY,
        settle: (outcome) => {
          clearTimeout(timer);
          entry.settle = undefined;
          if (outcome instanceof CommandError) reject(outcome);
          else resolve(outcome);
        },
      };
      const remaining = Math.max(0, timeoutMs - (performance.now() - started));
      const timer = setTimeout(() => {
        const settle = entry.settle;
        if (!settle) return;
        if (carWasConnected && channel.carConnected !== false) {
          // the server queued us as the receiver of this reply: drop it when it comes late
          entry.settle = undefined;
          entry.expiresAt = performance.now() + LATE_REPLY_MS;
        } else {
          channel.pending = channel.pending.filter((other) => other !== entry);
        }
        settle(
          new CommandError(
            "timeout",
            `the car did not answer within ${formatDuration(timeoutMs)} (is its module online?)`,
          ),
        );
      }, remaining);
      channel.pending.push(entry);
      if (!channel.link.send(line)) {
        channel.pending = channel.pending.filter((other) => other !== entry);
        entry.settle?.(new CommandError("dropped", "the connection to the OVMS server was lost"));
        return;
      }
      markSent();
      this.options.logger.debug({ vehicle: vehicleId, code }, "OVMS command sent");
    });
  }

  /** Closes every link; commands still waiting are answered with an error. */
  close(): void {
    this.stopped = true;
    for (const channel of this.channels.values()) {
      channel.link.close();
      this.failAll(channel, new CommandError("stopped", "the bridge stopped before the car answered"));
    }
  }

  private channel(vehicleId: string): Channel {
    let channel = this.channels.get(vehicleId);
    if (channel) return channel;
    const options = this.options;
    const created: Channel = {
      pending: [],
      carConnected: undefined,
      replaying: false,
      replay: [],
      link: undefined as unknown as V2Link,
    };
    created.link = new V2Link(
      {
        url: options.url,
        username: options.username,
        password: options.password,
        vehicleId,
        clientType: options.clientType ?? "B",
        rejectUnauthorized: options.rejectUnauthorized,
        // the server looks at a silent batch client after 30 s and drops it once silent for
        // timeout_api, which some servers set to 20 s: a line every 20 s keeps any of them
        pingIntervalMs: options.pingIntervalMs ?? 20_000,
        loginTimeoutMs: options.loginTimeoutMs ?? 15_000,
        reconnectMinMs: options.reconnectMinMs ?? 1_000,
        reconnectMaxMs: options.reconnectMaxMs ?? 300_000,
        logger: options.logger,
      },
      {
        line: (code, data) => this.line(vehicleId, created, code, data),
        state: (up, error) => {
          created.replaying = up;
          created.replay = [];
          if (up) return;
          for (const listener of this.linkListeners) listener(vehicleId, false, error, created.link.refused);
          created.carConnected = undefined;
          this.failAll(
            created,
            new CommandError(
              "dropped",
              "the connection to the OVMS server was lost before the car answered (the command may have been carried out)",
            ),
          );
        },
      },
    );
    channel = created;
    this.channels.set(vehicleId, channel);
    return channel;
  }

  private line(vehicleId: string, channel: Channel, code: string, data: string): void {
    if (code === "a") return; // ping answer
    if (code === "c") {
      const match = /^(\d+),(\d+)(?:,(.*))?$/s.exec(data);
      if (match)
        this.reply(channel, { code: Number(match[1]), result: Number(match[2]), text: match[3] ?? "" });
      return;
    }
    if (code === "Z") {
      const connected = data.trim() !== "0" && data.trim() !== "";
      channel.carConnected = connected;
      for (const listener of this.carListeners) listener(vehicleId, connected);
      return;
    }
    if (channel.replaying) {
      if (code !== "T") {
        channel.replay.push({ code, data });
        return;
      }
      channel.replaying = false;
      const lines = channel.replay;
      channel.replay = [];
      const age = Number(data.trim());
      const ageS = data.trim() !== "" && Number.isFinite(age) && age >= 0 ? age : undefined;
      for (const listener of this.recordListeners) listener(vehicleId, lines, false, ageS);
      for (const listener of this.linkListeners) listener(vehicleId, true, "", false);
      return;
    }
    if (code === "T") return; // T0 after each live record
    for (const listener of this.recordListeners) listener(vehicleId, [{ code, data }], true, undefined);
  }

  private reply(channel: Channel, reply: CommandReply): void {
    const now = performance.now();
    channel.pending = channel.pending.filter((entry) => entry.settle || entry.expiresAt > now);
    const index = channel.pending.findIndex((entry) => entry.code === reply.code);
    const entry = index >= 0 ? channel.pending[index] : undefined;
    // a reply nobody here waits for went to every client of the car: not ours
    if (!entry) return;
    channel.pending.splice(index, 1);
    entry.settle?.(reply);
  }

  private failAll(channel: Channel, error: CommandError): void {
    const pending = channel.pending;
    channel.pending = [];
    for (const entry of pending) entry.settle?.(error);
  }
}
