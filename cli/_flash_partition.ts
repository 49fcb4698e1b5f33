/**
 * Finds the boot (FAT) partition of a Raspberry Pi OS image or card from
 * its partition table (MBR or GPT, read with balena's `partitioninfo`),
 * and checks that a FAT file system really starts there.
 *
 * @module
 */

import { getPartitions } from "partitioninfo";

/** MBR partition types that hold FAT: FAT12, FAT16 (<32M, >32M, LBA), FAT32 (CHS, LBA). */
const FAT_MBR_TYPES: ReadonlySet<number> = new Set([0x01, 0x04, 0x06, 0x0b, 0x0c, 0x0e]);

/** GPT partition type GUIDs that hold FAT: Microsoft basic data, EFI system. */
const FAT_GPT_TYPES: ReadonlySet<string> = new Set([
  "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7",
  "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
]);

/** A FAT partition found on an image or a disk. */
export interface FatPartition {
  /** Its number in the partition table, from 1. */
  index: number;
  /** Where it starts, in bytes from the start of the image or disk. */
  offset: number;
  /** Its size in bytes. */
  size: number;
  /** The kind of partition table it was found in. */
  table: "mbr" | "gpt";
}

function isFatType(type: number | string): boolean {
  return typeof type === "number" ? FAT_MBR_TYPES.has(type) : FAT_GPT_TYPES.has(type.toUpperCase());
}

/** Whether the 512-byte boot sector holds a FAT file system (boot signature and FAT type string). */
function isFatBootSector(sector: Uint8Array): boolean {
  if (sector.length < 512 || sector[510] !== 0x55 || sector[511] !== 0xaa) return false;
  const text = (from: number) => new TextDecoder("latin1").decode(sector.subarray(from, from + 5));
  return text(0x52) === "FAT32" || text(0x36).startsWith("FAT");
}

async function readAt(path: string, offset: number, length: number): Promise<Uint8Array> {
  const file = await Deno.open(path, { read: true });
  try {
    await file.seek(offset, Deno.SeekMode.Start);
    const buffer = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      const n = await file.read(buffer.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    return buffer.subarray(0, filled);
  } finally {
    file.close();
  }
}

/**
 * The first FAT partition of the image or disk at `path` (on Raspberry Pi
 * OS, partition 1, `bootfs`).
 *
 * @throws {Error} when `path` has no partition table, no FAT partition, or
 * a partition typed FAT that holds no FAT file system; the message names `path`.
 */
export async function findBootPartition(path: string): Promise<FatPartition> {
  let table: Awaited<ReturnType<typeof getPartitions>>;
  try {
    table = await getPartitions(path, { includeExtended: false });
  } catch (error) {
    throw new Error(
      `Cannot read a partition table on "${path}": ${
        error instanceof Error ? error.message : error
      }; is it a Raspberry Pi OS image (uncompressed .img) or card?`,
      { cause: error },
    );
  }
  const partitions: { index: number; offset: number; size: number; type: number | string }[] = table.partitions;
  const found = partitions.find((p) => isFatType(p.type) && p.size > 0);
  if (!found) {
    const kinds = partitions.map((p) =>
      `${p.index}: ${typeof p.type === "number" ? `0x${p.type.toString(16).padStart(2, "0")}` : p.type}`
    );
    throw new Error(
      `No FAT partition on "${path}" (${table.type.toUpperCase()} partitions: ${
        kinds.length > 0 ? kinds.join(", ") : "none"
      }): a Raspberry Pi OS image has its boot partition (bootfs, FAT32) first`,
    );
  }
  const partition: FatPartition = { index: found.index, offset: found.offset, size: found.size, table: table.type };
  if (!isFatBootSector(await readAt(path, partition.offset, 512))) {
    throw new Error(
      `Partition ${partition.index} of "${path}" is typed FAT but holds no FAT file system: write a Raspberry Pi OS image onto it first`,
    );
  }
  return partition;
}
