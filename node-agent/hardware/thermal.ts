/**
 * The thermal fingerprinter: the temperature of every
 * `/sys/class/thermal/thermal_zone*` (the node's temperature is the hottest
 * one) and, on a Raspberry Pi, throttling from `vcgencmd get_throttled`.
 *
 * @module
 */

import { join } from "node:path";
import { type Clock, systemClock } from "@skiff/api";
import { errorMessage, listDir, readOptional } from "./_read.ts";
import { type Exec, isCommandNotFound, run as defaultExec } from "../_exec.ts";
import {
  type Fingerprinter,
  type HostRoots,
  resolveRoots,
  type ThermalReading,
  type ThermalZone,
  type Throttling,
} from "./readings.ts";

/** Default period of the thermal fingerprinter. */
export const THERMAL_PERIOD_MS = 10_000;

/** How long `vcgencmd` may take before it counts as failed. */
const VCGENCMD_TIMEOUT_MS = 3_000;

/** Options of {@linkcode thermalFingerprinter}. */
export interface ThermalFingerprinterOptions {
  /** Where sysfs is (default `/sys`). */
  roots?: Partial<HostRoots>;
  /** Clock for `sampledAt` (default the system clock). */
  clock?: Clock;
  /** Runs `vcgencmd` (default: spawns it). */
  exec?: Exec;
  /** Period in milliseconds (default {@linkcode THERMAL_PERIOD_MS}). */
  periodMs?: number;
}

/**
 * Decodes the bit field of `vcgencmd get_throttled`, given as its output
 * (`throttled=0x50005`) or as the number.
 *
 * @throws {TypeError} when the output is not `throttled=0x…`
 *
 * @example
 * ```ts
 * const t = parseThrottled("throttled=0x50005");
 * t.underVoltage; // true
 * t.throttled; // true
 * t.throttledOccurred; // true
 * ```
 */
export function parseThrottled(output: string | number): Throttling {
  let raw: number;
  if (typeof output === "number") {
    raw = output;
  } else {
    const match = /^\s*throttled=(0x[0-9a-fA-F]+|\d+)\s*$/.exec(output);
    if (!match) {
      const shown = output.trim().slice(0, 80);
      throw new TypeError(`Cannot parse vcgencmd output "${shown}": expected "throttled=0x…"`);
    }
    raw = Number(match[1]);
  }
  if (!Number.isSafeInteger(raw) || raw < 0) {
    throw new TypeError(`Cannot decode throttling bits ${raw}: must be a non-negative integer`);
  }
  const bit = (n: number) => Math.floor(raw / 2 ** n) % 2 === 1;
  return {
    raw,
    underVoltage: bit(0),
    armFrequencyCapped: bit(1),
    throttled: bit(2),
    softTemperatureLimit: bit(3),
    underVoltageOccurred: bit(16),
    armFrequencyCappedOccurred: bit(17),
    throttledOccurred: bit(18),
    softTemperatureLimitOccurred: bit(19),
  };
}

/** Whether the CPU runs slower than it should right now: frequency capped, throttled or at the soft temperature limit. */
export function isThrottled(throttling: Throttling | null): boolean {
  return throttling !== null &&
    (throttling.throttled || throttling.armFrequencyCapped || throttling.softTemperatureLimit);
}

/** What the throttling bits say is true now, in words, e.g. `["under-voltage", "throttled"]`. */
export function describeThrottling(throttling: Throttling): string[] {
  const now: string[] = [];
  if (throttling.underVoltage) now.push("under-voltage");
  if (throttling.armFrequencyCapped) now.push("ARM frequency capped");
  if (throttling.throttled) now.push("throttled");
  if (throttling.softTemperatureLimit) now.push("soft temperature limit active");
  return now;
}

/** Reads every thermal zone that reports a plausible temperature. */
async function readZones(sys: string): Promise<ThermalZone[]> {
  const base = join(sys, "class", "thermal");
  const names = (await listDir(base)).filter((name) => name.startsWith("thermal_zone"));
  const zones = await Promise.all(names.map(async (zone): Promise<ThermalZone | null> => {
    const [temp, type] = await Promise.all([
      readOptional(join(base, zone, "temp")),
      readOptional(join(base, zone, "type")),
    ]);
    const milli = Number(temp?.trim() || NaN);
    // Drivers report errors as absurd values (-273000, 0x7fffffff): skip them.
    if (!Number.isFinite(milli) || milli <= -50_000 || milli >= 200_000) return null;
    return { zone, type: type?.trim() ?? "", celsius: milli / 1000 };
  }));
  return zones.filter((zone): zone is ThermalZone => zone !== null);
}

/**
 * The thermal fingerprinter. `vcgencmd` is tried on every read until it
 * turns out not to exist; a failure of an existing `vcgencmd` leaves
 * `throttling` null and says why in `throttlingError`.
 */
export function thermalFingerprinter(options: ThermalFingerprinterOptions = {}): Fingerprinter<"thermal"> {
  const roots = resolveRoots(options.roots);
  const clock = options.clock ?? systemClock;
  const exec = options.exec ?? defaultExec;
  let vcgencmdMissing = false;

  async function readThrottling(): Promise<{ throttling: Throttling | null; error: string | null }> {
    if (vcgencmdMissing) return { throttling: null, error: null };
    try {
      const result = await exec(["vcgencmd", "get_throttled"], { timeoutMs: VCGENCMD_TIMEOUT_MS, check: false });
      if (result.code !== 0) {
        const detail = (result.stderr.trim() || result.stdout.trim()).slice(0, 200);
        return { throttling: null, error: `vcgencmd get_throttled exited with code ${result.code}: ${detail}` };
      }
      return { throttling: parseThrottled(result.stdout), error: null };
    } catch (error) {
      if (isCommandNotFound(error)) {
        vcgencmdMissing = true;
        return { throttling: null, error: null };
      }
      return { throttling: null, error: errorMessage(error) };
    }
  }

  return {
    area: "thermal",
    periodMs: options.periodMs ?? THERMAL_PERIOD_MS,
    async read(): Promise<ThermalReading> {
      const [zones, { throttling, error }] = await Promise.all([readZones(roots.sys), readThrottling()]);
      const celsius = zones.length === 0 ? null : Math.max(...zones.map((zone) => zone.celsius));
      return { celsius, zones, throttling, throttlingError: error, sampledAt: clock.now() };
    },
  };
}
