/**
 * Fixture trees for tests: `testdata/pi4` (a Raspberry Pi 4 Model B at
 * 81.5 °C with a USB serial adapter, a camera and GPIO) and
 * `testdata/minipc` (an x86 mini PC with an Intel N100, NVMe and a USB
 * radio), each holding `proc`, `sys`, `dev` and `etc`.
 *
 * @module
 */

import { cpSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ManualClock } from "@skiff/api";
import { HardwareMonitor, type HardwareMonitorOptions } from "./hardware_monitor.ts";
import type { HardwareReadings, HostRoots, NetworkInterfaceInfo } from "./readings.ts";

/** Names of the fixture trees. */
export type FixtureName = "pi4" | "minipc";

/** Directory of fixture tree `name`. */
export function fixtureDir(name: FixtureName): string {
  return join(fileURLToPath(new URL("./testdata", import.meta.url)), name);
}

/** Roots of a fixture tree at `dir`. */
export function rootsAt(dir: string): HostRoots {
  return { proc: join(dir, "proc"), sys: join(dir, "sys"), dev: join(dir, "dev"), etc: join(dir, "etc") };
}

/** Roots of fixture tree `name`, read-only. */
export function fixtureRoots(name: FixtureName): HostRoots {
  return rootsAt(fixtureDir(name));
}

/** A writable copy of fixture tree `name` in a temporary directory, removed on dispose. */
export function copyFixture(name: FixtureName): { dir: string; roots: HostRoots } & AsyncDisposable {
  const dir = Deno.makeTempDirSync({ prefix: `skiff-hw-${name}-` });
  cpSync(fixtureDir(name), dir, { recursive: true });
  return {
    dir,
    roots: rootsAt(dir),
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/** Interfaces as systeminformation lists them on each fixture machine. */
export const FIXTURE_INTERFACES: Readonly<Record<FixtureName, NetworkInterfaceInfo[]>> = {
  pi4: [
    {
      name: "eth0",
      mac: "dc:a6:32:12:34:56",
      ipv4: "192.168.1.41",
      ipv6: "fe80::dea6:32ff:fe12:3456",
      type: "wired",
      isDefault: true,
      internal: false,
      operstate: "up",
      speedMbps: 1000,
    },
  ],
  minipc: [
    {
      name: "enp1s0",
      mac: "7c:83:34:ab:cd:ef",
      ipv4: "192.168.1.10",
      ipv6: "fe80::7e83:34ff:feab:cdef",
      type: "wired",
      isDefault: true,
      internal: false,
      operstate: "up",
      speedMbps: 2500,
    },
  ],
};

/** `vcgencmd get_throttled` answering `output`, as the Pi 4 fixture's firmware would. */
export function fakeVcgencmd(output: string): HardwareMonitorOptions["exec"] {
  return (cmd) => {
    if (cmd.join(" ") !== "vcgencmd get_throttled") throw new Error(`Unexpected command "${cmd.join(" ")}"`);
    return Promise.resolve({ code: 0, stdout: `${output}\n`, stderr: "" });
  };
}

/** An `exec` for a machine without `vcgencmd`. */
export const noVcgencmd: HardwareMonitorOptions["exec"] = (cmd) =>
  Promise.reject(new Error(`Command "${cmd.join(" ")}" could not start`, { cause: new Deno.errors.NotFound() }));

/**
 * One full round of readings of fixture `name`, with the data directory on
 * this machine (its size is this machine's). The Pi answers
 * `throttled=0x0` unless told otherwise.
 */
export async function fixtureReadings(
  name: FixtureName,
  options: { throttled?: string } = {},
): Promise<HardwareReadings> {
  const monitor = new HardwareMonitor({
    dataDir: Deno.cwd(),
    roots: fixtureRoots(name),
    clock: new ManualClock(),
    arch: name === "pi4" ? "aarch64" : "x86_64",
    exec: name === "pi4" ? fakeVcgencmd(options.throttled ?? "throttled=0x0") : noVcgencmd,
    listInterfaces: () => Promise.resolve(FIXTURE_INTERFACES[name]),
  });
  return await monitor.refresh({ full: true });
}
