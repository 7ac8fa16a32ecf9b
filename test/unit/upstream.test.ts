import { afterEach, describe, expect, it } from "vitest";
import { networkFailure, timeoutFailure, UpstreamError } from "../../src/upstream/errors.js";
import { httpRequest } from "../../src/upstream/http.js";
import { WriteMerger } from "../../src/upstream/merge.js";
import { Poller } from "../../src/upstream/poller.js";
import { Priority, QueueClosedError, UpstreamQueue } from "../../src/upstream/queue.js";
import { markSent, type RequestTrail, withRequestTrail } from "../../src/util/request-trail.js";
import { addSecret, clearSecrets, scrub } from "../../src/util/secrets.js";

describe("upstream queue", () => {
  it("starts a task only the spacing after the previous one ended, writes before waiting polls", async () => {
    const queue = new UpstreamQueue("test", 200);
    const starts: Array<{ name: string; at: number }> = [];
    // each task takes 50 ms, as a slow request would: the gap counts from its end
    const task = (name: string) => async () => {
      starts.push({ name, at: performance.now() });
      await new Promise((resolve) => setTimeout(resolve, 50));
    };
    const all = [
      queue.run(task("poll-1")),
      queue.run(task("poll-2")),
      queue.run(task("poll-3")),
      queue.run(task("write"), Priority.write),
    ];
    await Promise.all(all);
    expect(starts.map((s) => s.name)).toEqual(["poll-1", "write", "poll-2", "poll-3"]);
    for (let i = 1; i < starts.length; i++) {
      expect(starts[i]!.at - starts[i - 1]!.at).toBeGreaterThanOrEqual(249);
    }
    await queue.close();
  });

  it("starts an urgent write without waiting out the spacing after a poll, two in a row at most", async () => {
    const queue = new UpstreamQueue("urgent", 600);
    const starts: Array<{ name: string; at: number }> = [];
    const task = (name: string) => async () => {
      starts.push({ name, at: performance.now() });
    };
    await queue.run(task("poll-1"));
    const later = [
      queue.run(task("poll-2")),
      queue.run(task("write-1"), Priority.write, { urgent: true }),
      queue.run(task("read-back"), Priority.readBack, { urgent: true }),
      queue.run(task("write-2"), Priority.write, { urgent: true }),
    ];
    await Promise.all(later);
    expect(starts.map((s) => s.name)).toEqual(["poll-1", "read-back", "write-1", "write-2", "poll-2"]);
    const gap = (i: number) => starts[i]!.at - starts[i - 1]!.at;
    // the read-back and the first write go at once; then the spacing holds again
    expect(gap(1)).toBeLessThan(500);
    expect(gap(2)).toBeLessThan(500);
    expect(gap(3)).toBeGreaterThanOrEqual(599);
    expect(gap(4)).toBeGreaterThanOrEqual(599);
    await queue.close();
  });

  it("settles the tasks it drops when it closes", async () => {
    const queue = new UpstreamQueue("closing", 10_000);
    await queue.run(async () => undefined);
    const dropped = queue.run(async () => "never");
    await queue.close();
    await expect(dropped).rejects.toBeInstanceOf(QueueClosedError);
    await expect(queue.run(async () => "late")).rejects.toBeInstanceOf(QueueClosedError);
  });

  it("merges writes that wait together into one call, the last value of a key winning", async () => {
    const queue = new UpstreamQueue("merge", 100);
    const calls: Array<Record<string, unknown>> = [];
    const merger = new WriteMerger<Record<string, unknown>, string>((take) =>
      queue.run(async () => {
        calls.push(take());
        return "done";
      }, Priority.write),
    );
    const blocker = queue.run(() => new Promise((resolve) => setTimeout(resolve, 50)));
    const results = await Promise.all([
      merger.submit({ amp: 10 }),
      merger.submit({ frc: 1 }),
      merger.submit({ amp: 12 }),
    ]);
    await blocker;
    expect(results).toEqual(["done", "done", "done"]);
    expect(calls).toEqual([{ amp: 12, frc: 1 }]);
    await merger.submit({ amp: 6 });
    expect(calls).toHaveLength(2);
    // a key named __proto__ stays a key of the merged call
    const proto = JSON.parse('{"__proto__":1}') as Record<string, unknown>;
    const merged = [merger.submit({ amp: 7 }), merger.submit(proto)];
    await Promise.all(merged);
    expect(Object.keys(calls.at(-1) ?? {})).toEqual(["amp", "__proto__"]);
    await queue.close();
  });

  it("counts every write merged into a call as sent once the call leaves", async () => {
    // a stop before the answer says "sent; not confirmed" only of writes whose request left
    const queue = new UpstreamQueue("merge-trail", 100);
    const merger = new WriteMerger<Record<string, unknown>, string>((take) =>
      queue.run(async () => {
        take();
        markSent();
        return "done";
      }, Priority.write),
    );
    const blocker = queue.run(() => new Promise((resolve) => setTimeout(resolve, 50)));
    const trails: RequestTrail[] = [{ sent: false }, { sent: false }, { sent: false }];
    const writes = trails.map((trail, index) =>
      withRequestTrail(trail, () => merger.submit({ amp: 10 + index })),
    );
    expect(trails.map((trail) => trail.sent)).toEqual([false, false, false]);
    await blocker;
    await Promise.all(writes);
    expect(trails.map((trail) => trail.sent)).toEqual([true, true, true]);
    await queue.close();
  });
});

