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
}

const trails = new AsyncLocalStorage<RequestTrail>();

/** Runs `work` (and everything it starts) inside `trail`. */
export function withRequestTrail<T>(trail: RequestTrail, work: () => Promise<T>): Promise<T> {
  return trails.run(trail, work);
}

/** A request that changes something is leaving now (no-op outside a write). */
export function markSent(): void {
  const trail = trails.getStore();
  if (trail) trail.sent = true;
}

/**
 * `task`, to run inside the trail current now, when there is one. Queued tasks outside a write
 * (every poll) run as they are: binding each to its async context costs an AsyncResource per poll.
 */
export function inCurrentTrail<T>(task: () => Promise<T>): () => Promise<T> {
  const trail = trails.getStore();
  return trail ? () => trails.run(trail, task) : task;
}
