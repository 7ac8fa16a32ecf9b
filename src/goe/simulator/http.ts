import type { IncomingMessage, ServerResponse } from "node:http";
import { type Answer, json } from "./faults.js";
import type { GoeSimCharger } from "./state.js";

// The HTTP side of the simulated go-e API: who may ask, what a filtered status looks like
// (with the Last-Modified header the real cloud sends), and the plain answer and body helpers.

export function authorized(charger: GoeSimCharger, req: IncomingMessage, url: URL): boolean {
  if (charger.mode === "local" || charger.token === undefined) return true;
  const header = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "")?.[1]?.trim();
  return header === charger.token || url.searchParams.get("token") === charger.token;
}

export function statusAnswer(charger: GoeSimCharger, url: URL, now: number): Answer {
  const full = charger.status(now);
  const filter = url.searchParams.get("filter");
  let body = full;
  if (filter) {
    body = {};
    for (const raw of filter.split(",")) {
      const key = raw.trim();
      if (Object.hasOwn(full, key)) body[key] = full[key];
    }
  }
  const answer = json(200, body);
  answer.headers = { ...answer.headers, "last-modified": new Date(now).toUTCString() };
  return answer;
}

export function send(res: ServerResponse, answer: Answer): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(answer.status, { ...answer.headers, "content-length": Buffer.byteLength(answer.body) });
  res.end(answer.body);
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      text += chunk;
      if (text.length > 65_536) req.destroy(new Error("body too large"));
    });
    req.on("end", () => resolve(text));
    req.on("error", reject);
  });
}
