import { EventEmitter } from "node:events";
import fc from "fast-check";
import type { IClientPublishOptions, IPublishPacket } from "mqtt";
import { describe, expect, it } from "vitest";
import { encodeSetQuery } from "../../src/goe/api.js";
import { planWrite as planGoeWrite } from "../../src/goe/writes.js";
import type { MessageHandler, MqttConnection } from "../../src/mqtt/connection.js";
import { Publisher } from "../../src/mqtt/publisher.js";
import { WriteRouter } from "../../src/mqtt/writes.js";
import { COMMAND, planWrite as planOvmsWrite, type WriteOptions } from "../../src/ovms/writes.js";
import type { Device, WriteResult } from "../../src/source.js";
import { silentLogger } from "../../src/util/log.js";
import { topicMatches } from "../../src/util/topic.js";

// Property-based fuzzing of every write path with the names a plain object inherits
// (`constructor`, `__proto__`, `hasOwnProperty`, …) mixed into keys, payloads and topic
// levels: the lookups that used `key in TABLE` or `TABLE[key]` found those names, called
// inherited methods, and sent `psm=undefined`, an empty /api/set or `C10,function Object()`
// (issue 13.1, 13.4). The run counts are large enough that every name is drawn; the first
// test checks that the arbitrary really does.

const PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype);
const RUNS = 1500;

/** A name from Object.prototype, or something near the real names, or anything. */
const name = (known: string[]) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...PROTOTYPE_NAMES) },
    { weight: 2, arbitrary: fc.constantFrom(...known) },
    { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
  );

/** Payloads: the same names, numbers past the double range, JSON of all shapes, blanks. */
const payload = fc.oneof(
  fc.constantFrom(...PROTOTYPE_NAMES),
  fc.constantFrom("1e400", "-1e400", '{"pGrid":1e999}', "[1e400]", "NaN", "Infinity", " ", "\u2028"),
  fc.constantFrom('{"__proto__":1}', '{"constructor":{}}', '{"pGrid":1,"toString":2}'),
  fc.integer({ min: -5, max: 40 }).map(String),
  fc.json({ maxDepth: 2 }),
  fc.string({ maxLength: 16 }),
);

/** Whether a value survives JSON as it is: no Infinity or NaN (sent as null), no function. */
function plainJson(value: unknown): boolean {
  try {
    return JSON.stringify(JSON.parse(JSON.stringify(value))) === JSON.stringify(value) && allFinite(value);
  } catch {
    return false;
  }
}
function allFinite(value: unknown): boolean {
  if (typeof value === "number") return Number.isFinite(value);
  if (typeof value === "function") return false;
  if (value !== null && typeof value === "object") return Object.values(value).every(allFinite);
  return true;
}

