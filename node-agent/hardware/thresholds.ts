/**
 * Thresholds at which a node reports pressure, and from which allocatable
 * resources keep a margin, as the kubelet's hard eviction thresholds do.
 *
 * @module
 */

/** When a node is under pressure. */
export interface PressureThresholds {
  /** MemoryPressure below this much available memory (kubelet `memory.available<100Mi`). */
  memoryAvailableBytes: number;
  /** DiskPressure below this share of free space on the data directory's file system (`nodefs.available<10%`). */
  diskAvailablePercent: number;
  /** DiskPressure below this share of free inodes (`nodefs.inodesFree<5%`). */
  inodesFreePercent: number;
  /** PIDPressure below this share of available process ids. */
  pidAvailablePercent: number;
  /** ThermalPressure at or above this temperature, in °C. */
  temperatureCelsius: number;
  /**
   * Once under thermal pressure, the node stays so until it cools this many
   * degrees below the threshold, so a node hovering at the threshold does
   * not flap.
   */
  temperatureHysteresisCelsius: number;
}

/** The defaults: kubelet's hard eviction thresholds, 10% of PIDs, 80 °C with 5 °C of hysteresis. */
export const DEFAULT_THRESHOLDS: Readonly<PressureThresholds> = Object.freeze({
  memoryAvailableBytes: 100 * 1024 * 1024,
  diskAvailablePercent: 10,
  inodesFreePercent: 5,
  pidAvailablePercent: 10,
  temperatureCelsius: 80,
  temperatureHysteresisCelsius: 5,
});

const PERCENTS: ReadonlySet<keyof PressureThresholds> = new Set([
  "diskAvailablePercent",
  "inodesFreePercent",
  "pidAvailablePercent",
]);

/**
 * `thresholds` completed with the defaults.
 *
 * @throws {TypeError} naming the field when a value is not a number
 * @throws {RangeError} naming the field when a value is negative, or a percentage above 100
 */
export function resolveThresholds(thresholds: Partial<PressureThresholds> = {}): PressureThresholds {
  const resolved = { ...DEFAULT_THRESHOLDS };
  for (const [key, value] of Object.entries(thresholds)) {
    const field = key as keyof PressureThresholds;
    if (!(field in DEFAULT_THRESHOLDS)) throw new TypeError(`Invalid threshold "${key}": no such threshold`);
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new TypeError(`Invalid threshold "${key}": ${String(value)} is not a number`);
    }
    if (field !== "temperatureCelsius" && value < 0) {
      throw new RangeError(`Invalid threshold "${key}": ${value} is negative`);
    }
    if (PERCENTS.has(field) && value > 100) {
      throw new RangeError(`Invalid threshold "${key}": ${value} is more than 100 percent`);
    }
    resolved[field] = value;
  }
  return resolved;
}
