/**
 * The memory fingerprinter: capacity, available memory and working set from
 * `/proc/meminfo`, and memory pressure stall information from
 * `/proc/pressure/memory` where the kernel has it.
 *
 * @module
 */

import { join } from "node:path";
import { type Clock, systemClock } from "@skiff/api";
import { readOptional, readRequired } from "./_read.ts";
import { type Fingerprinter, type HostRoots, type MemoryPsi, type MemoryReading, resolveRoots } from "./readings.ts";

/** Default period of the memory fingerprinter. */
export const MEMORY_PERIOD_MS = 5_000;

/** Options of {@linkcode memoryFingerprinter}. */
export interface MemoryFingerprinterOptions {
  /** Where procfs is (default `/proc`). */
  roots?: Partial<HostRoots>;
  /** Clock for `sampledAt` (default the system clock). */
  clock?: Clock;
  /** Period in milliseconds (default {@linkcode MEMORY_PERIOD_MS}). */
  periodMs?: number;
}

/** The fields of `/proc/meminfo`, in bytes (`kB` values times 1024). */
export function parseMeminfo(text: string): Map<string, number> {
  const fields = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = /^([\w()]+):\s+(\d+)(?:\s+kB)?\s*$/.exec(line);
    if (!match) continue;
    const value = Number(match[2]);
    fields.set(match[1] as string, line.trimEnd().endsWith("kB") ? value * 1024 : value);
  }
  return fields;
}

/** The `avg10` figures of `/proc/pressure/memory`; `null` when absent or malformed. */
export function parsePsi(text: string | null): MemoryPsi | null {
  if (text === null) return null;
  const avg10 = (kind: string) => {
    const match = new RegExp(`^${kind} avg10=([\\d.]+)`, "m").exec(text);
    return match ? Number(match[1]) : undefined;
  };
  const some = avg10("some");
  if (some === undefined) return null;
  return { someAvg10: some, fullAvg10: avg10("full") ?? 0 };
}

/**
 * The memory reading from the text of `/proc/meminfo`. Kernels older than
 * 3.14 have no `MemAvailable`: it is estimated as free plus buffers plus
 * page cache.
 *
 * @throws {TypeError} when `MemTotal` is missing
 */
export function memoryFromMeminfo(
  text: string,
  options: { psi?: MemoryPsi | null; sampledAt: number },
): MemoryReading {
  const fields = parseMeminfo(text);
  const total = fields.get("MemTotal");
  if (total === undefined) throw new TypeError('Cannot parse /proc/meminfo: no "MemTotal" line');
  const available = Math.min(
    fields.get("MemAvailable") ??
      (fields.get("MemFree") ?? 0) + (fields.get("Buffers") ?? 0) + (fields.get("Cached") ?? 0),
    total,
  );
  return {
    totalBytes: total,
    availableBytes: available,
    workingSetBytes: total - available,
    swapTotalBytes: fields.get("SwapTotal") ?? 0,
    swapFreeBytes: fields.get("SwapFree") ?? 0,
    psi: options.psi ?? null,
    sampledAt: options.sampledAt,
  };
}

/** The memory fingerprinter. */
export function memoryFingerprinter(options: MemoryFingerprinterOptions = {}): Fingerprinter<"memory"> {
  const roots = resolveRoots(options.roots);
  const clock = options.clock ?? systemClock;
  return {
    area: "memory",
    periodMs: options.periodMs ?? MEMORY_PERIOD_MS,
    async read(): Promise<MemoryReading> {
      const [meminfo, pressure] = await Promise.all([
        readRequired(join(roots.proc, "meminfo"), "memory figures"),
        readOptional(join(roots.proc, "pressure", "memory")),
      ]);
      return memoryFromMeminfo(meminfo, { psi: parsePsi(pressure), sampledAt: clock.now() });
    },
  };
}
