import { describe, expect, it } from "vitest";
import type { GoeApi, GoeSetOutcome } from "../../src/goe/api.js";
import { IdsSender } from "../../src/goe/surplus.js";
import { Priority, UpstreamQueue } from "../../src/upstream/queue.js";

// The charger's side of the surplus feed: one `ids` request per reading on an idle queue,
// readings that pile up behind a busy queue merged into the newest.

function fakeApi(
  sent: Array<Record<string, unknown>>,
  answer: GoeSetOutcome = { accepted: ["ids"], rejected: new Map() },
) {
  return {
    set: async (params: Record<string, unknown>) => {
      sent.push(params);
      return answer;
    },
  } as unknown as GoeApi;
}

describe("go-e ids sender", () => {
  it("sends every reading when the queue is idle", async () => {
    const sent: Array<Record<string, unknown>> = [];
    const queue = new UpstreamQueue("ids-idle", 0);
    const sender = new IdsSender(queue, fakeApi(sent));
    for (const grid of [-1000, -2000, -3000]) {
      expect(await sender.send({ grid, pv: 4000.4 })).toEqual({
        ok: true,
        value: JSON.stringify({ pGrid: grid, pPv: 4000 }),
      });
    }
    expect(sent).toEqual([-1000, -2000, -3000].map((pGrid) => ({ ids: { pGrid, pPv: 4000 } })));
    await queue.close();
  });

  it("merges readings that wait behind a busy queue into the newest", async () => {
    const sent: Array<Record<string, unknown>> = [];
    const queue = new UpstreamQueue("ids-busy", 0);
    const sender = new IdsSender(queue, fakeApi(sent));
    let release = () => {};
    const poll = queue.run(() => new Promise<void>((resolve) => (release = resolve)), Priority.poll);
    const answers = [
      sender.send({ grid: 1 }),
      sender.send({ grid: 2 }),
      sender.send({ grid: 3, battery: -500 }),
    ];
    release();
    await poll;
    await Promise.all(answers);
    expect(sent).toEqual([{ ids: { pGrid: 3, pAkku: -500 } }]);
    await queue.close();
  });

  it("answers the charger's refusal", async () => {
    const queue = new UpstreamQueue("ids-refused", 0);
    const sender = new IdsSender(
      queue,
      fakeApi([], { accepted: [], rejected: new Map([["ids", "unknown api key ids"]]) }),
    );
    expect(await sender.send({ grid: 0 })).toEqual({
      ok: false,
      error: "the charger refused ids: unknown api key ids",
    });
    await queue.close();
  });
});
