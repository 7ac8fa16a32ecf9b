import { z } from "zod";

// Field types shared by the schema. Each refusal says what it got and how to write it right,
// so a user fixes the field from the message alone.

const show = (raw: unknown): string => JSON.stringify(raw);

/** `host:port`; a bare port number (`listen: 1884`) means that port on the loopback address. */
export const hostPort = z.unknown().transform((raw, ctx) => {
  const text = typeof raw === "string" || typeof raw === "number" ? String(raw).trim() : "";
  if (/^\d{1,5}$/.test(text) && Number(text) <= 65535) return `127.0.0.1:${text}`;
  const match = /^(\[[0-9a-fA-F:]+\]|[^\s:/[\]]+):(\d{1,5})$/.exec(text);
  if (match && Number(match[2]) <= 65535) return text;
  ctx.addIssue({
    code: "custom",
    message: `must be host:port such as 127.0.0.1:1883, or a port number (got ${show(raw)})`,
  });
  return z.NEVER;
});

/** Parses a URL without throwing: undefined for anything `new URL` refuses. */
export function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

/** `192.168.1.50`, `goe.local:80`, `host/path`: a host without a scheme in front. */
function looksLikeBareHost(text: string): boolean {
  return /^(\[[0-9a-fA-F:]+\]|[a-zA-Z0-9][a-zA-Z0-9.-]*)(:\d{1,5})?(\/\S*)?$/.test(text);
}

interface HttpUrlOptions {
  /** The scheme a bare host gets (go-e's local API is plain HTTP); without it a bare host is refused. */
  bareHost?: "http";
  /** The scheme suggested to a user who left it out. */
  suggest: "http" | "https";
}

/**
 * An http(s) base URL, trailing slashes removed. A bare host is either given the scheme the
 * upstream always uses, or refused with the exact line to write instead.
 */
export function httpUrl(options: HttpUrlOptions) {
  return z.string().transform((raw, ctx) => {
    let text = raw.trim();
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text) && looksLikeBareHost(text)) {
      if (options.bareHost) text = `${options.bareHost}://${text}`;
      else {
        ctx.addIssue({
          code: "custom",
          message: `must start with ${options.suggest}:// (got ${show(raw)}; write ${options.suggest}://${text})`,
        });
        return z.NEVER;
      }
    }
    const url = /^https?:\/\//i.test(text) ? parseUrl(text) : undefined;
    if (!url?.hostname) {
      ctx.addIssue({
        code: "custom",
        message: `must be an http:// or https:// URL such as ${options.suggest}://192.168.1.50 (got ${show(raw)})`,
      });
      return z.NEVER;
    }
    return text.replace(/\/+$/, "");
  });
}

const MQTT_SCHEMES = /^(mqtts?|wss?|tcp|tls):\/\//i;

/** The broker URL. A bare host is refused with the `mqtt://` line to write. */
export const mqttUrl = z.string().transform((raw, ctx) => {
  const text = raw.trim();
  if (MQTT_SCHEMES.test(text) && parseUrl(text)?.hostname) return text;
  const bare = !/^[a-z][a-z0-9+.-]*:\/\//i.test(text) && looksLikeBareHost(text);
  const fix = bare ? `; write mqtt://${/:\d+$/.test(text) ? text : `${text}:1883`}` : "";
  ctx.addIssue({
    code: "custom",
    message: `must be a mqtt://, mqtts://, ws:// or wss:// URL (got ${show(raw)}${fix})`,
  });
  return z.NEVER;
});

/** OVMS's v2 command endpoint. */
export const commandsUrl = z.string().transform((raw, ctx) => {
  const text = raw.trim();
  if (/^(tcp|tls):\/\/[^\s/:]+(:\d+)?\/?$/i.test(text)) return text;
  const host = /^[a-z][a-z0-9+.-]*:\/\/([^\s/:]+)/i.exec(text)?.[1] ?? text.split(/[:/]/)[0] ?? "host";
  ctx.addIssue({
    code: "custom",
    message: `must be tcp://${host}:6867 or tls://${host}:6870 (got ${show(raw)})`,
  });
  return z.NEVER;
});
