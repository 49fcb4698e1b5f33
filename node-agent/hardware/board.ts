/**
 * The board fingerprinter: the machine's model (the device tree's `model`
 * on a Raspberry Pi and other ARM boards, DMI vendor and product on x86),
 * the distribution from `/etc/os-release`, the kernel version, machine id,
 * boot id and system UUID.
 *
 * @module
 */

import { join } from "node:path";
import { type Clock, systemClock } from "@skiff/api";
import { readOptional, readRequired } from "./_read.ts";
import { type BoardReading, type Fingerprinter, type HostRoots, type OsRelease, resolveRoots } from "./readings.ts";

/** Default period of the board fingerprinter: 10 minutes (it changes only across reboots). */
export const BOARD_PERIOD_MS = 600_000;

/** Options of {@linkcode boardFingerprinter}. */
export interface BoardFingerprinterOptions {
  /** Where procfs, sysfs and /etc are (default the host's). */
  roots?: Partial<HostRoots>;
  /** Clock for `sampledAt` (default the system clock). */
  clock?: Clock;
  /** Period in milliseconds (default {@linkcode BOARD_PERIOD_MS}). */
  periodMs?: number;
}

/** Placeholders firmware vendors leave in DMI fields. */
const DMI_PLACEHOLDER =
  /^(to be filled by o\.?e\.?m\.?|default string|system product name|system manufacturer|o\.?e\.?m\.?|not applicable|not specified|none|unknown|123456789|x\.x)$/i;

/**
 * Fields of an os-release file: `KEY=value` lines, values optionally
 * quoted, with shell escapes inside double quotes.
 */
export function parseOsRelease(text: string): OsRelease {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!match) continue;
    let value = match[2] as string;
    if (value.length >= 2 && value[0] === '"' && value.endsWith('"')) {
      value = value.slice(1, -1).replace(/\\(["\\$`])/g, "$1");
    } else if (value.length >= 2 && value[0] === "'" && value.endsWith("'")) {
      value = value.slice(1, -1);
    }
    fields.set(match[1] as string, value);
  }
  const id = fields.get("ID") ?? "linux";
  return {
    id,
    versionId: fields.get("VERSION_ID") ?? "",
    prettyName: fields.get("PRETTY_NAME") ?? fields.get("NAME") ?? id,
  };
}

/** The text of a device-tree string property: NUL-terminated, sometimes several NUL-separated strings. */
export function deviceTreeString(raw: string): string {
  return raw.split("\0")[0]?.trim() ?? "";
}

/** A DMI field's value, or empty when absent or a firmware placeholder. */
function dmiValue(raw: string | null): string {
  const value = raw?.trim() ?? "";
  return DMI_PLACEHOLDER.test(value) ? "" : value;
}

/** The board model from DMI vendor and product: `Intel(R) Client Systems NUC11TNHi5`. */
function dmiModel(vendor: string, product: string): string | null {
  if (!product) return null;
  if (!vendor || product.toLowerCase().startsWith(vendor.toLowerCase())) return product;
  return `${vendor} ${product}`;
}

/** The board fingerprinter. */
export function boardFingerprinter(options: BoardFingerprinterOptions = {}): Fingerprinter<"board"> {
  const roots = resolveRoots(options.roots);
  const clock = options.clock ?? systemClock;
  const dmi = (field: string) => readOptional(join(roots.sys, "class", "dmi", "id", field));
  return {
    area: "board",
    periodMs: options.periodMs ?? BOARD_PERIOD_MS,
    async read(): Promise<BoardReading> {
      const [dtModel, sysVendor, productName, productUuid, osRelease, kernel, machineId, bootId] = await Promise.all([
        readOptional(join(roots.proc, "device-tree", "model")),
        dmi("sys_vendor"),
        dmi("product_name"),
        dmi("product_uuid"),
        readOptional(join(roots.etc, "os-release")),
        readRequired(join(roots.proc, "sys", "kernel", "osrelease"), "the kernel version"),
        readOptional(join(roots.etc, "machine-id")),
        readOptional(join(roots.proc, "sys", "kernel", "random", "boot_id")),
      ]);
      const model = (dtModel === null ? "" : deviceTreeString(dtModel)) ||
        dmiModel(dmiValue(sysVendor), dmiValue(productName));
      return {
        model: model || null,
        operatingSystem: Deno.build.os,
        osRelease: parseOsRelease(osRelease ?? ""),
        kernelVersion: kernel.trim(),
        machineId: machineId?.trim() ?? "",
        bootId: bootId?.trim() ?? "",
        systemUuid: dmiValue(productUuid),
        sampledAt: clock.now(),
      };
    },
  };
}
