/**
 * What `skiff flash` may write to: an image file, or a whole disk that is
 * neither mounted nor the disk the system runs from. The mount table and
 * sysfs are read from injectable paths so that tests can describe any
 * machine.
 *
 * @module
 */

import { UsageError } from "./_errors.ts";

/** Where {@linkcode checkDevice} looks at the machine. */
export interface MachinePaths {
  /** The mount table (default `/proc/mounts`). */
  mounts?: string;
  /** Where sysfs is (default `/sys`). */
  sys?: string;
}

/** One line of the mount table. */
interface Mount {
  source: string;
  target: string;
}

/** Mount points whose disk is the one the system runs from. */
const SYSTEM_MOUNTS: ReadonlySet<string> = new Set(["/", "/boot", "/boot/firmware", "/usr", "/var"]);

/** Decodes the octal escapes (`\040` for a space) of /proc/mounts fields. */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

function parseMounts(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split("\n")) {
    const [source, target] = line.trim().split(/\s+/);
    if (source === undefined || target === undefined) continue;
    mounts.push({ source: unescapeMountField(source), target: unescapeMountField(target) });
  }
  return mounts;
}

function realPath(path: string): string {
  try {
    return Deno.realPathSync(path);
  } catch {
    return path;
  }
}

function readDir(path: string): string[] {
  try {
    return [...Deno.readDirSync(path)].map((entry) => entry.name);
  } catch {
    return [];
  }
}

function isPartitionName(name: string, sys: string): boolean {
  try {
    Deno.statSync(`${sys}/class/block/${name}/partition`);
    return true;
  } catch {
    return false;
  }
}

/**
 * The whole disks a block device name lives on: `sdb1` → `sdb`,
 * `mmcblk0p2` → `mmcblk0`, `nvme0n1p1` → `nvme0n1`; a device-mapper or md
 * device (LVM, RAID, LUKS) → the disks under it, from sysfs.
 */
export function disksOf(name: string, sys = "/sys"): string[] {
  const under = readDir(`${sys}/class/block/${name}/slaves`);
  if (under.length > 0) return [...new Set(under.flatMap((slave) => disksOf(slave, sys)))];
  if (isPartitionName(name, sys)) {
    const parent = realPath(`${sys}/class/block/${name}`).split("/").at(-2);
    if (parent !== undefined && parent !== "block") return [parent];
  }
  const numbered = /^((?:mmcblk|nvme\d+n|loop|md|nbd)\d+)p\d+$/.exec(name);
  if (numbered) return [numbered[1]!];
  const lettered = /^((?:s|v|xv|h)d[a-z]+)\d+$/.exec(name);
  if (lettered) return [lettered[1]!];
  return [name];
}

/** The kernel's name of a device path: `/dev/sdb1` → `sdb1`, `/dev/mapper/x` → `dm-0` (following links). */
function kernelName(path: string): string | undefined {
  if (!path.startsWith("/dev/")) return undefined;
  return realPath(path).replace(/^\/dev\//, "");
}

/**
 * Refuses to write `device` (a `/dev/…` path of a whole disk) when the
 * system runs from it or one of its partitions is mounted.
 *
 * @throws {UsageError} saying which partition is mounted where, and what to do.
 */
export async function checkDeviceNotInUse(device: string, paths: MachinePaths = {}): Promise<void> {
  const sys = paths.sys ?? "/sys";
  const mountsPath = paths.mounts ?? "/proc/mounts";
  let text: string;
  try {
    text = await Deno.readTextFile(mountsPath);
  } catch (error) {
    throw new Error(
      `Cannot read the mount table "${mountsPath}" to check that "${device}" is not in use: ${
        error instanceof Error ? error.message : error
      }`,
      { cause: error },
    );
  }
  const disk = kernelName(device);
  if (disk === undefined) {
    throw new UsageError(`Invalid --device "${device}": expected a disk under /dev, e.g. /dev/sdb`);
  }
  const uses = parseMounts(text).flatMap((mount) => {
    const name = kernelName(mount.source);
    return name !== undefined && disksOf(name, sys).includes(disk) ? [{ ...mount, name }] : [];
  });
  const system = uses.find((use) => SYSTEM_MOUNTS.has(use.target));
  if (system) {
    throw new UsageError(
      `Refusing to write "${device}": it is the disk this system runs from (${system.source} is mounted at ${system.target}); pick the card's disk, e.g. the one \`lsblk\` shows appear when you insert it`,
    );
  }
  const mounted = uses[0];
  if (mounted) {
    throw new UsageError(
      `Refusing to write "${device}": ${mounted.source} is mounted at ${mounted.target}; unmount it first (umount ${mounted.source})`,
    );
  }
}

/**
 * Checks that `device` is a whole disk that may be written, and returns its
 * path with links resolved.
 *
 * @throws {UsageError} when it does not exist, is not a block device, is a
 * partition, is mounted, or is the disk the system runs from.
 */
export async function checkDevice(device: string, paths: MachinePaths = {}): Promise<string> {
  const sys = paths.sys ?? "/sys";
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(device);
  } catch {
    throw new UsageError(`Invalid --device "${device}": it does not exist; \`lsblk\` lists the disks`);
  }
  if (!info.isBlockDevice) {
    throw new UsageError(
      `Invalid --device "${device}": it is not a block device; pass a disk such as /dev/sdb, or an image file with --image`,
    );
  }
  const resolved = realPath(device);
  const name = resolved.replace(/^\/dev\//, "");
  if (isPartitionName(name, sys)) {
    throw new UsageError(
      `Invalid --device "${device}": it is a partition; pass the whole card, e.g. --device /dev/${
        disksOf(name, sys)[0]
      }`,
    );
  }
  await checkDeviceNotInUse(resolved, paths);
  return resolved;
}

/**
 * Checks that `image` is a regular file that may be written.
 *
 * @throws {UsageError} when it does not exist or is not a regular file.
 */
export async function checkImage(image: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(image);
  } catch {
    throw new UsageError(
      `Invalid --image "${image}": it does not exist; download and uncompress a Raspberry Pi OS image`,
    );
  }
  if (info.isBlockDevice) {
    throw new UsageError(`Invalid --image "${image}": it is a block device; pass it with --device instead`);
  }
  if (!info.isFile) throw new UsageError(`Invalid --image "${image}": it is not a regular file`);
}
