import { formatOvmsHours, ovmsHours } from "./ovms.js";

// Sections of docs/benchmarks.md that a part of the bridge measures in a file of its own (OVMS
// per car and hour: ovms.ts). Add an entry here; run.ts measures each once, after the go-e
// parts, and report.ts prints its lines under its title. A section that fails says so in its
// place and the rest of the run goes on.

export interface BenchSection {
  /** The heading in docs/benchmarks.md. */
  title: string;
  /** Measures, and returns the section's Markdown lines (without the heading). */
  measure(): Promise<string[]>;
}

export const extraSections: BenchSection[] = [
  { title: "7. OVMS per car and hour", measure: () => ovmsHours().then(formatOvmsHours) },
];
