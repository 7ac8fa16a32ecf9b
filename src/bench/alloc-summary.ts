import { readFileSync } from "node:fs";

// Reads a sampling heap profile (alloc-profile.ts) and says where the allocation went: by the
// code that allocated (a package, a part of Node, or a file of the bridge) and by the bridge's
// own function that led to it (the nearest frame of ev2mqtt's code on the stack).

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  callFrame: CallFrame;
  selfSize: number;
  children: ProfileNode[];
}

export interface AllocationShare {
  what: string;
  bytes: number;
}

export interface AllocationSummary {
  totalBytes: number;
  /** Where the allocating code lives, largest first. */
  bySite: AllocationShare[];
  /** The bridge's own function responsible, largest first. */
  byCause: AllocationShare[];
}

/** `undici`, `node:timers`, `goe/api.js`; undefined for V8 builtins (no URL). */
function place(url: string): string | undefined {
  if (!url) return undefined;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];
  if (pkg) return pkg;
  if (url.startsWith("node:")) {
    const name = url.slice(5).replace(/^internal\//, "");
    return `node:${name.split("/")[0]}`;
  }
  const own = /\/dist\/(.+\.js)$/.exec(url)?.[1];
  return own ?? url.split("/").slice(-1)[0];
}

function ownFrame(frame: CallFrame): string | undefined {
  if (frame.url.includes("/node_modules/")) return undefined;
  const own = /\/dist\/(.+\.js)$/.exec(frame.url)?.[1];
  if (!own || own.startsWith("bench/")) return undefined;
  return `${own} ${frame.functionName || "(anonymous)"}`;
}

function sorted(map: Map<string, number>): AllocationShare[] {
  return [...map.entries()].map(([what, bytes]) => ({ what, bytes })).sort((a, b) => b.bytes - a.bytes);
}

export function summariseAllocations(file: string): AllocationSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as { head: ProfileNode };
  const bySite = new Map<string, number>();
  const byCause = new Map<string, number>();
  let totalBytes = 0;
  const walk = (node: ProfileNode, site: string | undefined, cause: string | undefined) => {
    const here = place(node.callFrame.url);
    // a builtin (JSON.parse, Array.prototype.map) counts for the code that called it
    const nextSite = here ?? site;
    const nextCause = ownFrame(node.callFrame) ?? cause;
    if (node.selfSize > 0) {
      totalBytes += node.selfSize;
      const name = here ? nextSite! : `${node.callFrame.functionName || "(builtin)"} in ${site ?? "?"}`;
      bySite.set(name, (bySite.get(name) ?? 0) + node.selfSize);
      const blame = nextCause ?? "(outside the bridge's code: timers, sockets, GC)";
      byCause.set(blame, (byCause.get(blame) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child, nextSite, nextCause);
  };
  walk(profile.head, undefined, undefined);
  return { totalBytes, bySite: sorted(bySite), byCause: sorted(byCause) };
}
