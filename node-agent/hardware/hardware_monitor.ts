/**
 * {@linkcode HardwareMonitor} composes one fingerprinter per hardware area
 * and reads each on its own period: cheap readings (CPU and network
 * counters, memory) every few seconds, slow ones (board, interface list)
 * every few minutes. Listeners hear of every new reading.
 *
 * @module
 */

import { type Clock, systemClock } from "@skiff/api";
import type { Exec } from "../_exec.ts";
import { errorMessage } from "./_read.ts";
import { boardFingerprinter } from "./board.ts";
import { cpuFingerprinter } from "./cpu.ts";
import { devicesFingerprinter } from "./devices.ts";
import { disksFingerprinter } from "./disks.ts";
import { memoryFingerprinter } from "./memory.ts";
import { type ListInterfaces, networkFingerprinter } from "./network.ts";
import { pidsFingerprinter } from "./pids.ts";
import {
  type AnyFingerprinter,
  HARDWARE_AREAS,
  type HardwareArea,
  type HardwareReadings,
  type HostRoots,
  type ReadOptions,
} from "./readings.ts";
import { thermalFingerprinter } from "./thermal.ts";

/**
 * The areas of a cheap round: what changes from second to second and costs
 * a file read or two (network reuses its cached interface list).
 */
export const CHEAP_AREAS: readonly HardwareArea[] = ["cpu", "memory", "thermal", "disks", "network", "pids"];

/** Called with the area just read and the readings including it. */
export type HardwareListener = (area: HardwareArea, readings: HardwareReadings) => void;

/** Options of {@linkcode HardwareMonitor}. */
export interface HardwareMonitorOptions {
  /** The agent's data directory; its file system is the node's ephemeral storage. */
  dataDir: string;
  /** Where procfs, sysfs, /dev and /etc are (default the host's). */
  roots?: Partial<HostRoots>;
  /** Clock for timers and timestamps (default the system clock). */
  clock?: Clock;
  /** Runs `vcgencmd` (default: spawns it). */
  exec?: Exec;
  /** Lists network interfaces (default: systeminformation). */
  listInterfaces?: ListInterfaces;
  /** Machine architecture (default `Deno.build.arch`). */
  arch?: string;
  /** Period of each area in milliseconds (defaults: each fingerprinter's). */
  periods?: Partial<Record<HardwareArea, number>>;
  /** Age after which the interface list is listed again (default 5 minutes). */
  interfacesPeriodMs?: number;
  /**
   * Told when a periodic reading fails; the last good reading stays
   * (default: a warning on standard error).
   */
  onError?: (area: HardwareArea, error: Error) => void;
}

/** Options of {@linkcode HardwareMonitor.refresh}. */
export interface RefreshOptions extends ReadOptions {
  /** Areas to read (default all). Before the first complete round, all are read anyway. */
  areas?: readonly HardwareArea[];
}

function defaultOnError(area: HardwareArea, error: Error): void {
  console.warn(`Hardware reading "${area}" failed, keeping the previous one: ${error.message}`);
}

/**
 * Reads the hardware periodically, one fingerprinter per area.
 *
 * @example
 * ```ts
 * const monitor = new HardwareMonitor({ dataDir: "/var/lib/skiff" });
 * const readings = await monitor.start();
 * console.log(readings.cpu.cores, readings.thermal.celsius);
 * monitor.onUpdate((area, latest) => console.log(area, latest[area].sampledAt));
 * // …
 * monitor.stop();
 * ```
 */
export class HardwareMonitor {
  #fingerprinters: ReadonlyMap<HardwareArea, AnyFingerprinter>;
  #clock: Clock;
  #onError: (area: HardwareArea, error: Error) => void;
  #latest: Partial<HardwareReadings> = {};
  #errors = new Map<HardwareArea, Error>();
  #timers = new Map<HardwareArea, number>();
  #inFlight = new Map<HardwareArea, Promise<void>>();
  #listeners = new Set<HardwareListener>();
  #running = false;

  /**
   * Creates a monitor; nothing is read until {@linkcode start} or {@linkcode refresh}.
   *
   * @throws {TypeError} when `dataDir` is missing or a period is not a positive number
   */
  constructor(options: HardwareMonitorOptions) {
    const clock = options.clock ?? systemClock;
    const periods = options.periods ?? {};
    for (const [area, period] of Object.entries(periods)) {
      if (!HARDWARE_AREAS.includes(area as HardwareArea)) {
        throw new TypeError(`Invalid option "periods.${area}": no such hardware area`);
      }
      if (!(typeof period === "number" && Number.isFinite(period) && period > 0)) {
        throw new TypeError(`Invalid option "periods.${area}": ${period} is not a positive number of milliseconds`);
      }
    }
    const common = { roots: options.roots ?? {}, clock };
    const list: AnyFingerprinter[] = [
      cpuFingerprinter({ ...common, arch: options.arch ?? Deno.build.arch, periodMs: periods.cpu }),
      memoryFingerprinter({ ...common, periodMs: periods.memory }),
      thermalFingerprinter({ ...common, ...(options.exec ? { exec: options.exec } : {}), periodMs: periods.thermal }),
      disksFingerprinter({ ...common, dataDir: options.dataDir, periodMs: periods.disks }),
      networkFingerprinter({
        ...common,
        ...(options.listInterfaces ? { listInterfaces: options.listInterfaces } : {}),
        periodMs: periods.network,
        interfacesPeriodMs: options.interfacesPeriodMs,
      }),
      boardFingerprinter({ ...common, periodMs: periods.board }),
      devicesFingerprinter({ ...common, periodMs: periods.devices }),
      pidsFingerprinter({ ...common, periodMs: periods.pids }),
    ];
    this.#fingerprinters = new Map(list.map((fp) => [fp.area, fp]));
    this.#clock = clock;
    this.#onError = options.onError ?? defaultOnError;
  }

