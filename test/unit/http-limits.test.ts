import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpRequest } from "../../src/upstream/http.js";

// The body limit of every upstream request: an answer past it is aborted while it streams in
// (chunked, no length announced) or at once (a length announced), and fails with an error
// that says what happened. The server sees the connection dropped: the rest is never read.

const MB = 1024 * 1024;
let server: Server;
let base: string;
let dropped = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    res.on("close", () => {
      if (!res.writableFinished) dropped += 1;
    });
    if (req.url === "/small") return res.end('{"ok":true}');
    if (req.url === "/announced") {
      res.writeHead(200, { "content-length": String(50 * MB) });
      res.write(Buffer.alloc(64 * 1024, 120));
      return; // never finishes: the client must not wait for it
    }
    // chunked, 64 KB at a time, for as long as the client reads
    res.writeHead(200, { "content-type": "text/plain" });
    const chunk = Buffer.alloc(64 * 1024, 120);
    const pump = () => {
      while (!res.destroyed && res.write(chunk)) {
        /* fill the socket */
      }
      if (!res.destroyed) res.once("drain", pump);
    };
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe("upstream body limit", () => {
  it("reads an answer under the limit", async () => {
    const answer = await httpRequest(`${base}/small`, { timeoutMs: 5000, maxBodyBytes: MB });
    expect(answer.text).toBe('{"ok":true}');
  });

  it("aborts an endless chunked answer past the limit and says so", async () => {
    const before = dropped;
    await expect(httpRequest(`${base}/endless`, { timeoutMs: 10_000, maxBodyBytes: MB })).rejects.toThrow(
      /GET 127\.0\.0\.1:\d+\/endless: answer too large \(more than 1 MB, at most 1 MB\); the request was aborted/,
    );
    await expect.poll(() => dropped).toBeGreaterThan(before);
  });

  it("refuses an announced length past the limit without reading it", async () => {
    await expect(httpRequest(`${base}/announced`, { timeoutMs: 10_000, maxBodyBytes: MB })).rejects.toThrow(
      /answer too large \(50\.0 MB announced, at most 1 MB\)/,
    );
  });
});
