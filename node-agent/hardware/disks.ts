/**
 * The disks fingerprinter: size, free space and inodes of the file system
 * holding the agent's data directory (`statfs`, no process spawned), which
 * mount and whole disk that is (`/proc/self/mountinfo`, `/sys/block`), and
 * whether that disk is non-rotational (`/sys/block/<disk>/queue/rotational`).
 *
 * @module
 */

import { statfs } from "node:fs/promises";
import { join } from "node:path";
import { type Clock, systemClock } from "@skiff/api";
import { errorMessage, listDir, readOptional } from "./_read.ts";
import { type BlockDevice, type DiskReading, type Fingerprinter, type HostRoots, resolveRoots } from "./readings.ts";

/** Default period of the disks fingerprinter. */
export const DISKS_PERIOD_MS = 30_000;

/** Options of {@linkcode disksFingerprinter}. */
export interface DisksFingerprinterOptions {
  /** The agent's data directory: the file system measured is the one holding it. */
  dataDir: string;
  /** Where procfs and sysfs are (default `/proc`, `/sys`). */
  roots?: Partial<HostRoots>;
  /** Clock for `sampledAt` (default the system clock). */
  clock?: Clock;
  /** Period in milliseconds (default {@linkcode DISKS_PERIOD_MS}). */
  periodMs?: number;
}

/** One line of `/proc/self/mountinfo`. */
export interface MountInfo {
  /** `major:minor` of the mounted device. */
  device: string;
  /** Where it is mounted. */
  mountPoint: string;
  /** File system type. */
  fsType: string;
  /** Mount source, e.g. `/dev/mmcblk0p2`. */
  source: string;
}

/** Mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMount(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** The mounts listed in the text of `/proc/self/mountinfo`; malformed lines are skipped. */
export function parseMountInfo(text: string): MountInfo[] {
  const mounts: MountInfo[] = [];
  for (const line of text.split("\n")) {
    const fields = line.split(" ");
    const separator = fields.indexOf("-", 6);
    const device = fields[2];
    const mountPoint = fields[4];
    const fsType = fields[separator + 1];
    const source = fields[separator + 2];
    if (separator < 0 || !device || !mountPoint || !fsType || source === undefined) continue;
    mounts.push({ device, mountPoint: unescapeMount(mountPoint), fsType, source: unescapeMount(source) });
  }
  return mounts;
}

/** The mount holding `path` (an absolute, resolved path): the last-mounted longest prefix. */
export function mountOf(mounts: readonly MountInfo[], path: string): MountInfo | null {
  let best: MountInfo | null = null;
  for (const mount of mounts) {
    const point = mount.mountPoint;
    const inside = point === "/" || path === point || path.startsWith(point.endsWith("/") ? point : `${point}/`);
    if (inside && (!best || point.length >= best.mountPoint.length)) best = mount;
  }
  return best;
}

const VIRTUAL_DISK = /^(loop|ram|zram)\d+$/;

/** Whole disks under `/sys/block` with the `major:minor` of each disk and partition. */
async function readBlockDevices(sys: string): Promise<{ disks: BlockDevice[]; owners: Map<string, string> }> {
  const base = join(sys, "block");
  const names = (await listDir(base)).filter((name) => !VIRTUAL_DISK.test(name));
  const owners = new Map<string, string>();
  const disks = await Promise.all(names.map(async (name): Promise<BlockDevice> => {
    const [rotational, dev, entries] = await Promise.all([
      readOptional(join(base, name, "queue", "rotational")),
      readOptional(join(base, name, "dev")),
      listDir(join(base, name)),
    ]);
    if (dev) owners.set(dev.trim(), name);
    const partitions = entries.filter((entry) => entry.startsWith(name) && entry !== name);
    await Promise.all(partitions.map(async (partition) => {
      const partDev = await readOptional(join(base, name, partition, "dev"));
      if (partDev) owners.set(partDev.trim(), name);
    }));
    return { name, rotational: rotational?.trim() === "1" };
  }));
  return { disks, owners };
}

/**
 * The disks fingerprinter.
 *
 * @throws {Error} from `read()` when the data directory cannot be measured
 */
export function disksFingerprinter(options: DisksFingerprinterOptions): Fingerprinter<"disks"> {
  if (typeof options?.dataDir !== "string" || options.dataDir === "") {
    throw new TypeError('Invalid option "dataDir": must be the path of the agent\'s data directory');
  }
  const roots = resolveRoots(options.roots);
  const clock = options.clock ?? systemClock;
  const dataDir = options.dataDir;
  return {
    area: "disks",
    periodMs: options.periodMs ?? DISKS_PERIOD_MS,
    async read(): Promise<DiskReading> {
      let real: string;
      let fs: Awaited<ReturnType<typeof statfs>>;
      try {
        real = await Deno.realPath(dataDir);
        fs = await statfs(real);
      } catch (error) {
        throw new Error(`Cannot measure the data directory "${dataDir}": ${errorMessage(error)}`, { cause: error });
      }
      const [mountinfo, { disks, owners }] = await Promise.all([
        readOptional(join(roots.proc, "self", "mountinfo")),
        readBlockDevices(roots.sys),
      ]);
      const mount = mountinfo === null ? null : mountOf(parseMountInfo(mountinfo), real);
      const disk = mount ? owners.get(mount.device) ?? null : null;
      const block = disks.find((d) => d.name === disk);
      // Sizes count in fragments (f_frsize), as df counts them; Node's type omits the field Deno fills in.
      const frsize = (fs as { frsize?: unknown }).frsize;
      const blockSize = typeof frsize === "number" && frsize > 0 ? frsize : fs.bsize;
      return {
        path: dataDir,
        mountPoint: mount?.mountPoint ?? null,
        source: mount?.source ?? null,
        fsType: mount?.fsType ?? null,
        disk,
        nonRotational: block ? !block.rotational : null,
        capacityBytes: fs.blocks * blockSize,
        availableBytes: fs.bavail * blockSize,
        usedBytes: (fs.blocks - fs.bfree) * blockSize,
        inodes: fs.files,
        inodesFree: fs.ffree,
        blockDevices: disks,
        sampledAt: clock.now(),
      };
    },
  };
}