describe("poller", () => {
  it("backs off after failures and recovers at the normal interval", async () => {
    const times: number[] = [];
    let fail = true;
    const poller = new Poller({
      intervalMs: 40,
      maxBackoffMs: 160,
      poll: async () => {
        times.push(performance.now());
        if (fail) throw new Error("down");
      },
    });
    poller.start();
    await new Promise((resolve) => setTimeout(resolve, 700));
    const failing = times.length;
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    // 40, 80, 160, 160 …: the gaps grow and stop at the cap
    expect(gaps[1]!).toBeGreaterThan(gaps[0]! * 1.5);
    expect(Math.max(...gaps)).toBeLessThan(160 + 60);
    fail = false;
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(times.length - failing).toBeGreaterThanOrEqual(4);
    expect(poller.consecutiveFailures).toBe(0);
    await poller.stop();
  });
});

describe("secret scrubbing", () => {
  afterEach(() => clearSecrets());

  it("removes secrets in plain, URL-encoded and JSON-escaped form", () => {
    addSecret('p@ss "word"/1');
    expect(scrub('login p@ss "word"/1 ok')).toBe("login *** ok");
    expect(scrub(`?password=${encodeURIComponent('p@ss "word"/1')}`)).toBe("?password=***");
    expect(scrub(JSON.stringify({ password: 'p@ss "word"/1' }))).toBe('{"password":"***"}');
    expect(scrub("nothing here")).toBe("nothing here");
  });
});

describe("network errors say the likely cause and the next step (issue 11 item 9)", () => {
  it("a refused connection, as a user meets it", async () => {
    const error = await httpRequest("http://127.0.0.1:9/api/status", { timeoutMs: 2000 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).message).toBe(
      "GET 127.0.0.1:9/api/status: connection refused: the host is up but nothing listens on that port; check the url's port and that the service runs there",
    );
  });

  it("every kind names what to check, never a bare code", () => {
    for (const code of [
      "ENOTFOUND",
      "EAI_AGAIN",
      "EHOSTUNREACH",
      "ENETUNREACH",
      "ETIMEDOUT",
      "ECONNRESET",
      "CERT_HAS_EXPIRED",
      "ERR_SSL_WRONG_VERSION_NUMBER",
    ]) {
      const message = networkFailure("GET host/x", code, `raw ${code}`).message;
      expect(message, code).not.toContain(code);
      expect(message, code).toMatch(/check|retrying|renew|write|use|fix/);
    }
    // an unknown code keeps its code, and still says where to look
    expect(networkFailure("GET host/x", "EWHATEVER", "odd failure").message).toBe(
      "GET host/x: odd failure (EWHATEVER); check the url and this machine's network",
    );
    expect(timeoutFailure("GET host/x", 1000).message).toContain(
      "no answer within 1s: the host is off, overloaded or unreachable",
    );
  });
});