describe("write paths under inherited names (property)", () => {
  it("draws every Object.prototype name within the run count", () => {
    const drawn = new Set(fc.sample(name(["mode"]), RUNS));
    expect(PROTOTYPE_NAMES.filter((n) => !drawn.has(n))).toEqual([]);
  });

  it("go-e: a write is refused in words, or becomes own, finite parameters of known keys", () => {
    const extra = new Set(["bac"]);
    const known = ["amp", "frc", "psm", "lmo", "fup", "acs", "trx", "tcl", "dwo", "fna", "ids", "bac", "acp"];
    const settings = ["mode", "maxCurrent", "phases", "phasesConfigured"];
    const key = fc.oneof(
      name(settings),
      name(known).map((k) => `goe/${k}`),
    );
    fc.assert(
      fc.property(key, payload, (writeKey, text) => {
        const plan = planGoeWrite(writeKey, text, { ama: 16, amp: 10 }, extra);
        if ("error" in plan) {
          expect(plan.error).toMatch(/\w/);
          expect(plan.error).not.toMatch(/\[object|function |undefined/);
          return;
        }
        const keys = Object.keys(plan.params);
        expect(keys.length).toBeGreaterThan(0);
        expect(Object.getPrototypeOf(plan.params)).toBe(Object.prototype);
        for (const param of keys) expect(known).toContain(param);
        expect(plainJson(plan.params)).toBe(true);
        expect(encodeSetQuery(plan.params)).not.toMatch(/undefined|function/);
      }),
      { numRuns: RUNS },
    );
  });

  it("OVMS: a write is refused in words, or becomes a known command with plain parameters", () => {
    const options: WriteOptions = { configPath: "ovms[0]", commandsEnabled: true, pin: "4711", shell: true };
    const known = ["charging", "chargeCurrent", "chargeMode", "wakeup", "locked", "command"];
    const codes = new Set<number>(Object.values(COMMAND));
    fc.assert(
      fc.property(
        name(known),
        fc.oneof(payload, name(["range", "standard", "storage", "performance"])),
        (key, text) => {
          const plan = planOvmsWrite(key, text, options);
          if (!plan.ok) {
            expect(plan.error).not.toMatch(/\[object|function |undefined/);
            return;
          }
          expect(codes.has(plan.command.code)).toBe(true);
          if (plan.command.code === COMMAND.shell) return; // a shell command is the text itself
          for (const param of plan.command.params)
            expect(param).not.toMatch(/function |\[object|undefined|NaN/);
          if (plan.command.code === COMMAND.chargeMode)
            expect(["0", "1", "3", "4"]).toContain(plan.command.params[0]);
          if (plan.command.code === COMMAND.chargeCurrent)
            expect(Number(plan.command.params[0])).toBeLessThanOrEqual(32);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("router: every /set at any depth, with any level, is answered once on its /result, and only devices write", async () => {
    const connection = new FakeConnection();
    const publisher = new Publisher(connection as unknown as MqttConnection, "ev2mqtt", silentLogger());
    const writes: Array<{ device: string; key: string; payload: string }> = [];
    const devices = new Map<string, Device>(
      ["loadpoints/1", "vehicles/car"].map((topic) => [
        topic,
        {
          describe: () => ({
            id: topic,
            topic,
            kind: "loadpoint",
            name: topic,
            manufacturer: "",
            model: "",
            entities: [],
          }),
          write: async (key: string, text: string): Promise<WriteResult> => {
            writes.push({ device: topic, key, payload: text });
            return { ok: false, error: "test device" };
          },
        },
      ]),
    );
    const router = new WriteRouter(
      connection as unknown as MqttConnection,
      publisher,
      (valueTopic) => {
        const parts = valueTopic.split("/");
        for (let length = parts.length - 1; length >= 1; length--) {
          const device = devices.get(parts.slice(0, length).join("/"));
          if (device) return { device, key: parts.slice(length).join("/") };
        }
        return undefined;
      },
      silentLogger(),
      ["homeassistant"],
    );
    router.start();
    const level = name(["loadpoints", "1", "vehicles", "car", "mode", "goe", "set", "result"]).filter(
      (text) => text !== "" && !/[+#/\0]/.test(text),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(level, { minLength: 0, maxLength: 14 }), payload, async (levels, text) => {
        connection.published.length = 0;
        writes.length = 0;
        const valueTopic = levels.join("/");
        const topic = valueTopic === "" ? "ev2mqtt/set" : `ev2mqtt/${valueTopic}/set`;
        connection.deliver(topic, text);
        await new Promise((resolve) => setImmediate(resolve));
        const answers = connection.published.filter((m) => m.topic.endsWith("/result"));
        if (text === "") {
          expect(answers).toEqual([]);
          return;
        }
        expect(answers.map((m) => m.topic)).toEqual([
          `ev2mqtt/${valueTopic === "" ? "" : `${valueTopic}/`}result`,
        ]);
        expect((JSON.parse(answers[0]?.payload ?? "{}") as WriteResult).ok).toBe(false);
        // a device writes only what names one of its keys, and never a blank payload
        for (const write of writes) {
          expect(devices.has(write.device)).toBe(true);
          expect(write.payload.trim()).not.toBe("");
          expect(`${write.device}/${write.key}`).toBe(valueTopic);
        }
      }),
      { numRuns: RUNS },
    );
    await router.stop(10);
  });
});

/** Stands in for the MQTT connection: records publishes and routes deliveries by filter. */
class FakeConnection extends EventEmitter {
  connected = true;
  readonly published: Array<{ topic: string; payload: string }> = [];
  private readonly handlers: Array<{ filter: string; handler: MessageHandler }> = [];

  subscribe(filter: string, handler: MessageHandler): void {
    this.handlers.push({ filter, handler });
  }

  publish(topic: string, text: string, _options: IClientPublishOptions): Promise<void> {
    this.published.push({ topic, payload: text });
    return Promise.resolve();
  }

  deliver(topic: string, text: string): void {
    const packet = {
      cmd: "publish",
      topic,
      payload: text,
      retain: false,
      qos: 1,
      dup: false,
    } as IPublishPacket;
    const matching = this.handlers.filter(({ filter }) => topicMatches(filter, topic));
    // the filters must not overlap: one message, one answer
    expect(matching.length).toBe(1);
    for (const { handler } of matching) handler(topic, Buffer.from(text), packet);
  }
}