  /** The period of each area, in milliseconds. */
  get periods(): Record<HardwareArea, number> {
    return Object.fromEntries(
      [...this.#fingerprinters].map(([area, fp]) => [area, fp.periodMs]),
    ) as Record<HardwareArea, number>;
  }

  /** Whether periodic reading is on. */
  get running(): boolean {
    return this.#running;
  }

  /**
   * The latest readings.
   *
   * @throws {Error} before the first complete round
   */
  get readings(): HardwareReadings {
    const missing = HARDWARE_AREAS.filter((area) => this.#latest[area] === undefined);
    if (missing.length > 0) {
      throw new Error(`No hardware readings yet for ${missing.join(", ")}: call start() or refresh() first`);
    }
    return this.#latest as HardwareReadings;
  }

  /** The error of each area whose last reading failed. */
  get errors(): ReadonlyMap<HardwareArea, Error> {
    return new Map(this.#errors);
  }

  /** Calls `listener` after every new reading; returns a function that unsubscribes. */
  onUpdate(listener: HardwareListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Reads every area fully, then reads each again on its own period until
   * {@linkcode stop}. Does nothing but return the readings when running.
   *
   * @throws {Error} naming each area that could not be read; nothing is scheduled then
   */
  async start(): Promise<HardwareReadings> {
    if (this.#running) return this.readings;
    const readings = await this.refresh({ full: true });
    this.#running = true;
    for (const area of this.#fingerprinters.keys()) this.#schedule(area);
    return readings;
  }

  /** Stops periodic reading; readings in flight still land. */
  stop(): void {
    this.#running = false;
    for (const handle of this.#timers.values()) this.#clock.clearTimeout(handle);
    this.#timers.clear();
  }

  /**
   * Reads `areas` now (a cheap round: {@linkcode CHEAP_AREAS}; a full round:
   * every area with `full: true`). An area already being read is not read
   * twice: the call waits for that reading.
   *
   * @throws {Error} naming each area that could not be read; the others are updated
   */
  async refresh(options: RefreshOptions = {}): Promise<HardwareReadings> {
    const complete = HARDWARE_AREAS.every((area) => this.#latest[area] !== undefined);
    const areas = complete ? options.areas ?? HARDWARE_AREAS : HARDWARE_AREAS;
    const results = await Promise.allSettled(areas.map((area) => this.#read(area, { full: options.full ?? false })));
    const failures = results.flatMap((result, i) =>
      result.status === "rejected" ? [`${areas[i]}: ${errorMessage(result.reason)}`] : []
    );
    if (failures.length > 0) {
      const first = results.find((result) => result.status === "rejected");
      throw new Error(`Cannot read the hardware: ${failures.join("; ")}`, {
        cause: first?.status === "rejected" ? first.reason : undefined,
      });
    }
    return this.readings;
  }

  #read(area: HardwareArea, options: ReadOptions): Promise<void> {
    const pending = this.#inFlight.get(area);
    if (pending) return pending;
    const fingerprinter = this.#fingerprinters.get(area) as AnyFingerprinter;
    const reading = (async () => {
      try {
        const value = await fingerprinter.read(options);
        this.#latest = { ...this.#latest, [area]: value };
        this.#errors.delete(area);
      } catch (error) {
        this.#errors.set(area, error instanceof Error ? error : new Error(String(error)));
        throw error;
      } finally {
        this.#inFlight.delete(area);
      }
      this.#notify(area);
    })();
    this.#inFlight.set(area, reading);
    return reading;
  }

  #notify(area: HardwareArea): void {
    if (HARDWARE_AREAS.some((a) => this.#latest[a] === undefined)) return;
    const readings = this.#latest as HardwareReadings;
    for (const listener of this.#listeners) {
      try {
        listener(area, readings);
      } catch (error) {
        this.#onError(area, new Error(`A hardware listener failed: ${errorMessage(error)}`, { cause: error }));
      }
    }
  }

  #schedule(area: HardwareArea): void {
    const fingerprinter = this.#fingerprinters.get(area) as AnyFingerprinter;
    const handle = this.#clock.setTimeout(async () => {
      try {
        await this.#read(area, {});
      } catch (error) {
        this.#onError(area, error instanceof Error ? error : new Error(String(error)));
      }
      if (this.#running && this.#timers.get(area) === handle) this.#schedule(area);
    }, fingerprinter.periodMs);
    this.#timers.set(area, handle);
  }
}
