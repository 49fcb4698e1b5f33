/**
 * The CPU fingerprinter: vendor, model and cores from `/proc/cpuinfo` and
 * `/proc/stat`, architecture from `Deno.build`, and live usage from the
 * difference between two `/proc/stat` samples (cheap: one small file).
 *
 * @module
 */

import { join } from "node:path";
import { type Clock, systemClock } from "@skiff/api";
import { readRequired } from "./_read.ts";
import { type CpuReading, type Fingerprinter, type HostRoots, resolveRoots } from "./readings.ts";

/** Default period of the CPU fingerprinter: usage every 5 s. */
export const CPU_PERIOD_MS = 5_000;

/** Options of {@linkcode cpuFingerprinter}. */
export interface CpuFingerprinterOptions {
  /** Where procfs is (default `/proc`). */
  roots?: Partial<HostRoots>;
  /** Clock for `sampledAt` and usage windows (default the system clock). */
  clock?: Clock;
  /** Machine architecture as `uname -m` or `Deno.build.arch` spell it (default `Deno.build.arch`). */
  arch?: string;
  /** Period in milliseconds (default {@linkcode CPU_PERIOD_MS}). */
  periodMs?: number;
}

/** The processor as `/proc/cpuinfo` describes it. */
export interface CpuIdentity {
  /** `Intel`, `AMD`, `ARM`…; empty when unknown. */
  vendor: string;
  /** Model name; for ARM cores, the core names (`Cortex-A72`, `Cortex-A55 + Cortex-A76`). */
  model: string;
}

/** Aggregate CPU time counters of one `/proc/stat` sample, in clock ticks. */
export interface CpuTimes {
  /** All time: user, nice, system, idle, iowait, irq, softirq, steal. */
  total: number;
  /** Idle and iowait time. */
  idle: number;
  /** Online CPUs (`cpuN` lines). */
  cores: number;
}

const X86_VENDORS: Readonly<Record<string, string>> = {
  GenuineIntel: "Intel",
  AuthenticAMD: "AMD",
  HygonGenuine: "Hygon",
  CentaurHauls: "Centaur",
  "  Shanghai  ": "Zhaoxin",
};

/** ARM implementer codes (`CPU implementer`), as lscpu names them. */
const ARM_IMPLEMENTERS: Readonly<Record<number, string>> = {
  0x41: "ARM",
  0x42: "Broadcom",
  0x43: "Cavium",
  0x48: "HiSilicon",
  0x4e: "NVIDIA",
  0x51: "Qualcomm",
  0x53: "Samsung",
  0x61: "Apple",
  0xc0: "Ampere",
};

/** Part codes (`CPU part`) of ARM Ltd cores found on single-board computers and ARM servers. */
const ARM_PARTS: Readonly<Record<number, string>> = {
  0xb76: "ARM1176",
  0xc07: "Cortex-A7",
  0xc08: "Cortex-A8",
  0xc09: "Cortex-A9",
  0xc0f: "Cortex-A15",
  0xc0e: "Cortex-A17",
  0xd03: "Cortex-A53",
  0xd04: "Cortex-A35",
  0xd05: "Cortex-A55",
  0xd07: "Cortex-A57",
  0xd08: "Cortex-A72",
  0xd09: "Cortex-A73",
  0xd0a: "Cortex-A75",
  0xd0b: "Cortex-A76",
  0xd0c: "Neoverse-N1",
  0xd0d: "Cortex-A77",
  0xd40: "Neoverse-V1",
  0xd41: "Cortex-A78",
  0xd44: "Cortex-X1",
  0xd46: "Cortex-A510",
  0xd47: "Cortex-A710",
  0xd48: "Cortex-X2",
  0xd49: "Neoverse-N2",
  0xd80: "Cortex-A520",
  0xd81: "Cortex-A720",
};

/**
 * The Kubernetes name of a machine architecture: `x86_64` is `amd64`,
 * `aarch64` is `arm64`, `armv7l` is `arm`; unknown names pass through.
 */
export function kubernetesArch(machine: string): string {
  if (machine === "x86_64" || machine === "amd64") return "amd64";
  if (machine === "aarch64" || machine === "arm64") return "arm64";
  if (/^arm/.test(machine)) return "arm";
  if (/^i[3-6]86$/.test(machine)) return "386";
  return machine;
}

