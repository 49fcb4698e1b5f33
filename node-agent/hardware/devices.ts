/**
 * The devices fingerprinter: host devices pods may ask for as extended
 * resources `devices.skiff.dev/<kind>`, found by name under `/dev`:
 *
 * - `serial`: `/dev/ttyUSB*`, `/dev/ttyACM*` (USB serial adapters, boards, radios)
 * - `camera`: `/dev/video*` that capture: a node whose
 *   `/sys/class/video4linux/<name>/name` says codec or ISP (the Raspberry
 *   Pi's `bcm2835-codec-*`, `bcm2835-isp`, `rpivid`, `pispbe`), or whose
 *   `index` is not 0 (a webcam's metadata node), is not a camera
 * - `gpio`: `/dev/gpiochip*`, `/dev/gpiomem*`
 * - `i2c`: `/dev/i2c-*`
 * - `spi`: `/dev/spidev*`
 *
 * @module
 */

import { join } from "node:path";
import { type Clock, systemClock } from "@skiff/api";
import { listDir, readOptional } from "./_read.ts";
import {
  DEVICE_KINDS,
  type DeviceKind,
  type DeviceReading,
  type Fingerprinter,
  type HostRoots,
  resolveRoots,
} from "./readings.ts";

/** Default period of the devices fingerprinter: 30 s (USB devices come and go). */
export const DEVICES_PERIOD_MS = 30_000;

/** Options of {@linkcode devicesFingerprinter}. */
export interface DevicesFingerprinterOptions {
  /** Where /dev and sysfs are (default `/dev`, `/sys`). */
  roots?: Partial<HostRoots>;
  /** Clock for `sampledAt` (default the system clock). */
  clock?: Clock;
  /** Period in milliseconds (default {@linkcode DEVICES_PERIOD_MS}). */
  periodMs?: number;
}

const PATTERNS: Readonly<Record<DeviceKind, RegExp>> = {
  serial: /^tty(USB|ACM)\d+$/,
  camera: /^video\d+$/,
  gpio: /^(gpiochip\d+|gpiomem\d*)$/,
  i2c: /^i2c-\d+$/,
  spi: /^spidev\d+\.\d+$/,
};

const NOT_A_CAMERA = /codec|isp|hevc|rpivid|pispbe/i;

/** Whether video node `name` captures images, by what sysfs says of it; unknown nodes count. */
async function isCamera(sys: string, name: string): Promise<boolean> {
  const base = join(sys, "class", "video4linux", name);
  const [label, index] = await Promise.all([readOptional(join(base, "name")), readOptional(join(base, "index"))]);
  if (label !== null && NOT_A_CAMERA.test(label)) return false;
  return index === null || index.trim() === "0";
}

/** The devices fingerprinter. */
export function devicesFingerprinter(options: DevicesFingerprinterOptions = {}): Fingerprinter<"devices"> {
  const roots = resolveRoots(options.roots);
  const clock = options.clock ?? systemClock;
  return {
    area: "devices",
    periodMs: options.periodMs ?? DEVICES_PERIOD_MS,
    async read(): Promise<DeviceReading> {
      const names = await listDir(roots.dev);
      const paths = Object.fromEntries(DEVICE_KINDS.map((kind) => [kind, [] as string[]])) as Record<
        DeviceKind,
        string[]
      >;
      for (const kind of DEVICE_KINDS) {
        const matching = names.filter((name) => PATTERNS[kind].test(name));
        const kept = kind === "camera"
          ? (await Promise.all(matching.map(async (name) => (await isCamera(roots.sys, name)) ? name : null)))
            .filter((name): name is string => name !== null)
          : matching;
        paths[kind] = kept.map((name) => join(roots.dev, name));
      }
      return { paths, sampledAt: clock.now() };
    },
  };
}
