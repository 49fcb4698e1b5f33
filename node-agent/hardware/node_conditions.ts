/**
 * A node's conditions from its readings, worded as the kubelet words them:
 * MemoryPressure, DiskPressure, PIDPressure, Skiff's ThermalPressure, and
 * Ready. Every call is a heartbeat (`lastHeartbeatTime` is now); a
 * condition's `lastTransitionTime` moves only when its status changes.
 *
 * @module
 */

import { CONDITION_THERMAL_PRESSURE } from "@skiff/api";
import type { Condition } from "@skiff/api";
import { rfc3339 } from "./_format.ts";
import type { HardwareReadings } from "./readings.ts";
import { describeThrottling, isThrottled } from "./thermal.ts";
import { type PressureThresholds, resolveThresholds } from "./thresholds.ts";

export { CONDITION_THERMAL_PRESSURE };

/** Options of {@linkcode nodeConditions}. */
export interface NodeConditionsOptions {
  /** The time of this heartbeat, ms since the epoch. */
  now: number;
  /** The node's current conditions, to keep transition times. */
  previous?: readonly Condition[];
  /** Pressure thresholds (default {@linkcode DEFAULT_THRESHOLDS}). */
  thresholds?: Partial<PressureThresholds>;
  /**
   * Why the node cannot run pods, from outside the hardware (container
   * runtime down, pod network not ready): any makes Ready False.
   */
  notReadyReasons?: readonly string[];
}

type Verdict = Pick<Condition, "status" | "reason" | "message">;

function percent(part: number, whole: number): number {
  return whole > 0 ? (part / whole) * 100 : 100;
}

function mebibytes(bytes: number): string {
  return `${Math.floor(bytes / (1024 * 1024))}Mi`;
}

function oneDecimal(value: number): string {
  return value.toFixed(1);
}

function memoryPressure(memory: HardwareReadings["memory"], t: PressureThresholds): Verdict {
  if (memory.availableBytes < t.memoryAvailableBytes) {
    return {
      status: "True",
      reason: "KubeletHasInsufficientMemory",
      message: `kubelet has insufficient memory available: ${mebibytes(memory.availableBytes)} available, threshold ${
        mebibytes(t.memoryAvailableBytes)
      }`,
    };
  }
  return { status: "False", reason: "KubeletHasSufficientMemory", message: "kubelet has sufficient memory available" };
}

function diskPressure(disks: HardwareReadings["disks"], t: PressureThresholds): Verdict {
  const free = percent(disks.availableBytes, disks.capacityBytes);
  const inodesFree = disks.inodes > 0 ? percent(disks.inodesFree, disks.inodes) : 100;
  const problems: string[] = [];
  if (free < t.diskAvailablePercent) {
    problems.push(
      `${oneDecimal(free)}% of "${disks.path}" is free, threshold ${t.diskAvailablePercent}%`,
    );
  }
  if (inodesFree < t.inodesFreePercent) {
    problems.push(`${oneDecimal(inodesFree)}% of inodes are free, threshold ${t.inodesFreePercent}%`);
  }
  if (problems.length > 0) {
    return {
      status: "True",
      reason: "KubeletHasDiskPressure",
      message: `kubelet has disk pressure: ${problems.join("; ")}`,
    };
  }
  return { status: "False", reason: "KubeletHasNoDiskPressure", message: "kubelet has no disk pressure" };
}

function pidPressure(pids: HardwareReadings["pids"], t: PressureThresholds): Verdict {
  const available = percent(pids.available, pids.limit);
  if (available < t.pidAvailablePercent) {
    return {
      status: "True",
      reason: "KubeletHasInsufficientPID",
      message:
        `kubelet has insufficient PID available: ${pids.available} of ${pids.limit} available, threshold ${t.pidAvailablePercent}%`,
    };
  }
  return { status: "False", reason: "KubeletHasSufficientPID", message: "kubelet has sufficient PID available" };
}

