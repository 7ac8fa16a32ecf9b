import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadpointEntities } from "../../src/goe/entities.js";

// The Node-RED examples must import and work as they are: each file is a Node-RED export (an
// array of nodes), every wire and config reference resolves, only core nodes (and three
// node-red-dashboard widgets) are used, and every MQTT topic is one the bridge really
// publishes or listens to.

const DIR = join(import.meta.dirname, "../../examples/node-red");
const ROOT = "ev2mqtt";

interface FlowNode {
  id: string;
  type: string;
  z?: string;
  topic?: string;
  broker?: string;
  group?: string;
  tab?: string;
  retain?: string | boolean;
  qos?: string;
  wires?: string[][];
  [field: string]: unknown;
}

const CORE = new Set([
  "tab",
  "comment",
  "inject",
  "debug",
  "function",
  "change",
  "switch",
  "template",
  "mqtt in",
  "mqtt out",
  "mqtt-broker",
]);
const DASHBOARD = new Set(["ui_gauge", "ui_slider", "ui_button", "ui_group", "ui_tab"]);

// What the bridge publishes and accepts (SPEC §3 and §4; loadpoint keys from the entities the
// go-e loadpoint describes for discovery).
const entities = loadpointEntities(32);
const LOADPOINT_VALUES = new Set([...entities.map((e) => e.key), "title", "online", "error"]);
const LOADPOINT_WRITES = new Set([
  ...entities.filter((e) => ["number", "select", "switch", "button"].includes(e.kind)).map((e) => e.key),
  "phases", // SPEC: alias of phasesConfigured
]);
const VEHICLE_VALUES = new Set([
  "soc",
  "range",
  "odometer",
  "charging",
  "pluggedIn",
  "chargeState",
  "chargePower",
  "chargeCurrent",
  "chargeMode",
  "chargeLimitSoc",
  "locked",
  "latitude",
  "longitude",
  "moduleConnected",
  "messageAge",
  "online",
  "error",
]);
const VEHICLE_WRITES = new Set(["charging", "chargeCurrent", "chargeMode", "wakeup"]);

/** Whether the bridge publishes a topic (a value, or the answer to a write). */
function published(topic: string): boolean {
  const parts = topic.split("/");
  if (parts[0] !== ROOT) return false;
  if (parts.length === 2) return ["status", "updated", "loadpoints"].includes(parts[1]!);
  const result = parts.at(-1) === "result";
  const key = parts.slice(3, result ? -1 : undefined).join("/");
  if (parts[1] === "loadpoints" && /^[1-9]\d*$/.test(parts[2]!)) {
    return result ? LOADPOINT_WRITES.has(key) : LOADPOINT_VALUES.has(key);
  }
  if (parts[1] === "vehicles" && /^[a-zA-Z0-9_-]+$/.test(parts[2]!)) {
    return result ? VEHICLE_WRITES.has(key) : VEHICLE_VALUES.has(key);
  }
  return false;
}

/** Whether the bridge acts on a publish to this topic. */
function listened(topic: string): boolean {
  const parts = topic.split("/");
  if (parts[0] !== ROOT || parts.at(-1) !== "set") return false;
  const key = parts.slice(3, -1).join("/");
  if (parts[1] === "loadpoints" && /^[1-9]\d*$/.test(parts[2]!)) return LOADPOINT_WRITES.has(key);
  if (parts[1] === "vehicles") return VEHICLE_WRITES.has(key);
  return false;
}

const files = readdirSync(DIR).filter((name) => name.endsWith(".json"));

