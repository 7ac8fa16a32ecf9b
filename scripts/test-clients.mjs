#!/usr/bin/env node
// The example Node-RED flows in a real Node-RED with the real Dashboard 2, against the real
// bridge (`ev2mqtt --demo`, its simulators) on a real mosquitto, driven from a real headless
// Chromium: `npm run test:clients`. Node-RED and @flowfuse/node-red-dashboard come from npm into
// a cache folder outside the project's dependencies (reused when present); Chromium from Debian
// (installed here when missing, as root). Checks: no missing node types, the broker connected,
// the dashboard shows live values and availability, its Charging switch stops the simulated
// charger and the bridge's answer reaches the page, a refused write shows in red. Saves a
// screenshot (to docs/node-red-dashboard.png with --update-screenshot). Bounded: gives up after DEADLINE_MS.

import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const VERSIONS = { "node-red": "4.1.x", "@flowfuse/node-red-dashboard": "1.x" };
const CACHE = join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "ev2mqtt-test", "node-red");
const DEADLINE_MS = 6 * 60_000;
// the picture in docs/ is replaced only when asked (`npm run test:clients -- --update-screenshot`):
// an ordinary run, CI's included, must not leave the checkout modified
const SCREENSHOT = process.argv.includes("--update-screenshot")
  ? join(ROOT, "docs", "node-red-dashboard.png")
  : join(tmpdir(), "ev2mqtt-node-red-dashboard.png");
const started = Date.now();
const children = [];
const temp = mkdtempSync(join(tmpdir(), "ev2mqtt-clients-"));
const logs = { mosquitto: [], bridge: [], nodeRed: [], chromium: [] };

