import { execFile, execFileSync, spawn } from "node:child_process";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Mosquitto } from "../helpers/mosquitto.js";
import { mosquittoSub } from "../helpers/mqtt-cli.js";
import { waitFor } from "../helpers/recording-sink.js";

// Issue 11 item 3: the documented install (a packed tarball installed globally, not a link to
// the clone) run under the unit's sandbox. systemd is not PID 1 on the test machines, so the
// sandbox is made with the same kinds of namespaces by unshare: ProtectSystem=strict (/ read
// only), ProtectHome (empty /home and /root), PrivateTmp (an empty /tmp), and the clone itself
// hidden, so nothing can reach back into it. `npm install -g ./ev2mqtt-*.tgz` would fetch the
// dependencies from the registry; the test copies the clone's production ones instead.

const REPO = join(import.meta.dirname, "../..");

function canUnshare(): boolean {
  try {
    execFileSync("unshare", ["--mount", "--propagation", "private", "true"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

let base: string;
let prefix: string;
let etc: string;
let broker: Mosquitto;

/** The packages `npm install` would fetch for the package: its dependencies, transitively (hoisted ones). */
function productionDependencies(): string[] {
  const found = new Set<string>();
  const queue = [REPO];
  while (queue.length > 0) {
    const dir = queue.shift() ?? REPO;
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    for (const name of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) {
      // a dependency nested in its dependant's own node_modules is copied with it
      if (found.has(name) || (dir !== REPO && existsSync(join(dir, "node_modules", name)))) continue;
      if (!existsSync(join(REPO, "node_modules", name))) continue;
      found.add(name);
      queue.push(join(REPO, "node_modules", name));
    }
  }
  return [...found];
}

/** `npm install -g --prefix` of the tarball, with the dependencies copied instead of downloaded. */
function installTarball(tarball: string, into: string): void {
  const target = join(into, "lib/node_modules/ev2mqtt");
  mkdirSync(target, { recursive: true });
  execFileSync("tar", ["-xzf", tarball, "-C", target, "--strip-components=1"]);
  for (const name of productionDependencies()) {
    cpSync(join(REPO, "node_modules", name), join(target, "node_modules", name), {
      recursive: true,
      dereference: true,
    });
  }
  mkdirSync(join(into, "bin"), { recursive: true });
  symlinkSync("../lib/node_modules/ev2mqtt/dist/cli.js", join(into, "bin/ev2mqtt"));
  // as npm does for a package's bin
  chmodSync(join(target, "dist/cli.js"), 0o755);
}

/** Runs `ev2mqtt ARGS` from the install, inside the unit's sandbox. */
function sandboxed(args: string[]) {
  const hide = ["/tmp", "/home", "/root", REPO].map((dir) => `mount -t tmpfs tmpfs ${dir}`).join(" && ");
  const script = `${hide} && mount -o remount,bind,ro / && exec ev2mqtt "$@"`;
  return spawn("unshare", ["--mount", "--propagation", "private", "sh", "-c", script, "sh", ...args], {
    env: { PATH: `${prefix}/bin:/usr/bin:/bin` },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

describe.skipIf(!canUnshare())("the documented install, under the unit's sandbox", () => {
  beforeAll(async () => {
    // /var/tmp: PrivateTmp hides /tmp, and the service reads nothing under it
    base = mkdtempSync("/var/tmp/ev2mqtt-install-");
    prefix = join(base, "usr");
    etc = join(base, "etc");
    mkdirSync(etc);
    const packed = execFileSync("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", base], {
      cwd: REPO,
      encoding: "utf8",
    }).trim();
    installTarball(join(base, packed.split("\n").at(-1) ?? ""), prefix);
    broker = await Mosquitto.start();
  }, 60_000);

  afterAll(async () => {
    await broker?.stop();
    if (base) rmSync(base, { recursive: true, force: true });
  });

  it("packs what the service needs: the built CLI, the unit, the example, LICENSE; no sources or tests", () => {
    const root = join(prefix, "lib/node_modules/ev2mqtt");
    const files = execFileSync(
      "find",
      [".", "-path", "./node_modules", "-prune", "-o", "-type", "f", "-print"],
      {
        cwd: root,
        encoding: "utf8",
      },
    ).split("\n");
    for (const needed of [
      "./dist/cli.js",
      "./systemd/ev2mqtt.service",
      "./config.example.yaml",
      "./LICENSE",
      "./CHANGELOG.md",
    ]) {
      expect(files).toContain(needed);
    }
    expect(files.filter((file) => file.startsWith("./src/") || file.startsWith("./test/"))).toEqual([]);
    expect(readFileSync(join(root, "LICENSE"), "utf8")).toContain("MIT License");
  });

  it("checks with the secrets from the environment file, and runs, with the clone, /tmp and homes out of sight", async () => {
    writeFileSync(
      join(etc, "config.yaml"),
      [
        "mqtt:",
        `  url: mqtt://127.0.0.1:${broker.port}`,
        "  topic: ev2mqtt-install",
        "goe:",
        '  - serial: "000001"',
        "    token: ${GOE_TOKEN}",
        "    loadpoint: 1",
        "    url: http://127.0.0.1:9",
        "",
      ].join("\n"),
    );
    writeFileSync(join(etc, "env"), "# the service's EnvironmentFile\nGOE_TOKEN=tok-sandbox-123456\n");
    const check = sandboxed([
      "--check",
      "--config",
      join(etc, "config.yaml"),
      "--load-env",
      join(etc, "env"),
    ]);
    let checked = "";
    check.stdout.on("data", (chunk: Buffer) => (checked += chunk.toString()));
    check.stderr.on("data", (chunk: Buffer) => (checked += chunk.toString()));
    const code = await new Promise((resolve) => check.on("exit", resolve));
    expect(code, checked).toBe(0);
    expect(checked).toContain("configuration OK");
    expect(checked).not.toContain("tok-sandbox-123456");

    const daemon = sandboxed(["--config", join(etc, "config.yaml"), "--load-env", join(etc, "env")]);
    let output = "";
    daemon.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    daemon.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    try {
      await waitFor(
        () => output.includes('"msg":"ev2mqtt running"') || daemon.exitCode !== null,
        20_000,
        "running",
      );
      expect(daemon.exitCode, output).toBeNull();
      const status = await mosquittoSub(broker.port, "ev2mqtt-install/status", { seconds: 3, count: 1 });
      expect(status).toEqual(["ev2mqtt-install/status online"]);
    } finally {
      daemon.kill("SIGTERM");
      await new Promise((resolve) => (daemon.exitCode !== null ? resolve(null) : daemon.on("exit", resolve)));
    }
    expect(daemon.exitCode, output).toBe(0);
  });
});

// what a user sees when the service would restart forever: a bad file exits 78, which the
// unit's RestartPreventExitStatus keeps down (ExecStartPre is gone: systemd ignores it there)
describe("a bad configuration under the unit", () => {
  it("exits 78 from the main process with every problem on stderr (the journal)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ev2mqtt-bad-"));
    writeFileSync(join(dir, "config.yaml"), "goe:\n  - serial: '12'\n    loadpoint: 1\n");
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        [join(REPO, "dist/cli.js"), "--config", join(dir, "config.yaml")],
        (error, _out, err) =>
          resolve({ code: Number((error as { code?: number } | null)?.code ?? 0), stderr: err }),
      ),
    );
    expect(code).toBe(78);
    expect(stderr).toContain("goe[0].serial: must be the charger's 6-digit serial number");
    const unit = readFileSync(join(REPO, "systemd/ev2mqtt.service"), "utf8");
    expect(unit).toMatch(/^RestartPreventExitStatus=78$/m);
    expect(unit).not.toMatch(/^ExecStartPre=/m);
  });
});
