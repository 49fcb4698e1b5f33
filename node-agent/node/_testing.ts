/**
 * Test support for the node agent: a real control plane (API server,
 * scheduler and controllers) in a temporary directory on a manual clock,
 * node tokens, and hardware monitors over the fixture machines in
 * `node-agent/hardware/testdata`.
 *
 * @module
 */

import { cpSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Condition, type KubeObject, ManualClock, type Node } from "@skiff/api";
import { ApiClient } from "@skiff/client";
import { type ControlPlane, newToken, startControlPlane, SYSTEM_USER } from "../../control-plane/mod.ts";
import type { HardwareMonitorOptions, HostRoots, NetworkInterfaceInfo } from "../hardware/mod.ts";

/** A fixture machine: `pi4` (a Raspberry Pi 4 at 81.5 °C) or `minipc` (an x86 mini PC at 45 °C). */
export type Machine = "pi4" | "minipc";

const INTERFACES: Record<Machine, NetworkInterfaceInfo> = {
  pi4: {
    name: "eth0",
    mac: "dc:a6:32:12:34:56",
    ipv4: "192.168.1.41",
    ipv6: "",
    type: "wired",
    isDefault: true,
    internal: false,
    operstate: "up",
    speedMbps: 1000,
  },
  minipc: {
    name: "enp1s0",
    mac: "7c:83:34:ab:cd:ef",
    ipv4: "192.168.1.10",
    ipv6: "",
    type: "wired",
    isDefault: true,
    internal: false,
    operstate: "up",
    speedMbps: 2500,
  },
};

/** A writable copy of a fixture machine's proc, sys, dev and etc trees. */
export interface MachineFixture extends AsyncDisposable {
  /** The copy's directory. */
  dir: string;
  /** Its roots. */
  roots: HostRoots;
  /** Hardware monitor options reading this machine. */
  hardware: Pick<HardwareMonitorOptions, "roots" | "exec" | "listInterfaces" | "arch">;
  /** Sets the temperature of thermal zone 0, in °C. */
  setTemperature(celsius: number): Promise<void>;
  /** Adds `jiffies` of user time to every CPU counter in /proc/stat, so the next CPU reading shows usage. */
  busyCpu(jiffies: number): Promise<void>;
}

/** Copies fixture machine `name` into a temporary directory. */
export function machineFixture(name: Machine): MachineFixture {
  const source = fileURLToPath(new URL(`../hardware/testdata/${name}`, import.meta.url));
  const dir = Deno.makeTempDirSync({ prefix: `skiff-node-${name}-` });
  cpSync(source, dir, { recursive: true });
  const roots = { proc: join(dir, "proc"), sys: join(dir, "sys"), dev: join(dir, "dev"), etc: join(dir, "etc") };
  const zone = join(roots.sys, "class", "thermal", "thermal_zone0", "temp");
  const stat = join(roots.proc, "stat");
  return {
    dir,
    roots,
    hardware: {
      roots,
      arch: name === "pi4" ? "aarch64" : "x86_64",
      exec: (cmd) =>
        name === "pi4" && cmd.join(" ") === "vcgencmd get_throttled"
          ? Promise.resolve({ code: 0, stdout: "throttled=0x0\n", stderr: "" })
          : Promise.reject(
            new Error(`Command "${cmd.join(" ")}" could not start`, { cause: new Deno.errors.NotFound() }),
          ),
      listInterfaces: () => Promise.resolve([INTERFACES[name]]),
    },
    setTemperature: (celsius) => Deno.writeTextFile(zone, `${Math.round(celsius * 1000)}\n`),
    async busyCpu(jiffies) {
      const text = await Deno.readTextFile(stat);
      await Deno.writeTextFile(
        stat,
        text.replace(/^(cpu\d*\s+)(\d+)/gm, (_, head: string, user: string) => `${head}${Number(user) + jiffies}`),
      );
    },
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/** A control plane for tests, with clients. */
export interface TestPlane extends AsyncDisposable {
  /** The control plane. */
  plane: ControlPlane;
  /** Its data directory. */
  dir: string;
  /** The clock everything runs on. */
  clock: ManualClock;
  /** An admin client (in process). */
  admin: ApiClient;
  /** Lines the control plane logged. */
  logs: string[];
  /** Creates a node token for `nodeName` and returns it. */
  nodeToken(nodeName: string): Promise<string>;
  /** A client sending `token` through the in-process handler, as the agent in `skiff up` does. */
  clientWithToken(token: string): ApiClient;
  /** The Node named `name`. */
  node(name: string): Promise<Node>;
}

/** Starts a control plane with its controllers in a temporary directory, on a manual clock. */
export async function startTestPlane(): Promise<TestPlane> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-node-plane-" });
  const clock = new ManualClock(Date.now());
  const logs: string[] = [];
  const plane = await startControlPlane({
    dataDir: dir,
    port: 0,
    bind: "127.0.0.1",
    controllers: true,
    clock,
    log: (line) => logs.push(line),
  });
  const admin = new ApiClient({ server: plane.url, transport: plane.handler.as(SYSTEM_USER) });
  return {
    plane,
    dir,
    clock,
    admin,
    logs,
    async nodeToken(nodeName) {
      const { token, secret } = await newToken({ role: "node", nodeName, description: `test node ${nodeName}` });
      await admin.kind("v1", "Secret").create(secret as KubeObject);
      return token;
    },
    clientWithToken(token) {
      return new ApiClient({ server: plane.url, token, transport: (req) => plane.handler(req) });
    },
    node: (name) => admin.kind<Node>("v1", "Node").get(name),
    async [Symbol.asyncDispose]() {
      await plane.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** The condition of `type` of a node. */
export function condition(node: Node, type: string): Condition | undefined {
  return node.status?.conditions?.find((c) => c.type === type);
}

/** Polls `probe` (real time, every 10 ms) until it gives a truthy value; fails after 10 s naming `what`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
