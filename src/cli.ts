#!/usr/bin/env node
// The entry point sets V8's memory rules (memory.ts) and only then loads the bridge. A static
// import of everything else would be too late for them: ESM loads, parses and links a module's
// whole import graph before the first line of any module runs, and at that point the start-up
// had already grown the young generation to 8 MB, which stayed resident for the process's life.
import "./memory.js";

await import("./main.js");
