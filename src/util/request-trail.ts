import { AsyncLocalStorage } from "node:async_hooks";

/**
 * Whether the request of a write has left the bridge, for the answer given when the bridge
 * stops before the write is confirmed: "sent; not confirmed" (the device may have applied it)
 * is not "not sent". The write router runs each write inside a trail; an upstream marks the
 * trail at the moment it sends a request that changes something (go-e `/api/set`, an OVMS
 * command). The upstream queues keep the trail of whoever queued a task.
 */
export interface RequestTrail {
  sent: boolean;
  /** Writes merged into this one's request: sent when it is. */
  riders?: RequestTrail[];
}

const trails = new AsyncLocalStorage<RequestTrail>();

/** Runs `work` (and everything it starts) inside `trail`. */
export function withRequestTrail<T>(trail: RequestTrail, work: () => Promise<T>): Promise<T> {
  return trails.run(trail, work);
}

/** A request that changes something is leaving now (no-op outside a write). */
export function markSent(): void {
  const trail = trails.getStore();
  if (!trail) return;
  trail.sent = true;
  for (const rider of trail.riders ?? []) rider.sent = true;
}

/** The trail of the write under way, to hand to rideOn() by a write merged into it later. */
export function currentTrail(): RequestTrail | undefined {
  return trails.getStore();
}

/**
 * The write under way goes out with the request of `carrier`'s write (merged into its batch,
 * or taking the place of a waiting command): it counts as sent when that request is.
 */
export function rideOn(carrier: RequestTrail | undefined): void {
  const own = trails.getStore();
  if (!carrier || !own || own === carrier) return;
  if (carrier.riders) carrier.riders.push(own);
  else carrier.riders = [own];
}

/**
 * `task`, to run inside the trail current now, when there is one. Queued tasks outside a write
 * (every poll) run as they are: binding each to its async context costs an AsyncResource per poll.
 */
export function inCurrentTrail<T>(task: () => Promise<T>): () => Promise<T> {
  const trail = trails.getStore();
  return trail ? () => trails.run(trail, task) : task;
}
