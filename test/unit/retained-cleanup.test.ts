import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { unownedTopics } from "../../src/retained-cleanup.js";

// Which retained topics the bridge erases at start (issue 11 item 2): values of devices that
// are no longer configured, and nothing that is not the bridge's own kind of topic.

const RETAINED = [
  "ev2mqtt/status",
  "ev2mqtt/updated",
  "ev2mqtt/bridge/info",
  "ev2mqtt/loadpoints",
  "ev2mqtt/loadpoints/1/chargePower",
  "ev2mqtt/loadpoints/2/chargePower",
  "ev2mqtt/loadpoints/2/maxCurrent/set",
  "ev2mqtt/site/pvPower",
  "ev2mqtt/sites/2/pvPower",
  "ev2mqtt/vehicles/car/soc",
  "ev2mqtt/vehicles/old/soc",
  "ev2mqtt/someone/else",
  "ev2mqtt-demo/loadpoints/2/chargePower",
];

describe("retained cleanup at start", () => {
  it("erases the values of chargers, cars and sites that are not configured, and nothing else", () => {
    const config = parseConfig(
      {
        goe: [{ serial: "000001", loadpoint: 1, url: "http://192.168.1.5" }],
        ovms: [{ url: "https://ovms.example", username: "u", password: "p1234", vehicles: [{ id: "CAR" }] }],
      },
      {},
    );
    expect(unownedTopics(config, RETAINED)).toEqual([
      "ev2mqtt/loadpoints/2/chargePower",
      "ev2mqtt/site/pvPower",
      "ev2mqtt/sites/2/pvPower",
      "ev2mqtt/vehicles/old/soc",
    ]);
  });

  it("keeps every site topic while a Climkit account is configured (its sites are known only after login)", () => {
    const config = parseConfig(
      {
        mqtt: { topic: "ev2mqtt-demo" },
        climkit: [{ username: "u", password: "p1234" }],
      },
      {},
    );
    expect(unownedTopics(config, RETAINED)).toEqual(["ev2mqtt-demo/loadpoints/2/chargePower"]);
  });
});