describe("Node-RED example flows", () => {
  it("are there: charge power, max current, stopping a car's charge, and a dashboard", () => {
    expect(files.sort()).toEqual(
      ["charge-power.json", "dashboard.json", "max-current.json", "stop-vehicle-charge.json"].sort(),
    );
  });

  it("checks its own topic rules", () => {
    expect(published("ev2mqtt/loadpoints/1/chargePower")).toBe(true);
    expect(published("ev2mqtt/loadpoints/1/maxCurrent/result")).toBe(true);
    expect(published("ev2mqtt/loadpoints/1/chargePower/result")).toBe(false);
    expect(published("ev2mqtt/loadpoints/1/nope")).toBe(false);
    expect(listened("ev2mqtt/vehicles/car/charging/set")).toBe(true);
    expect(listened("ev2mqtt/loadpoints/1/chargePower/set")).toBe(false);
  });

  for (const file of files) {
    describe(file, () => {
      const nodes = JSON.parse(readFileSync(join(DIR, file), "utf8")) as FlowNode[];
      const byId = new Map(nodes.map((node) => [node.id, node]));

      it("is an array of nodes with unique ids and known types", () => {
        expect(Array.isArray(nodes)).toBe(true);
        expect(byId.size).toBe(nodes.length);
        for (const node of nodes) {
          expect(typeof node.id, JSON.stringify(node)).toBe("string");
          expect(node.id.length).toBeGreaterThan(0);
          const dashboard = DASHBOARD.has(node.type);
          expect(CORE.has(node.type) || dashboard, `${file}: node type ${node.type}`).toBe(true);
          if (dashboard) expect(file).toBe("dashboard.json");
        }
      });

      it("wires only to nodes that exist, and places every node on a tab of the file", () => {
        for (const node of nodes) {
          for (const output of node.wires ?? []) {
            for (const target of output) expect(byId.has(target), `${node.id} → ${target}`).toBe(true);
          }
          if (node.z !== undefined) expect(byId.get(node.z)?.type, `${node.id}.z`).toBe("tab");
          if (node.group !== undefined) expect(byId.get(node.group)?.type).toBe("ui_group");
          if (node.type === "ui_group") expect(byId.get(String(node.tab))?.type).toBe("ui_tab");
        }
      });

      it("talks to a broker on localhost:1883", () => {
        const mqttNodes = nodes.filter((node) => node.type === "mqtt in" || node.type === "mqtt out");
        expect(mqttNodes.length).toBeGreaterThan(0);
        for (const node of mqttNodes) {
          const broker = byId.get(String(node.broker));
          expect(broker?.type, `${node.id}.broker`).toBe("mqtt-broker");
          expect(broker?.broker).toBe("localhost");
          expect(String(broker?.port)).toBe("1883");
        }
      });

      it("subscribes only to topics the bridge publishes, and writes only where it listens, never retained", () => {
        for (const node of nodes) {
          if (node.type === "mqtt in") {
            expect(published(String(node.topic)), `${file}: mqtt in ${node.topic}`).toBe(true);
          }
          if (node.type === "mqtt out") {
            expect(listened(String(node.topic)), `${file}: mqtt out ${node.topic}`).toBe(true);
            // the bridge never acts on a retained /set: it is stale by definition
            expect([false, "false", ""]).toContain(node.retain);
          }
        }
      });
    });
  }

  it("cover the three examples the README promises", () => {
    const topics = files.flatMap((file) =>
      (JSON.parse(readFileSync(join(DIR, file), "utf8")) as FlowNode[]).map((node) => node.topic),
    );
    expect(topics).toContain("ev2mqtt/loadpoints/1/chargePower");
    expect(topics).toContain("ev2mqtt/loadpoints/1/maxCurrent/set");
    expect(topics).toContain("ev2mqtt/loadpoints/1/maxCurrent/result");
    expect(topics).toContain("ev2mqtt/vehicles/car/charging/set");
    const stop = JSON.parse(readFileSync(join(DIR, "stop-vehicle-charge.json"), "utf8")) as FlowNode[];
    const out = stop.find((node) => node.topic === "ev2mqtt/vehicles/car/charging/set")!;
    const feeders = stop.filter((node) => node.wires?.some((output) => output.includes(out.id)));
    expect(feeders.map((node) => node.payload)).toContain("false");
  });
});
