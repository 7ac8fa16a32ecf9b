import type { IncomingMessage, ServerResponse } from "node:http";
import { type GoeSimFault, json, parseFault, parseObject } from "./faults.js";
import { readBody, send } from "./http.js";

// The simulator's own control API for the demo and for people trying the bridge by hand:
// `GET /_sim`, `GET /_sim/<serial>`, `POST /_sim/<serial>/{plug,unplug,fault,update}`.
// It only calls what the simulator offers its tests.

export interface ControlledSimulator {
  serials(): string[];
  snapshot(serial: string): Record<string, unknown>;
  plugIn(serial: string): void;
  unplug(serial: string): void;
  fault(serial: string, fault: GoeSimFault | undefined): void;
  update(serial: string, patch: Record<string, unknown>): void;
}

export async function controlRoute(
  sim: ControlledSimulator,
  req: IncomingMessage,
  res: ServerResponse,
  parts: string[],
): Promise<void> {
  try {
    const [serial, action] = parts;
    if (serial === undefined && req.method === "GET") {
      return send(res, json(200, { chargers: sim.serials() }));
    }
    if (serial === undefined || !sim.serials().includes(serial) || parts.length > 2) {
      return send(res, json(404, { error: "no such charger" }));
    }
    if (action === undefined && req.method === "GET") return send(res, json(200, sim.snapshot(serial)));
    if (req.method !== "POST") return send(res, json(405, { error: "use POST" }));
    const text = await readBody(req);
    if (action === "plug") sim.plugIn(serial);
    else if (action === "unplug") sim.unplug(serial);
    else if (action === "fault") sim.fault(serial, parseFault(JSON.parse(text || "null")));
    else if (action === "update") sim.update(serial, parseObject(JSON.parse(text || "{}")));
    else return send(res, json(404, { error: "actions: plug, unplug, fault, update" }));
    send(res, json(200, sim.snapshot(serial)));
  } catch (error) {
    send(res, json(400, { error: error instanceof Error ? error.message : String(error) }));
  }
}