const say = (text) => process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${text}\n`);

function fail(text) {
  const error = new Error(text);
  error.expected = true;
  throw error;
}

const overall = setTimeout(async () => {
  process.stderr.write(`test:clients: gave up after ${DEADLINE_MS / 1000} s\n`);
  await cleanup();
  process.exit(1);
}, DEADLINE_MS);

async function cleanup() {
  const exits = children
    .filter((child) => child.exitCode === null && child.signalCode === null)
    .map((child) => new Promise((resolve) => child.once("exit", resolve)));
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  // Chromium writes its profile until it has exited
  await Promise.race([Promise.all(exits), new Promise((resolve) => setTimeout(resolve, 5000))]);
  try {
    rmSync(temp, { recursive: true, force: true, maxRetries: 3 });
  } catch (error) {
    process.stderr.write(`could not remove ${temp}: ${error.message}\n`);
  }
}

async function waitFor(what, check, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await check();
    if (last) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  fail(`timed out after ${timeoutMs / 1000} s waiting for ${what} (last: ${JSON.stringify(last)})`);
}

function start(name, command, args, options = {}) {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
  const log = logs[name];
  child.stdout.on("data", (chunk) => log.push(chunk.toString()));
  child.stderr.on("data", (chunk) => log.push(chunk.toString()));
  children.push(child);
  return child;
}

// --- what the test needs, from Debian and npm only

function findChromium() {
  for (const name of ["chromium", "chromium-browser", "google-chrome"]) {
    const found = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).stdout.trim();
    if (found) return found;
  }
  return undefined;
}

function ensureChromium() {
  let chromium = findChromium();
  if (chromium) return chromium;
  if (process.getuid?.() !== 0) fail("chromium is missing: apt-get install chromium (as root), then run again");
  say("installing chromium from Debian");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
  execFileSync("apt-get", ["install", "-y", "-qq", "chromium"], { stdio: "inherit", env });
  chromium = findChromium();
  if (!chromium) fail("chromium did not install");
  return chromium;
}

function ensureNodeRed() {
  const installed = (name) => {
    try {
      return JSON.parse(readFileSync(join(CACHE, "node_modules", name, "package.json"), "utf8")).version;
    } catch {
      return undefined;
    }
  };
  const matches = (version, wanted) => version !== undefined && version.split(".")[0] === wanted.split(".")[0];
  if (Object.entries(VERSIONS).every(([name, wanted]) => matches(installed(name), wanted))) {
    say(`Node-RED ${installed("node-red")} and Dashboard 2 ${installed("@flowfuse/node-red-dashboard")} from ${CACHE}`);
    return;
  }
  say(`installing Node-RED and Dashboard 2 from npm into ${CACHE}`);
  mkdirSync(CACHE, { recursive: true });
  writeFileSync(join(CACHE, "package.json"), `${JSON.stringify({ name: "ev2mqtt-client-test", private: true }, null, 2)}\n`);
  execFileSync(
    "npm",
    ["install", "--no-audit", "--no-fund", "--loglevel=error", ...Object.entries(VERSIONS).map(([n, v]) => `${n}@${v}`)],
    { cwd: CACHE, stdio: "inherit" },
  );
}

// --- the services

async function startMosquitto(port) {
  const conf = join(temp, "mosquitto.conf");
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  const binary = existsSync("/usr/sbin/mosquitto") ? "/usr/sbin/mosquitto" : "mosquitto";
  const child = start("mosquitto", binary, ["-c", conf]);
  await waitFor("mosquitto to listen", async () => child.exitCode === null && (await canConnect(port)), 10_000);
}

function startBridge(brokerUrl) {
  const config = join(temp, "ev2mqtt.yaml");
  writeFileSync(config, `mqtt:\n  url: ${brokerUrl}\nlog:\n  level: warn\n`);
  start("bridge", process.execPath, [join(ROOT, "dist", "cli.js"), "--demo", "--config", config]);
}

/**
 * The example flows as a user imports them and adapts them: each broker node pointed at this
 * test's broker, the root topic in each flow's ★ node changed to the demo's.
 */
function flows(brokerPort, root) {
  const dir = join(ROOT, "examples", "node-red");
  const byId = new Map();
  for (const file of readdirSync(dir).filter((name) => name.endsWith(".json")).sort()) {
    for (const node of JSON.parse(readFileSync(join(dir, file), "utf8"))) {
      if (node.type === "mqtt-broker") node.port = String(brokerPort);
      if (node.type === "function" && node.name.includes("★")) {
        const edited = node.func.replace('const root = "ev2mqtt";', `const root = "${root}";`);
        if (edited === node.func) fail(`${file}: the ★ node has no line 'const root = "ev2mqtt";' to edit`);
        node.func = edited;
      }
      // the broker node is in every file: importing a second file keeps the existing one
      byId.set(node.id, node);
    }
  }
  return [...byId.values()];
}

async function startNodeRed(port, brokerPort, root) {
  const userDir = join(temp, "node-red");
  mkdirSync(userDir);
  symlinkSync(join(CACHE, "node_modules"), join(userDir, "node_modules"));
  writeFileSync(join(userDir, "flows.json"), JSON.stringify(flows(brokerPort, root), null, 2));
  writeFileSync(
    join(userDir, "settings.js"),
    `module.exports = ${JSON.stringify({
      uiPort: port,
      uiHost: "127.0.0.1",
      flowFile: "flows.json",
      credentialSecret: false,
      editorTheme: { tours: false },
      telemetry: { enabled: false },
      diagnostics: { enabled: false },
      logging: { console: { level: "info", metrics: false, audit: false } },
    })};\n`,
  );
  const red = join(CACHE, "node_modules", "node-red", "red.js");
  start("nodeRed", process.execPath, [red, "--userDir", userDir, "--settings", join(userDir, "settings.js")]);
  // with a node type missing, Node-RED starts no flow at all and says what it waits for
  await waitFor("Node-RED to start its flows", () => /Started flows|missing types/.test(logs.nodeRed.join("")), 60_000);
}

// --- a headless Chromium, driven over the DevTools protocol

async function browser(chromium, require) {
  const WebSocket = require("ws");
  const child = start("chromium", chromium, [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--window-size=1280,900",
    `--user-data-dir=${join(temp, "chromium")}`,
    "--remote-debugging-port=0",
    "about:blank",
  ]);
  const endpoint = await waitFor(
    "Chromium's DevTools endpoint",
    () => /DevTools listening on (ws:\/\/\S+)/.exec(logs.chromium.join(""))?.[1],
    30_000,
  );
  const socket = new WebSocket(endpoint);
  await new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  let next = 0;
  const pending = new Map();
  socket.on("message", (data) => {
    const message = JSON.parse(data.toString());
    const waiting = pending.get(message.id);
    if (!waiting) return;
    pending.delete(message.id);
    if (message.error) waiting.reject(new Error(`${waiting.method}: ${message.error.message}`));
    else waiting.resolve(message.result);
  });
  const send = (method, params = {}, sessionId) =>
    new Promise((resolve, reject) => {
      next += 1;
      pending.set(next, { resolve, reject, method });
      socket.send(JSON.stringify({ id: next, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
  const { targetId } = await send("Target.createTarget", { url: "about:blank" });
  const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
  const page = (method, params) => send(method, params, sessionId);
  await page("Page.enable");
  await page("Emulation.setDeviceMetricsOverride", { width: 1280, height: 900, deviceScaleFactor: 1, mobile: false });
  const evaluate = async (expression) => {
    const { result, exceptionDetails } = await page("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true });
    if (exceptionDetails) fail(`in the page: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`);
    return result.value;
  };
  return {
    open: (url) => page("Page.navigate", { url }),
    evaluate,
    text: () => evaluate("document.body ? document.body.innerText : ''"),
    screenshot: async (file) => {
      const { data } = await page("Page.captureScreenshot", { format: "png" });
      writeFileSync(file, Buffer.from(data, "base64"));
    },
    close: () => {
      socket.close();
      child.kill("SIGTERM");
    },
  };
}

// --- the test

let canConnect;
let freePort;

async function main() {
  const chromium = ensureChromium();
  ensureNodeRed();
  if (!existsSync(join(ROOT, "dist", "cli.js"))) execFileSync("npm", ["run", "build", "--silent"], { cwd: ROOT, stdio: "inherit" });
  ({ canConnect, freePort } = await import(join(ROOT, "dist", "util", "net.js")));
  // the demo publishes under its own root, whatever the configuration says
  const { DEMO_ROOT: ROOT_TOPIC } = await import(join(ROOT, "dist", "demo.js"));
  const topic = (rest) => `${ROOT_TOPIC}/${rest}`;
  const require = createRequire(join(CACHE, "package.json"));
  const mqtt = (await import("mqtt")).default;

  const brokerPort = await freePort();
  await startMosquitto(brokerPort);
  const brokerUrl = `mqtt://127.0.0.1:${brokerPort}`;
  say(`mosquitto on ${brokerUrl}`);
  const watch = await mqtt.connectAsync(brokerUrl);
  const latest = new Map();
  watch.on("message", (topic, payload) => latest.set(topic, payload.toString()));
  await watch.subscribeAsync(topic("#"));
  startBridge(brokerUrl);
  await waitFor(
    "the bridge's demo to publish loadpoint 1 and the car",
    () => latest.get(topic("loadpoints/1/chargePower")) === "11040" && latest.get(topic("vehicles/car/charging")) === "true",
    40_000,
  );
  say("bridge up: loadpoint 1 charges at 11040 W, the car charges");

  const port = await freePort();
  await startNodeRed(port, brokerPort, ROOT_TOPIC);
  const redLog = () => logs.nodeRed.join("");
  if (/missing types|Waiting for missing/i.test(redLog())) fail(`Node-RED misses node types:\n${redLog()}`);
  await waitFor("Node-RED's broker node to connect", () => /Connected to broker/.test(redLog()), 20_000);
  say(`Node-RED on http://127.0.0.1:${port}: all node types present, connected to the broker`);

  const page = await browser(chromium, require);
  const url = `http://127.0.0.1:${port}/dashboard/ev2mqtt`;
  await page.open(url);
  let shown = "";
  let opened = Date.now();
  await waitFor(
    "the dashboard to show live values and availability",
    async () => {
      // a page opened while Node-RED still receives the retained values can miss some of them
      // (Dashboard 2 sends a widget's last message when the widget loads): load it again
      if (Date.now() - opened > 10_000) {
        opened = Date.now();
        await page.open(url);
      }
      shown = await page.text();
      const live = ["Max current", "%"].every((part) => shown.includes(part));
      return live && ["Bridge", "Charger", "Car"].every((what) => new RegExp(`${what}\\s*online`).test(shown));
    },
    45_000,
  ).catch(async (error) => {
    await page.screenshot(join(temp, "..", "ev2mqtt-clients-failed.png"));
    fail(`${error.message}\npage text:\n${shown}`);
  });
  say("dashboard shows the live values and the bridge's, charger's and car's availability");

  // the controls' ranges come from the charger: 6..32 A (its limit), the gauge to 32 A × 3 × 230 V
  const ranges = await waitFor(
    "the slider and the gauge to take the charger's range",
    () =>
      page.evaluate(`(() => {
        const slider = document.querySelector('[role=slider]');
        const range = [slider?.getAttribute('aria-valuemin'), slider?.getAttribute('aria-valuemax')];
        return range[1] === '32' && /22[.,]1/.test(document.body.innerText) ? range : null;
      })()`),
    20_000,
  );
  say(`slider ${ranges.join("..")} A and gauge 0..22.1 kW, from the charger's limit and phases`);

  // the user switches the car's charging off on the page
  const clicked = await page.evaluate(`(() => {
    const input = document.querySelector('.nrdb-ui-switch input, .v-switch input');
    if (!input) return 'no switch';
    const before = input.checked;
    input.click();
    return before;
  })()`);
  if (clicked !== true) fail(`the Charging switch was not on before the click (${JSON.stringify(clicked)})`);
  await waitFor("the simulated charger to stop (loadpoint 1 at 0 W)", () => latest.get(topic("loadpoints/1/chargePower")) === "0", 30_000);
  await waitFor("the bridge's answer on the page", async () => /done: false/.test(await page.text()), 20_000);
  await waitFor(
    "the switch to show the car's state (off)",
    () => page.evaluate("document.querySelector('.nrdb-ui-switch input, .v-switch input').checked === false"),
    20_000,
  );
  say("the Charging switch stopped the car and the charger; the answer 'done: false' is on the page");

  // a write the bridge refuses: its answer shows on the page, in red
  watch.publish(topic("loadpoints/1/maxCurrent/set"), "99");
  const refused = await waitFor(
    "the refusal on the page",
    () =>
      page.evaluate(`(() => {
        const el = [...document.querySelectorAll('*')].find((e) => e.children.length === 0 && /refused: /.test(e.textContent));
        return el ? { text: el.textContent, color: getComputedStyle(el).color } : null;
      })()`),
    20_000,
  );
  if (refused.color !== "rgb(198, 40, 40)") fail(`the refusal is not red: ${JSON.stringify(refused)}`);
  say(`a refused write shows in red: "${refused.text.trim()}"`);

  // and on again: the car and the charger charge again, as the page shows
  await page.evaluate("document.querySelector('.nrdb-ui-switch input, .v-switch input').click()");
  await waitFor("the charger to charge again", () => latest.get(topic("loadpoints/1/chargePower")) === "11040", 30_000);
  await waitFor("the switch to show the car charging", async () => /done: true/.test(await page.text()) && page.evaluate("document.querySelector('.nrdb-ui-switch input, .v-switch input').checked === true"), 20_000);
  await waitFor("the gauge to show 11 kW", async () => /11\s*kW/.test(await page.text()), 20_000);
  say("switched on again: the charger charges at 11040 W, the gauge shows 11 kW");
  // the dashboard's "App is offline ready" notice is not part of the picture
  await page.evaluate("[...document.querySelectorAll('button')].filter((b) => /close/i.test(b.textContent)).forEach((b) => b.click())");
  // the gauge's needle swings for a moment; the picture is for people, nothing is asserted on it
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await page.screenshot(SCREENSHOT);
  say(`screenshot: ${SCREENSHOT}`);
  page.close();
  await watch.endAsync();
}

main()
  .then(async () => {
    clearTimeout(overall);
    await cleanup();
    say(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    // the closing line a CI log reader looks for
    process.stdout.write("test:clients: 1 passed, 0 failed\n");
    process.exit(0);
  })
  .catch(async (error) => {
    clearTimeout(overall);
    process.stderr.write(`test:clients FAILED: ${error.expected ? error.message : error.stack}\n`);
    for (const [name, lines] of Object.entries(logs)) {
      process.stderr.write(`\n--- ${name} (last 3000 characters)\n${lines.join("").slice(-3000)}\n`);
    }
    await cleanup();
    process.stderr.write("test:clients: 0 passed, 1 failed\n");
    process.exit(1);
  });
