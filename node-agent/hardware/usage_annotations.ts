/**
 * Node annotations carrying live hardware usage, which the scheduler and
 * the CLI read: temperature, throttling, CPU, memory and disk usage, and
 * network traffic.
 *
 * Values change on every reading, so a caller deciding whether node status
 * "changed" should compare labels, capacity and conditions, not these.
 *
 * @module
 */

import {
  ANNOTATION_CPU_USAGE_PERCENT,
  ANNOTATION_MEMORY_USAGE_PERCENT,
  ANNOTATION_TEMPERATURE_CELSIUS,
  ANNOTATION_THROTTLED,
} from "@skiff/api";
import type { HardwareReadings } from "./readings.ts";
import { isThrottled } from "./thermal.ts";

/** Hottest thermal zone in °C with one decimal, e.g. `81.5`. */
export const ANNOTATION_TEMPERATURE: string = ANNOTATION_TEMPERATURE_CELSIUS;
/** `true` while the CPU is throttled, frequency capped or at its soft temperature limit; else `false`. */
export { ANNOTATION_THROTTLED };
/** Busy share of all cores over the last window, 0-100 with one decimal. */
export const ANNOTATION_CPU_USAGE: string = ANNOTATION_CPU_USAGE_PERCENT;
/** Working set as a share of memory, 0-100 with one decimal. */
export const ANNOTATION_MEMORY_USAGE: string = ANNOTATION_MEMORY_USAGE_PERCENT;
/** Used share of the data directory's file system, 0-100 with one decimal. */
export const ANNOTATION_DISK_USAGE = "hardware.skiff.dev/disk-usage-percent";
/** Bytes received per second over physical interfaces, rounded. */
export const ANNOTATION_NETWORK_RX = "hardware.skiff.dev/network-receive-bytes-per-second";
/** Bytes sent per second over physical interfaces, rounded. */
export const ANNOTATION_NETWORK_TX = "hardware.skiff.dev/network-transmit-bytes-per-second";

/**
 * Every usage annotation. One the readings cannot give (no sensor, first
 * sample) is left out of {@linkcode usageAnnotations}: remove it from the
 * node (`null` in a merge patch) rather than leaving a stale value.
 */
export const USAGE_ANNOTATIONS: readonly string[] = [
  ANNOTATION_TEMPERATURE,
  ANNOTATION_THROTTLED,
  ANNOTATION_CPU_USAGE,
  ANNOTATION_MEMORY_USAGE,
  ANNOTATION_DISK_USAGE,
  ANNOTATION_NETWORK_RX,
  ANNOTATION_NETWORK_TX,
];

function percent(part: number, whole: number): string {
  return (whole > 0 ? Math.min(Math.max((part / whole) * 100, 0), 100) : 0).toFixed(1);
}

/**
 * The usage annotations that the readings can give.
 *
 * @example
 * ```ts
 * usageAnnotations(readings)["hardware.skiff.dev/temperature-celsius"]; // "81.5"
 * ```
 */
export function usageAnnotations(
  readings: Pick<HardwareReadings, "cpu" | "memory" | "thermal" | "disks" | "network">,
): Record<string, string> {
  const { cpu, memory, thermal, disks, network } = readings;
  const annotations: Record<string, string> = {};
  if (thermal.celsius !== null) annotations[ANNOTATION_TEMPERATURE] = thermal.celsius.toFixed(1);
  if (thermal.throttling !== null) annotations[ANNOTATION_THROTTLED] = String(isThrottled(thermal.throttling));
  if (cpu.usage !== null) annotations[ANNOTATION_CPU_USAGE] = cpu.usage.percent.toFixed(1);
  annotations[ANNOTATION_MEMORY_USAGE] = percent(memory.workingSetBytes, memory.totalBytes);
  annotations[ANNOTATION_DISK_USAGE] = percent(disks.usedBytes, disks.usedBytes + disks.availableBytes);
  if (network.rxBytesPerSecond !== null) {
    annotations[ANNOTATION_NETWORK_RX] = String(Math.round(network.rxBytesPerSecond));
  }
  if (network.txBytesPerSecond !== null) {
    annotations[ANNOTATION_NETWORK_TX] = String(Math.round(network.txBytesPerSecond));
  }
  return annotations;
}
