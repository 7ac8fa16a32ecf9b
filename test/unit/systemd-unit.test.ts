import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// The README calls the unit hardened; systemd's own analyzer is the judge. It scores exposure
// from 0 (locked down) to 10; "OK" ends at 2. A bare unit scores 9.6.
const UNIT = join(import.meta.dirname, "../../systemd/ev2mqtt.service");
const ANALYZE = "/usr/bin/systemd-analyze";

function analyze(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(ANALYZE, args, (error, stdout, stderr) => {
      const code = error ? Number((error as { code?: number }).code ?? 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

describe.skipIf(!existsSync(ANALYZE))("systemd unit", () => {
  it("passes systemd-analyze verify", async () => {
    const { code, output } = await analyze(["verify", "--man=no", UNIT]);
    expect(output).toBe("");
    expect(code).toBe(0);
  });

  it("rates as OK (exposure at most 2.0) in systemd-analyze security", async () => {
    const { code, output } = await analyze(["security", "--offline=true", "--threshold=20", UNIT]);
    expect(output).toMatch(/Overall exposure level for ev2mqtt\.service: (?:[01]\.\d|2\.0) /);
    expect(code).toBe(0);
  });
});
