import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { OvmsSimulator } from "../../src/ovms/simulator/server.js";
import { CommandError, OvmsV2Client, type V2ClientOptions } from "../../src/ovms/v2client.js";
import { silentLogger } from "../../src/util/log.js";
import { waitFor } from "../helpers/recording-sink.js";

const PASSWORD = "s3cret-v2-pass";
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(options: Partial<V2ClientOptions> = {}, vehicles = [{ id: "DEMO" }]) {
  const sim = new OvmsSimulator({ password: PASSWORD, vehicles });
  const { commandsUrl } = await sim.start();
  cleanups.push(() => sim.stop());
  const client = new OvmsV2Client({
    url: commandsUrl,
    username: "demo",
    password: PASSWORD,
    rejectUnauthorized: true,
    commandTimeoutMs: 500,
    logger: silentLogger(),
    reconnectMinMs: 50,
    ...options,
  });
  cleanups.push(() => client.close());
  return { sim, client };
}

async function failure(promise: Promise<unknown>): Promise<CommandError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof CommandError) return error;
    throw error;
  }
  throw new Error("the command did not fail");
}

describe("OvmsV2Client", () => {
  it("logs in as a batch client per vehicle, so the car does not report faster", async () => {
    const { sim, client } = await setup({}, [{ id: "DEMO" }, { id: "CAR2" }]);
    client.start(["DEMO", "CAR2"]);
    await waitFor(() => client.linkState("DEMO").up && client.linkState("CAR2").up, 5000, "both links");
    expect(sim.v2Clients("DEMO", "B")).toBe(1);
    expect(sim.v2Clients("CAR2", "B")).toBe(1);
    expect(sim.peerConnected("DEMO")).toBe(false);
    expect(client.linkState("DEMO").carConnected).toBe(true);
  });

  it("sends commands and matches each reply to its command", async () => {
    const { sim, client } = await setup();
    sim.setCarState({ pluggedIn: true });
    const [current, mode, start] = await Promise.all([
      client.command("DEMO", 15, ["16"]),
      client.command("DEMO", 10, ["3"]),
      client.command("DEMO", 11),
    ]);
    expect(current).toEqual({ code: 15, result: 0, text: "" });
    expect(mode).toEqual({ code: 10, result: 0, text: "" });
    expect(start).toEqual({ code: 11, result: 0, text: "" });
    const car = sim.carState();
    expect(car.chargeCurrent).toBe(16);
    expect(car.chargeMode).toBe("range");
    expect(car.charging).toBe(true);
    expect(sim.commandLog).toEqual(["C15,16", "C10,3", "C11"]);
  });

  it("hands over a refusal with the car's text, and unsupported commands", async () => {
    const { sim, client } = await setup();
    sim.refuse(11, "Charge port not open, please plug in");
    expect(await client.command("DEMO", 11)).toEqual({
      code: 11,
      result: 1,
      text: "Charge port not open, please plug in",
    });
    sim.unsupported(18);
    expect(await client.command("DEMO", 18)).toMatchObject({ code: 18, result: 2 });
  });

  it("returns a shell command's output with its commas", async () => {
    const { sim, client } = await setup();
    sim.setCarState({ soc: 55 });
    const reply = await client.command("DEMO", 7, ["stat"]);
    expect(reply.result).toBe(0);
    expect(reply.text).toContain("SOC: 55%");
  });

  it("times out when the car is not connected: the server forwards the command to nobody", async () => {
    const { sim, client } = await setup({ commandTimeoutMs: 300 });
    client.start(["DEMO"]);
    await waitFor(() => client.linkState("DEMO").up);
    sim.setCarConnected(false);
    await waitFor(() => client.linkState("DEMO").carConnected === false, 2000, "Z0");
    const started = Date.now();
    const error = await failure(client.command("DEMO", 12));
    expect(error.kind).toBe("timeout");
    expect(error.message).toBe("the car did not answer within 300ms (is its module online?)");
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(sim.commands).toBe(1);
    // the car comes back: commands work again
    sim.setCarConnected(true);
    expect(await client.command("DEMO", 12)).toMatchObject({ result: 0 });
  });

  it("drops a late reply to a timed-out command instead of handing it to the next one", async () => {
    const { sim, client } = await setup({ commandTimeoutMs: 400 });
    sim.refuse(15, "first command's late answer", { times: 1 });
    sim.setReplyDelay(550);
    const first = client.command("DEMO", 15, ["10"]);
    expect((await failure(first)).kind).toBe("timeout");
    sim.setReplyDelay(5);
    // sent before the first reply arrives (the car answers in order, both come at ~550 ms)
    const second = await client.command("DEMO", 15, ["20"]).catch((error: unknown) => error);
    expect(second).toEqual({ code: 15, result: 0, text: "" });
  }, 10_000);

  it("reconnects after the server drops the connection, and commands work again", async () => {
    const { sim, client } = await setup();
    client.start(["DEMO"]);
    await waitFor(() => client.linkState("DEMO").up);
    sim.dropConnections();
    await waitFor(() => !client.linkState("DEMO").up, 2000, "link down");
    await waitFor(() => client.linkState("DEMO").up, 5000, "link back");
    expect(sim.v2Clients("DEMO")).toBe(1);
    expect(await client.command("DEMO", 18)).toMatchObject({ result: 0 });
  });

  it("answers a command waiting for its reply when the connection drops", async () => {
    const { sim, client } = await setup({ commandTimeoutMs: 5000 });
    sim.setReplyDelay(1000);
    const pending = client.command("DEMO", 18);
    await waitFor(() => sim.commands === 1);
    sim.dropConnections();
    const error = await failure(pending);
    expect(error.kind).toBe("dropped");
    expect(error.message).toMatch(/lost before the car answered/);
  });

  it("pings to keep the session, and gives up on a server that stops answering", async () => {
    const { sim, client } = await setup({ pingIntervalMs: 50 });
    client.start(["DEMO"]);
    await waitFor(() => sim.pings >= 3, 3000, "pings");
    expect(client.linkState("DEMO").up).toBe(true);

    // a server that logs in and then says nothing
    const silent = net.createServer((socket) => {
      socket.once("data", () => socket.write("MP-S 1 demo DEMO DEMO\r\n"));
      socket.on("error", () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise((resolve) => silent.close(resolve)));
    const address = silent.address() as net.AddressInfo;
    const mute = new OvmsV2Client({
      url: `tcp://127.0.0.1:${address.port}`,
      username: "demo",
      password: PASSWORD,
      rejectUnauthorized: true,
      commandTimeoutMs: 500,
      logger: silentLogger(),
      pingIntervalMs: 50,
      loginTimeoutMs: 100,
      reconnectMinMs: 10_000,
    });
    cleanups.push(() => mute.close());
    mute.start(["DEMO"]);
    await waitFor(() => mute.linkState("DEMO").up, 2000, "mute link up");
    await waitFor(() => !mute.linkState("DEMO").up, 2000, "mute link given up");
    expect(mute.linkState("DEMO").error).toBe("the OVMS server stopped answering pings");
  });

  it("reports a refused login without the password", async () => {
    const { client } = await setup({ password: "wrong-password-123" });
    const error = await failure(client.command("DEMO", 11));
    expect(error.kind).toBe("unreachable");
    expect(error.message).toMatch(/closed the connection at login \(wrong username or password/);
    expect(error.message).not.toContain("wrong-password-123");
  });

  it("passes the login replay as one batch with its age, then each live record, and skips the rest", async () => {
    const { client, sim } = await setup();
    const batches: Array<{ codes: string[]; live: boolean; ageS: number | undefined }> = [];
    const links: boolean[] = [];
    client.onRecords((vehicleId, lines, live, ageS) => {
      if (vehicleId === "DEMO") batches.push({ codes: lines.map((line) => line.code), live, ageS });
    });
    client.onLinkState((_id, up) => links.push(up));
    client.start(["DEMO"]);
    await waitFor(() => links.includes(true), 2000, "the link up after its replay");
    expect(batches).toEqual([{ codes: ["F", "S", "D", "L", "Y"], live: false, ageS: expect.any(Number) }]);
    sim.setCarState({ soc: 40 });
    await waitFor(() => batches.length === 5, 2000, "the live records");
    expect(batches.slice(1)).toEqual(
      ["S", "D", "L", "Y"].map((code) => ({ codes: [code], live: true, ageS: undefined })),
    );
  });
});
