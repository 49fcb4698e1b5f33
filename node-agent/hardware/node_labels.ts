/**
 * A node's labels from its readings: the well-known `kubernetes.io/arch`,
 * `kubernetes.io/os` and `kubernetes.io/hostname`, and node-feature-discovery
 * style `hardware.skiff.dev/…` labels the scheduler and users select on.
 *
 * @module
 */

import { LABEL_ARCH, LABEL_HOSTNAME, LABEL_OS, labelValueErrors } from "@skiff/api";
import { toLabelValue, toSlug } from "./_format.ts";
import type { HardwareReadings } from "./readings.ts";

/** CPU vendor, e.g. `Intel`, `AMD`, `ARM`. */
export const LABEL_CPU_VENDOR = "hardware.skiff.dev/cpu-vendor";
/** CPU model, e.g. `Cortex-A72`, `Intel-N100`. */
export const LABEL_CPU_MODEL = "hardware.skiff.dev/cpu-model";
/** Online logical CPUs, e.g. `4`. */
export const LABEL_CPU_CORES = "hardware.skiff.dev/cpu-cores";
/** Board model without its revision, e.g. `raspberry-pi-4-model-b`. */
export const LABEL_BOARD = "hardware.skiff.dev/board";
/** Kernel version, e.g. `6.6.51-v8`. */
export const LABEL_KERNEL_VERSION = "hardware.skiff.dev/kernel-version";
/** Distribution and version, e.g. `debian-12`. */
export const LABEL_OS_RELEASE = "hardware.skiff.dev/os-release";
/** Whether the data directory's disk is non-rotational (SSD, NVMe, SD card): `true` or `false`. */
export const LABEL_STORAGE_NONROTATIONAL = "hardware.skiff.dev/storage-nonrotational";

/** The board label's value: the model without ` Rev 1.4`, as a lower-case slug. */
export function boardLabelValue(model: string): string {
  return toSlug(model.replace(/\s+Rev\s+[\w.]+\s*$/i, ""));
}

/**
 * Labels of a node. Values that are unknown (no board model on a VM,
 * unresolved disk) are left out; every value is a valid label value.
 *
 * @throws {TypeError} when `hostname` is not a valid label value
 *
 * @example
 * ```ts
 * nodeLabels(readings, "pi-4");
 * // { "kubernetes.io/arch": "arm64", "kubernetes.io/os": "linux",
 * //   "kubernetes.io/hostname": "pi-4", "hardware.skiff.dev/board": "raspberry-pi-4-model-b", … }
 * ```
 */
export function nodeLabels(
  readings: Pick<HardwareReadings, "cpu" | "board" | "disks">,
  hostname: string,
): Record<string, string> {
  const host = hostname.toLowerCase();
  const hostErrors = labelValueErrors(host);
  if (host === "" || hostErrors.length > 0) {
    throw new TypeError(
      `Cannot use hostname "${hostname}" as label "${LABEL_HOSTNAME}": ${hostErrors.join("; ") || "must not be empty"}`,
    );
  }
  const { cpu, board, disks } = readings;
  const os = board.osRelease;
  const candidates: [string, string][] = [
    [LABEL_ARCH, cpu.arch],
    [LABEL_OS, board.operatingSystem],
    [LABEL_HOSTNAME, host],
    [LABEL_CPU_VENDOR, toLabelValue(cpu.vendor)],
    [LABEL_CPU_MODEL, toLabelValue(cpu.model)],
    [LABEL_CPU_CORES, String(cpu.cores)],
    [LABEL_BOARD, board.model === null ? "" : boardLabelValue(board.model)],
    [LABEL_KERNEL_VERSION, toLabelValue(board.kernelVersion)],
    [LABEL_OS_RELEASE, toLabelValue(os.versionId ? `${os.id}-${os.versionId}` : os.id)],
    [LABEL_STORAGE_NONROTATIONAL, disks.nonRotational === null ? "" : String(disks.nonRotational)],
  ];
  const labels: Record<string, string> = {};
  for (const [key, value] of candidates) {
    if (value !== "" && labelValueErrors(value).length === 0) labels[key] = value;
  }
  return labels;
}