function thermalPressure(
  thermal: HardwareReadings["thermal"],
  t: PressureThresholds,
  wasUnderPressure: boolean,
): Verdict {
  const { celsius, throttling } = thermal;
  const power = throttling?.underVoltage
    ? "; under-voltage detected: use a power supply that delivers enough current"
    : "";
  if (throttling && isThrottled(throttling)) {
    const at = celsius === null ? "" : ` at ${oneDecimal(celsius)}°C`;
    return {
      status: "True",
      reason: "CPUThrottled",
      message: `CPU is throttled (${describeThrottling(throttling).join(", ")})${at}${power}`,
    };
  }
  if (celsius === null) {
    return {
      status: "False",
      reason: throttling ? "TemperatureUnknown" : "NoThermalSensor",
      message: throttling
        ? `no readable thermal zone; vcgencmd reports no throttling${power}`
        : "no readable thermal zone and no vcgencmd: temperature and throttling are not measured",
    };
  }
  const limit = wasUnderPressure ? t.temperatureCelsius - t.temperatureHysteresisCelsius : t.temperatureCelsius;
  if (celsius >= limit) {
    const detail = celsius >= t.temperatureCelsius
      ? `is at or above the ${t.temperatureCelsius}°C threshold`
      : `has not yet cooled below ${limit}°C since passing the ${t.temperatureCelsius}°C threshold`;
    return {
      status: "True",
      reason: "TemperatureHigh",
      message: `temperature ${oneDecimal(celsius)}°C ${detail}${power}`,
    };
  }
  return {
    status: "False",
    reason: "TemperatureNormal",
    message: `temperature ${oneDecimal(celsius)}°C is below the ${limit}°C threshold${power}`,
  };
}

function ready(problems: readonly string[]): Verdict {
  if (problems.length > 0) return { status: "False", reason: "KubeletNotReady", message: problems.join(", ") };
  return { status: "True", reason: "KubeletReady", message: "kubelet is posting ready status" };
}

/**
 * The node's conditions, in the kubelet's order with ThermalPressure before
 * Ready.
 *
 * @throws {TypeError} or {RangeError} naming a threshold that is invalid
 *
 * @example
 * ```ts
 * let conditions = nodeConditions(readings, { now: Date.now() });
 * // later, keeping transition times:
 * conditions = nodeConditions(readings, { now: Date.now(), previous: conditions });
 * ```
 */
export function nodeConditions(
  readings: Pick<HardwareReadings, "memory" | "disks" | "pids" | "thermal">,
  options: NodeConditionsOptions,
): Condition[] {
  if (!Number.isFinite(options?.now)) {
    throw new TypeError(`Invalid option "now": ${options?.now} is not a time in milliseconds`);
  }
  const thresholds = resolveThresholds(options.thresholds);
  const previous = new Map((options.previous ?? []).map((c) => [c.type, c]));
  const now = rfc3339(options.now);
  const verdicts: [string, Verdict][] = [
    ["MemoryPressure", memoryPressure(readings.memory, thresholds)],
    ["DiskPressure", diskPressure(readings.disks, thresholds)],
    ["PIDPressure", pidPressure(readings.pids, thresholds)],
    [
      CONDITION_THERMAL_PRESSURE,
      thermalPressure(readings.thermal, thresholds, previous.get(CONDITION_THERMAL_PRESSURE)?.status === "True"),
    ],
    ["Ready", ready(options.notReadyReasons ?? [])],
  ];
  return verdicts.map(([type, verdict]) => {
    const before = previous.get(type);
    const unchanged = before?.status === verdict.status && before.lastTransitionTime !== undefined;
    return {
      type,
      status: verdict.status,
      lastHeartbeatTime: now,
      lastTransitionTime: unchanged ? before.lastTransitionTime as string : now,
      reason: verdict.reason,
      message: verdict.message,
    };
  });
}
