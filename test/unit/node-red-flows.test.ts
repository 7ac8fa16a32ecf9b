import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadpointEntities } from "../../src/goe/entities.js";

// The Node-RED examples must import and work as they are: each file is a Node-RED export (an
// array of nodes), every wire and config reference resolves, only core nodes (and Dashboard 2
// widgets in dashboard.json) are used, the topics live in one node per flow, and every topic
// the flows subscribe to or write is one the bridge really publishes or listens to. The flows'
// function nodes are run here on sample messages; `npm run test:clients` runs them in a real
// Node-RED.

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
// Dashboard 2 (@flowfuse/node-red-dashboard); the deprecated node-red-dashboard's ui_* are gone
const DASHBOARD = new Set([
  "ui-base",
  "ui-theme",
  "ui-page",
  "ui-group",
  "ui-gauge",
  "ui-slider",
  "ui-switch",
  "ui-text",
]);

// What the bridge publishes and accepts (SPEC §3 and §4; loadpoint keys from the entities the
// go-e loadpoint describes for discovery).
const entities = loadpointEntities(32);
// maxCurrentLimit: the charger's limit (ama), published for clients but no entity of its own
const LOADPOINT_VALUES = new Set([
  ...entities.map((e) => e.key),
  "maxCurrentLimit",
  "title",
  "online",
  "error",
]);
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

/** Runs a function node's code as Node-RED would, with a flow context. */
function run(node: FlowNode, msg: Record<string, unknown>, flow: Map<string, unknown>): unknown {
  const context = {
    get: (key: string) => flow.get(key),
    set: (key: string, value: unknown) => flow.set(key, value),
  };
  return new Function("msg", "flow", "node", String(node.func))(msg, context, {});
}

const files = readdirSync(DIR).filter((name) => name.endsWith(".json"));
const load = (file: string) => JSON.parse(readFileSync(join(DIR, file), "utf8")) as FlowNode[];

/** A flow's ★ topics node run once, as the deploy-time inject does: its flow context and subscriptions. */
function topicsOf(nodes: FlowNode[]): { flow: Map<string, unknown>; subscribe: string[] } {
  const star = nodes.find((node) => node.type === "function" && String(node.name).includes("★"));
  const flow = new Map<string, unknown>();
  const out = star ? (run(star, {}, flow) as { action?: string; topic?: string[] }) : {};
  expect(out.action).toBe("subscribe");
  return { flow, subscribe: out.topic ?? [] };
}

