import { afterEach, describe, expect, it } from "vitest";
import type { MqttConnection } from "../../src/mqtt/connection.js";
import { Publisher } from "../../src/mqtt/publisher.js";
import { silentLogger } from "../../src/util/log.js";
import { addSecret, clearSecrets } from "../../src/util/secrets.js";
import { FakeConnection } from "../helpers/fake-connection.js";

// The one publish path, with a recording stand-in for the broker connection: what reaches the
// broker when values repeat, when a secret becomes known, and in a republish.

function setup(): { connection: FakeConnection; publisher: Publisher } {
  const connection = new FakeConnection();
  connection.connected = true;
  const publisher = new Publisher(connection as unknown as MqttConnection, "ev2mqtt", silentLogger());
  return { connection, publisher };
}

afterEach(() => clearSecrets());

describe("Publisher", () => {
  it("publishes a repeated value once, and a string again once a secret in it becomes known", () => {
    const { connection, publisher } = setup();
    const values = { mode: "pv", error: "login as Fz8kQ2pLmv7x refused" };
    publisher.values("loadpoints/1", values);
    publisher.values("loadpoints/1", { ...values });
    expect(connection.published.map((entry) => entry.topic)).toEqual([
      "ev2mqtt/loadpoints/1/mode",
      "ev2mqtt/loadpoints/1/error",
    ]);
    addSecret("Fz8kQ2pLmv7x");
    publisher.values("loadpoints/1", { ...values });
    expect(connection.published.slice(2)).toEqual([
      { topic: "ev2mqtt/loadpoints/1/error", payload: "login as *** refused", retain: true },
    ]);
    publisher.values("loadpoints/1", { ...values });
    expect(connection.published).toHaveLength(3);
  });

  it("republishes the state and every source a batch at a time, scrubbed", async () => {
    const { connection, publisher } = setup();
    addSecret("Fz8kQ2pLmv7x");
    publisher.set("loadpoints/1/mode", "pv");
    publisher.addSource(function* () {
      for (let index = 0; index < 1000; index++) {
        yield { topic: `homeassistant/sensor/ev2mqtt/x${index}/config`, payload: '{"k":"Fz8kQ2pLmv7x"}' };
      }
    });
    connection.published.length = 0;
    connection.holdAcks = true;
    const done = publisher.republish();
    let most = 0;
    while (connection.published.length < 1002) {
      most = Math.max(most, connection.inFlight());
      expect(connection.inFlight()).toBeGreaterThan(0);
      connection.ack();
      await new Promise((resolve) => setImmediate(resolve));
    }
    connection.ack();
    await done;
    expect(most).toBeLessThanOrEqual(256);
    expect(connection.published[0]).toEqual({ topic: "ev2mqtt/status", payload: "online", retain: true });
    expect(connection.published[1]).toEqual({
      topic: "ev2mqtt/loadpoints/1/mode",
      payload: "pv",
      retain: true,
    });
    expect(connection.published.slice(2).every((entry) => entry.payload === '{"k":"***"}')).toBe(true);
  });
});
