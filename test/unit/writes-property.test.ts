import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { Daemon } from "../../src/daemon.js";
import { GoeSimulator } from "../../src/goe/simulator/server.js";
import { silentLogger } from "../../src/util/log.js";
import { MqttWatch } from "../helpers/mqtt-watch.js";
import { freePort } from "../helpers/ports.js";
import { waitFor } from "../helpers/recording-sink.js";

// Random writes to the /set topics of a running daemon (embedded broker, go-e simulator):
// every one is answered on /result, and only the valid ones reach the charger, each exactly
// once with exactly the parameters it stands for. Validity is decided here by an oracle
// written from the contract (SPEC §4), not by the product's own validation.
//
// A valid write holds its charger for about a second (the go-e queue spaces requests 1 s
// apart, and the write is read back). To keep the run short, a write that is not aimed at a
// missing loadpoint goes to a charger with no write under way, and the valid ones are checked
// while the next writes go on.

const ROOT = "ev2mqtt";
const AMA = [32, 16, 32, 20, 32, 32];
const SERIALS = AMA.map((_, index) => String(600001 + index));
const RUNS = 200;

type Params = Record<string, unknown>;

interface Write {
  /** "free": a charger with nothing under way; a number: that loadpoint, which does not exist. */
  target: "free" | number;
  key: string;
  payload: string;
}

const DENIED = ["cak", "cae", "cwe", "rst", "oct", "ama", "wifis", "alw", "upo", "nmo", "la1", "c0i"];
/** The writable go-e keys this oracle knows, with the rule the charger applies. */
const RAW_KEYS: Record<string, (value: unknown, ama: number) => boolean> = {
  amp: (value, ama) => Number.isInteger(value) && (value as number) >= 6 && (value as number) <= ama,
  frc: (value) => value === 0 || value === 1 || value === 2,
  psm: (value) => value === 0 || value === 1 || value === 2,
  lmo: (value) => value === 3 || value === 4 || value === 5,
  acs: (value) => value === 0 || value === 1 || value === 2,
  fup: (value) => value === true || value === false,
  trx: (value) =>
    value === null || (Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 10),
};
/** Writable keys with rules this oracle does not model: never generated. */
const UNMODELLED = new Set(["tcl", "dwo", "fna", "ids"]);

/** What a write must send to the charger, or undefined if it must be refused. */
function oracle(write: Write, ama: number): Params | undefined {
  if (write.target !== "free") return undefined;
  const payload = write.payload.trim();
  if (payload.length > 1024) return undefined;
  switch (write.key) {
    case "maxCurrent": {
      const amps = Number(payload);
      return /^\d+(\.0+)?$/.test(payload) && amps >= 6 && amps <= ama ? { amp: amps } : undefined;
    }
    case "mode": {
      const modes: Record<string, Params> = {
        off: { frc: 1 },
        now: { frc: 2 },
        pv: { frc: 0, lmo: 4, fup: true, acp: true },
      };
      return modes[payload.toLowerCase()];
    }
    case "phases":
    case "phasesConfigured": {
      const psm: Record<string, number> = { "0": 0, "1": 1, "3": 2 };
      return psm[payload] === undefined ? undefined : { psm: psm[payload] };
    }
  }
  const raw = /^goe\/(.+)$/.exec(write.key)?.[1];
  const rule = raw === undefined ? undefined : RAW_KEYS[raw];
  if (raw === undefined || !rule) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return undefined; // a bare word would be a string: no modelled key takes one
  }
  return rule(value, ama) ? { [raw]: value } : undefined;
}

const keyArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("maxCurrent", "mode", "phasesConfigured", "phases") },
  { weight: 3, arbitrary: fc.constantFrom(...Object.keys(RAW_KEYS)).map((key) => `goe/${key}`) },
  { weight: 2, arbitrary: fc.constantFrom(...DENIED).map((key) => `goe/${key}`) },
  {
    weight: 1,
    arbitrary: fc
      .stringMatching(/^[a-z][a-z0-9_]{0,5}$/)
      .filter((key) => !UNMODELLED.has(key))
      .map((key) => `goe/${key}`),
  },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-zA-Z]{1,12}$/) },
);

/** Payloads near the valid ones for a key: the boundaries are where validation goes wrong. */
function plausible(key: string): fc.Arbitrary<string> {
  switch (key) {
    case "maxCurrent":
    case "goe/amp":
      return fc.oneof(
        fc.integer({ min: 0, max: 40 }).map(String),
        fc.constantFrom("16.0", "1e1", "06", "-6"),
      );
    case "mode":
      return fc.constantFrom("off", "now", "pv", "OFF", "Pv", "auto", "minpv", "1");
    case "phases":
    case "phasesConfigured":
      return fc.integer({ min: -1, max: 4 }).map(String);
    case "goe/fup":
      return fc.constantFrom("true", "false", "0", "1", "True", "null");
    case "goe/trx":
      return fc.oneof(fc.integer({ min: -1, max: 11 }).map(String), fc.constant("null"));
    default:
      return fc.oneof(fc.integer({ min: -1, max: 6 }).map(String), fc.constantFrom("true", "false", "null"));
  }
}

const randomPayload = fc.oneof(
  fc.constantFrom("16.0", '"16"', "{}", "[]", "16 A", " 16 ", "0x10", "-0", "NaN", "Infinity", "true"),
  fc.string({ minLength: 1, maxLength: 24 }),
  fc.json({ maxDepth: 2 }),
  fc.double({ noNaN: true }).map(String),
  fc.string({ minLength: 1025, maxLength: 1100 }),
);