/** What a flow writes when its write function gets `payload`: [topic, payload]. */
function writeOf(nodes: FlowNode[], name: string, payload: unknown): [string, string] {
  const node = nodes.find((candidate) => candidate.type === "function" && candidate.name === name);
  expect(node, name).toBeDefined();
  const result = run(node as FlowNode, { payload }, topicsOf(nodes).flow);
  const write = (Array.isArray(result) ? result[0] : result) as { topic: string; payload: string };
  return [write.topic, write.payload];
}

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
      const nodes = load(file);
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

      it("wires only to nodes that exist, and places every node on a tab, page and base of the file", () => {
        for (const node of nodes) {
          for (const output of node.wires ?? []) {
            for (const target of output) expect(byId.has(target), `${node.id} → ${target}`).toBe(true);
          }
          if (node.z !== undefined) expect(byId.get(node.z)?.type, `${node.id}.z`).toBe("tab");
          if (node.group !== undefined) expect(byId.get(node.group)?.type).toBe("ui-group");
          if (node.type === "ui-group") expect(byId.get(String(node.page))?.type).toBe("ui-page");
          if (node.type === "ui-page") {
            expect(byId.get(String(node.ui))?.type).toBe("ui-base");
            expect(byId.get(String(node.theme))?.type).toBe("ui-theme");
          }
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

      it("keeps its topics in one node: the ★ node names the root, no MQTT node has a topic of its own", () => {
        const naming = nodes.filter(
          (node) => JSON.stringify(node).includes('\\"ev2mqtt\\"') || node.topic === ROOT,
        );
        expect(naming.map((node) => node.name)).toEqual(["★ ev2mqtt topics (edit here)"]);
        for (const node of nodes.filter((candidate) => candidate.type.startsWith("mqtt "))) {
          expect(node.topic, `${file}: ${node.type} ${node.name}`).toBe("");
        }
        // the subscribing node takes its topics from the ★ node (a dynamic subscription)
        expect(nodes.filter((node) => node.type === "mqtt in").map((node) => node.inputs)).toEqual([1]);
      });

      it("subscribes only to what the bridge publishes, and routes by keys the bridge publishes", () => {
        const { flow, subscribe } = topicsOf(nodes);
        for (const filter of subscribe) {
          const device = filter.replace(/\/#$/, "");
          expect(filter === "ev2mqtt/status" || published(`${device}/online`), filter).toBe(true);
        }
        const key = nodes.find((node) => node.name === "topic → key") as FlowNode;
        const router = nodes.find((node) => node.type === "switch" && node.property === "key") as FlowNode;
        const prefixes = flow.get("topics") as Record<"loadpoint" | "vehicle", string>;
        for (const rule of router.rules as Array<{ v: string }>) {
          const [device, ...rest] = rule.v.split("/");
          const topic =
            device === "bridge"
              ? `${ROOT}/${rest.join("/")}`
              : `${prefixes[device as "loadpoint" | "vehicle"]}/${rest.join("/")}`;
          expect(published(topic), `${file}: routes ${rule.v} (${topic})`).toBe(true);
          expect((run(key, { topic }, flow) as { key?: string })?.key).toBe(rule.v);
        }
        expect(run(key, { topic: "ev2mqtt/loadpoints/2/chargePower" }, flow)).toBeNull();
      });

      it("writes only where the bridge listens, plain values, never retained", () => {
        for (const node of nodes.filter((candidate) => candidate.type === "mqtt out")) {
          expect([false, "false", ""]).toContain(node.retain);
        }
        for (const node of nodes.filter((candidate) => /^to .*\/set$/.test(String(candidate.name)))) {
          const [topic, payload] = writeOf(
            nodes,
            String(node.name),
            node.name === "to charging/set" ? false : 10,
          );
          expect(listened(topic), `${file}: ${node.name} → ${topic}`).toBe(true);
          expect(typeof payload).toBe("string");
        }
      });
    });
  }

  it("each bring their own broker node (on a shared one, the second flow's subscriptions get no retained values)", () => {
    const brokers = files.flatMap((file) => load(file).filter((node) => node.type === "mqtt-broker"));
    expect(brokers).toHaveLength(files.length);
    expect(new Set(brokers.map((node) => node.id)).size).toBe(files.length);
  });

  it("cover the examples the README promises", () => {
    const power = load("charge-power.json");
    expect(
      ((power.find((node) => node.type === "switch")?.rules ?? []) as Array<{ v: string }>).map(
        (rule) => rule.v,
      ),
    ).toContain("loadpoint/chargePower");
    expect(writeOf(load("max-current.json"), "to maxCurrent/set", 10)).toEqual([
      "ev2mqtt/loadpoints/1/maxCurrent/set",
      "10",
    ]);
    const stop = load("stop-vehicle-charge.json");
    const stopInject = stop.find((node) => node.type === "inject" && node.name === "stop charging");
    expect(writeOf(stop, "to charging/set", stopInject?.payload)).toEqual([
      "ev2mqtt/vehicles/car/charging/set",
      "false",
    ]);
    const dashboard = load("dashboard.json");
    expect(dashboard.filter((node) => node.type === "ui-switch").map((node) => node.decouple)).toEqual([
      true,
    ]);
    expect(writeOf(dashboard, "to charging/set", false)).toEqual([
      "ev2mqtt/vehicles/car/charging/set",
      "false",
    ]);
    expect(writeOf(dashboard, "to maxCurrent/set", 12)).toEqual([
      "ev2mqtt/loadpoints/1/maxCurrent/set",
      "12",
    ]);
  });

  it("the dashboard scales the gauge from the charger's limit and phases, in kW, and the slider from the limit", () => {
    const dashboard = load("dashboard.json");
    const scale = dashboard.find((node) => node.name === "range from the limit") as FlowNode;
    const flow = new Map<string, unknown>();
    expect(run(scale, { key: "loadpoint/maxCurrentLimit", payload: 16 }, flow)).toEqual([
      { ui_update: { max: 11 } },
      { ui_update: { min: 6, max: 16 } },
    ]);
    expect(run(scale, { key: "loadpoint/phasesConfigured", payload: 1 }, flow)).toEqual([
      { ui_update: { max: 3.7 } },
      { ui_update: { min: 6, max: 16 } },
    ]);
    const gauge = dashboard.find((node) => node.type === "ui-gauge");
    expect(gauge?.units).toBe("kW");
  });

  it("the dashboard shows refusals in red and puts a refused control back to the device's value", () => {
    const dashboard = load("dashboard.json");
    const [answer] = dashboard.filter((node) => node.name === "answer") as FlowNode[];
    const flow = new Map<string, unknown>([["loadpoint/maxCurrent", 16]]);
    const refused = run(
      answer as FlowNode,
      { key: "loadpoint/maxCurrent/result", payload: { ok: false, error: "no" } },
      flow,
    );
    expect(refused).toEqual([{ payload: "refused: no", ui_update: { color: "#c62828" } }, { payload: 16 }]);
    const done = run(
      answer as FlowNode,
      { key: "loadpoint/maxCurrent/result", payload: { ok: true, value: 10 } },
      flow,
    );
    expect(done).toEqual([{ payload: "done: 10", ui_update: { color: "#2e7d32" } }, null]);
  });

  it("the dashboard sends nothing while the bridge or the device is offline, says so in red, and puts the control back", () => {
    const dashboard = load("dashboard.json");
    const send = dashboard.find((node) => node.name === "to maxCurrent/set") as FlowNode;
    const flow = topicsOf(dashboard).flow;
    flow.set("loadpoint/maxCurrent", 16);
    flow.set("up:bridge/status", false);
    expect(run(send, { payload: 10 }, flow)).toEqual([
      null,
      { payload: "not sent: the bridge or the device is offline", ui_update: { color: "#c62828" } },
      { payload: 16 },
    ]);
    flow.set("up:bridge/status", true);
    flow.set("up:loadpoint/online", true);
    const [write, shown, back] = run(send, { payload: 10 }, flow) as unknown[];
    expect(write).toEqual({ topic: "ev2mqtt/loadpoints/1/maxCurrent/set", payload: "10" });
    expect(shown).toMatchObject({ payload: "sent, waiting for the answer…" });
    expect(back).toBeNull();
  });
});
