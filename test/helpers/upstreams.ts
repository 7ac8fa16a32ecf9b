import { ClimkitSimulator } from "../../src/climkit/simulator/server.js";
import { GoeSimulator, type GoeSimulatorOptions } from "../../src/goe/simulator/server.js";
import { OvmsSimulator } from "../../src/ovms/index.js";

/** The three upstream simulators of one test, running. */
export interface Upstreams {
  goe: GoeSimulator;
  climkit: ClimkitSimulator;
  ovms: OvmsSimulator;
  ovmsUrls: { restUrl: string; commandsUrl: string };
  stop(): Promise<void>;
}

/**
 * A go-e simulator with the given chargers, a Climkit one with the account `api-user`, and an
 * OVMS one with the account `ovms-user` and the car DEMO: what the secrets tests run against.
 */
export async function startUpstreams(options: {
  goe: GoeSimulatorOptions;
  climkitPassword: string;
  ovmsPassword: string;
}): Promise<Upstreams> {
  const goe = new GoeSimulator(options.goe);
  await goe.start();
  const climkit = new ClimkitSimulator({
    users: [{ username: "api-user", password: options.climkitPassword }],
  });
  await climkit.start();
  const ovms = new OvmsSimulator({
    username: "ovms-user",
    password: options.ovmsPassword,
    vehicles: [{ id: "DEMO" }],
  });
  const ovmsUrls = await ovms.start();
  return {
    goe,
    climkit,
    ovms,
    ovmsUrls,
    async stop() {
      await ovms.stop();
      await climkit.stop();
      await goe.stop();
    },
  };
}
