import { describe, expect, it } from "vitest";
import { CarCommands } from "../../src/ovms/car-commands.js";
import type { CommandOutcome } from "../../src/ovms/command.js";
import { markSent, type RequestTrail, withRequestTrail } from "../../src/util/request-trail.js";

/** A car that answers each command when the test lets it, recording the order they came in. */
function car() {
  const sent: string[] = [];
  let running = 0;
  let most = 0;
  const releases: Array<() => void> = [];
  const send = (line: string) => async (): Promise<CommandOutcome> => {
    sent.push(line);
    running += 1;
    most = Math.max(most, running);
    await new Promise<void>((resolve) => releases.push(resolve));
    running -= 1;
    return { result: { ok: true, value: line }, what: line };
  };
  const releaseAll = async () => {
    while (releases.length > 0 || running > 0) {
      releases.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { sent, send, releaseAll, most: () => most };
}

describe("a car's command line", () => {
  it("sends one command at a time; a waiting write is superseded or shares the later one's answer", async () => {
    const line = new CarCommands();
    const { sent, send, releaseAll, most } = car();
    const first = line.submit("chargeCurrent", 10, send("C15,10"));
    await new Promise((resolve) => setImmediate(resolve)); // the first is on its way to the car
    const waiting = line.submit("chargeCurrent", 11, send("C15,11"));
    const later = line.submit("chargeCurrent", 12, send("C15,12"));
    const same = line.submit("chargeCurrent", 12, send("C15,12 again"));
    const wake = [line.submit("wakeup", true, send("C18")), line.submit("wakeup", true, send("C18 again"))];
    const shells = [
      line.submit("command", "stat", send("C7,stat")),
      line.submit("command", "stat", send("C7,stat")),
    ];
    expect((await waiting).result).toEqual({
      ok: false,
      error: "superseded by 12 (a later write of chargeCurrent)",
    });
    await releaseAll();
    expect((await first).result).toEqual({ ok: true, value: "C15,10" });
    expect((await later).result).toEqual({ ok: true, value: "C15,12" });
    expect((await same).result).toEqual((await later).result);
    expect((await Promise.all(wake)).map((outcome) => outcome.result)).toEqual([
      { ok: true, value: "C18" },
      { ok: true, value: "C18" },
    ]);
    // the same shell command twice is sent twice: a command line is no setting to merge
    expect((await Promise.all(shells)).map((outcome) => outcome.result)).toEqual([
      { ok: true, value: "C7,stat" },
      { ok: true, value: "C7,stat" },
    ]);
    expect(sent).toEqual(["C15,10", "C15,12", "C18", "C7,stat", "C7,stat"]);
    expect(most()).toBe(1);
  });

  it("answers a write whose send throws, and goes on with the next", async () => {
    const line = new CarCommands();
    const failing = line.submit("charging", true, async () => {
      throw new Error("link gone");
    });
    const next = line.submit("chargeMode", "range", async () => ({ result: { ok: true, value: "range" } }));
    expect((await failing).result).toEqual({ ok: false, error: "the command failed: link gone" });
    expect((await next).result).toEqual({ ok: true, value: "range" });
  });

  it("counts a write that shares or takes over a waiting command as sent once the command leaves", async () => {
    const line = new CarCommands();
    const { send, releaseAll } = car();
    const sending = (text: string) => {
      const inner = send(text);
      return () => {
        markSent();
        return inner();
      };
    };
    const busy = line.submit("chargeCurrent", 8, send("C15,8"));
    await new Promise((resolve) => setImmediate(resolve));
    const trails: RequestTrail[] = [{ sent: false }, { sent: false }, { sent: false }];
    const writes = [
      withRequestTrail(trails[0]!, () => line.submit("chargeCurrent", 10, sending("C15,10"))),
      // takes the place of the waiting 10, and goes out in that write's turn
      withRequestTrail(trails[1]!, () => line.submit("chargeCurrent", 12, sending("C15,12"))),
      // the same value: shares the answer of the command that goes out
      withRequestTrail(trails[2]!, () => line.submit("chargeCurrent", 12, sending("C15,12 again"))),
    ];
    expect(trails.map((trail) => trail.sent)).toEqual([false, false, false]);
    await releaseAll();
    await busy;
    await Promise.all(writes);
    expect(trails[1]!.sent && trails[2]!.sent).toBe(true);
  });
});