/** Vendor and model from the text of `/proc/cpuinfo`, on x86 and ARM alike. */
export function parseCpuInfo(text: string): CpuIdentity {
  let vendorId = "";
  let modelName = "";
  let hardware = "";
  const implementers: number[] = [];
  const parts: number[] = [];
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (key === "vendor_id" && !vendorId) vendorId = line.slice(colon + 2);
    else if (key === "model name" && !modelName) modelName = value;
    else if (key === "Hardware" && !hardware) hardware = value;
    else if (key === "CPU implementer") implementers.push(Number(value));
    else if (key === "CPU part" && !parts.includes(Number(value))) parts.push(Number(value));
  }
  const x86Vendor = X86_VENDORS[vendorId] ?? X86_VENDORS[vendorId.trim()] ?? vendorId.trim();
  if (x86Vendor) return { vendor: x86Vendor, model: modelName };
  const implementer = implementers[0];
  const vendor = implementer === undefined ? "" : ARM_IMPLEMENTERS[implementer] ?? "";
  const partNames = implementer === 0x41 ? parts.map((part) => ARM_PARTS[part]) : [];
  if (partNames.length > 0 && partNames.every((name) => name !== undefined)) {
    return { vendor, model: partNames.join(" + ") };
  }
  return { vendor, model: modelName || hardware };
}

/**
 * The aggregate counters of `/proc/stat`.
 *
 * @throws {TypeError} when the text has no `cpu` line
 */
export function parseProcStat(text: string): CpuTimes {
  let times: number[] | undefined;
  let cores = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("cpu ")) times = line.slice(4).trim().split(/\s+/).slice(0, 8).map(Number);
    else if (/^cpu\d+ /.test(line)) cores++;
  }
  if (!times || times.length < 4 || times.some((n) => !Number.isFinite(n))) {
    throw new TypeError('Cannot parse /proc/stat: no "cpu" line with time counters');
  }
  const total = times.reduce((sum, n) => sum + n, 0);
  const idle = (times[3] ?? 0) + (times[4] ?? 0);
  return { total, idle, cores: Math.max(cores, 1) };
}

/**
 * Usage between two samples `windowMs` apart, or `null` when the counters
 * did not move forward (same sample, counter reset).
 */
export function cpuUsage(
  previous: CpuTimes,
  next: CpuTimes,
  windowMs: number,
): { percent: number; nanocores: number; windowMs: number } | null {
  const total = next.total - previous.total;
  const idle = next.idle - previous.idle;
  if (!(total > 0) || idle < 0 || !(windowMs > 0)) return null;
  const busy = Math.min(Math.max((total - idle) / total, 0), 1);
  return { percent: busy * 100, nanocores: Math.round(busy * next.cores * 1e9), windowMs };
}

/**
 * The CPU fingerprinter. The first reading has `usage: null`; each later
 * one reports usage since the one before. Identity (`/proc/cpuinfo`) is read
 * on the first and on full reads only.
 *
 * @example
 * ```ts
 * const cpu = cpuFingerprinter();
 * await cpu.read();
 * const { usage } = await cpu.read(); // usage over the time between the two reads
 * ```
 */
export function cpuFingerprinter(options: CpuFingerprinterOptions = {}): Fingerprinter<"cpu"> {
  const roots = resolveRoots(options.roots);
  const clock = options.clock ?? systemClock;
  const arch = kubernetesArch(options.arch ?? Deno.build.arch);
  let identity: CpuIdentity | undefined;
  let previous: { times: CpuTimes; at: number } | undefined;
  let lastUsage: CpuReading["usage"] = null;
  return {
    area: "cpu",
    periodMs: options.periodMs ?? CPU_PERIOD_MS,
    async read(readOptions = {}): Promise<CpuReading> {
      if (!identity || readOptions.full) {
        identity = parseCpuInfo(await readRequired(join(roots.proc, "cpuinfo"), "the CPU model"));
      }
      const statPath = join(roots.proc, "stat");
      const text = await readRequired(statPath, "CPU time counters");
      const at = clock.now();
      const times = parseProcStat(text);
      const measured = previous ? cpuUsage(previous.times, times, at - previous.at) : null;
      // Counters that did not move (read twice within one tick) say nothing new: the last usage stands, and the
      // next reading measures from the last sample that moved. A counter reset starts over.
      if (measured || !previous || times.total < previous.times.total) previous = { times, at };
      if (measured) lastUsage = measured;
      const usage = measured ?? lastUsage;
      return { vendor: identity.vendor, model: identity.model, cores: times.cores, arch, usage, sampledAt: at };
    },
  };
}