const writeArb: fc.Arbitrary<Write> = fc
  .record({
    target: fc.oneof(
      { weight: 12, arbitrary: fc.constant("free" as const) },
      { weight: 1, arbitrary: fc.constantFrom(0, AMA.length + 1, 99) },
    ),
    key: keyArb,
  })
  .chain(({ target, key }) =>
    fc
      .oneof({ weight: 3, arbitrary: plausible(key) }, { weight: 2, arbitrary: randomPayload })
      // an empty payload is the bridge's own clearing of a /set coming back: it is not a write
      .filter((payload) => payload.trim() !== "")
      .map((payload) => ({ target, key, payload })),
  );

let sim: GoeSimulator;
let daemon: Daemon;
let watch: MqttWatch;

beforeAll(async () => {
  sim = new GoeSimulator({
    chargers: SERIALS.map((serial, index) => ({ serial, mode: "local" as const, ama: AMA[index] })),
  });
  await sim.start();
  const port = await freePort();
  daemon = new Daemon(
    parseConfig({
      mqtt: { listen: `127.0.0.1:${port}`, topic: ROOT },
      homeassistant: { discovery: false },
      // polls only at start and to read writes back: the writes decide the pace
      goe: SERIALS.map((serial, index) => ({
        serial,
        loadpoint: index + 1,
        url: sim.chargerUrl(serial),
        interval: "1h",
        timeout: "2s",
      })),
    }),
    silentLogger(),
  );
  await daemon.start();
  watch = await MqttWatch.connect(`mqtt://127.0.0.1:${port}`, `${ROOT}/#`);
  await waitFor(
    () => SERIALS.every((_, index) => watch.value(`${ROOT}/loadpoints/${index + 1}/online`) === "true"),
    10_000,
    "every charger polled once",
  );
});

afterAll(async () => {
  await watch?.close();
  await daemon?.stop();
  await sim?.stop();
});

interface Answer {
  ok: boolean;
  value?: unknown;
  error?: string;
}

/** Publishes a write and resolves with the next answer on its /result topic. */
function send(loadpoint: number, write: Write, timeoutMs: number): Promise<Answer> {
  const topic = `${ROOT}/loadpoints/${loadpoint}/${write.key}`;
  const client = watch.mqtt;
  return new Promise<Answer>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off("message", onMessage);
      reject(new Error(`no answer on ${topic}/result within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (received: string, payload: Buffer) => {
      if (received !== `${topic}/result`) return;
      clearTimeout(timer);
      client.off("message", onMessage);
      resolve(JSON.parse(payload.toString()) as Answer);
    };
    client.on("message", onMessage);
    client.publish(`${topic}/set`, write.payload, { qos: 1 });
  });
}

describe("random writes (property)", () => {
  it(`answers all of ${RUNS} random writes and lets only the valid ones through, each once`, async () => {
    const busy = new Map<number, Promise<void>>();
    const failures: string[] = [];
    let valid = 0;

    /** A loadpoint with no write under way (waiting for one to finish if all are busy). */
    async function freeLoadpoint(): Promise<number> {
      for (;;) {
        for (let loadpoint = 1; loadpoint <= SERIALS.length; loadpoint++) {
          if (!busy.has(loadpoint)) return loadpoint;
        }
        await Promise.race(busy.values());
      }
    }

    await fc.assert(
      fc.asyncProperty(writeArb, async (write) => {
        if (write.target !== "free") {
          const answer = await send(write.target, write, 3000);
          expect(answer.ok).toBe(false);
          expect(answer.error).toMatch(/no device|too long/);
          return;
        }
        const loadpoint = await freeLoadpoint();
        const serial = SERIALS[loadpoint - 1]!;
        const before = SERIALS.map((other) => sim.setCalls(other).length);
        const expected = oracle(write, AMA[loadpoint - 1]!);
        if (!expected) {
          const answer = await send(loadpoint, write, 3000);
          expect(answer.ok, JSON.stringify(answer)).toBe(false);
          expect(answer.error).toBeTruthy();
          expect(sim.setCalls(serial).length).toBe(before[loadpoint - 1]);
          return;
        }
        // valid: checked while the next writes go to other chargers
        valid += 1;
        const check = (async () => {
          try {
            const answer = await send(loadpoint, write, 8000);
            const calls = sim.setCalls(serial);
            if (!answer.ok) failures.push(`${JSON.stringify(write)} → refused: ${answer.error}`);
            else if (calls.length !== before[loadpoint - 1]! + 1) {
              failures.push(`${JSON.stringify(write)} → ${calls.length - before[loadpoint - 1]!} set calls`);
            } else {
              // what goes over the wire: JSON, so -0 arrives as 0
              expect(calls.at(-1), JSON.stringify(write)).toEqual(JSON.parse(JSON.stringify(expected)));
            }
          } catch (error) {
            failures.push(`${JSON.stringify(write)} → ${(error as Error).message}`);
          } finally {
            busy.delete(loadpoint);
          }
        })();
        busy.set(loadpoint, check);
      }),
      { numRuns: RUNS },
    );
    await Promise.all(busy.values());
    expect(failures).toEqual([]);

    // nothing else reached any charger: exactly one /api/set per valid write
    const total = SERIALS.reduce((sum, serial) => sum + sim.setCalls(serial).length, 0);
    expect(total).toBe(valid);
    expect(valid).toBeGreaterThan(10);
  }, 55_000);
});
