import { currentTrail, type RequestTrail, rideOn } from "../util/request-trail.js";

/**
 * Collects writes to one device that wait together into one upstream call: while a batch is
 * waiting in the queue, later writes merge into it (the last value of a key wins) and share
 * its outcome. Once the batch starts, the next write opens a new one.
 */
export class WriteMerger<Params extends Record<string, unknown>, Outcome> {
  private pending: { params: Params; promise: Promise<Outcome>; trail: RequestTrail | undefined } | undefined;

  constructor(private readonly schedule: (take: () => Params) => Promise<Outcome>) {}

  submit(params: Params): Promise<Outcome> {
    if (this.pending) {
      // the batch's request goes out in its first write's trail (util/request-trail.ts)
      rideOn(this.pending.trail);
      // defined, not assigned: a key named __proto__ must stay a key, not change the prototype
      for (const [key, value] of Object.entries(params)) {
        Object.defineProperty(this.pending.params, key, {
          value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return this.pending.promise;
    }
    const batch = {
      params: { ...params },
      promise: undefined as unknown as Promise<Outcome>,
      trail: currentTrail(),
    };
    this.pending = batch;
    batch.promise = this.schedule(() => {
      // the batch leaves the merge window the moment its call starts
      if (this.pending === batch) this.pending = undefined;
      return batch.params;
    });
    return batch.promise;
  }
}
