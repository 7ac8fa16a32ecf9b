import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";

// The v2 endpoint (the data path and commands) defaults to the REST host, as the OVMS apps use it.

function ovms(server: Record<string, unknown>) {
  const config = parseConfig({
    mqtt: { url: "mqtt://127.0.0.1" },
    ovms: [{ username: "u", password: "p", vehicles: [{ id: "DEMO" }], ...server }],
  });
  return config.ovms[0]!;
}

describe("OVMS configuration", () => {
  it("derives the v2 endpoint from the REST URL, takes one given, and none with false", () => {
    expect(ovms({ url: "https://ovms.example.org:6869" }).commands).toBe("tls://ovms.example.org:6870");
    expect(ovms({ url: "http://10.0.0.5:6868" }).commands).toBe("tcp://10.0.0.5:6867");
    expect(ovms({ url: "https://x:6869", commands: "tcp://y:7000" }).commands).toBe("tcp://y:7000");
    expect(ovms({ url: "https://x:6869", commands: false }).commands).toBeUndefined();
    expect(ovms({ url: "https://x:6869" }).restInterval).toBe(15 * 60_000);
  });

  it("says what to write for a wrong endpoint", () => {
    expect(() => ovms({ url: "https://x:6869", commands: "x:6870" })).toThrow(
      /ovms\[0\]\.commands: must be tcp:\/\/x:6867 or tls:\/\/x:6870/,
    );
  });
});
