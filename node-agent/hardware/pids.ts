/**
 * The pids fingerprinter: how many tasks the kernel allows (`pid_max`,
 * `threads-max`) and how many exist (`/proc/loadavg`), for PID pressure.
 *
 * @module
 */

import { join } from "node:path";
import { type Clock, systemClock } from "@skiff/api";
import { parseInteger, readOptional, readRequired } from "./_read.ts";
import { type Fingerprinter, type HostRoots, type PidReading, resolveRoots } from "./readings.ts";

/** Default period of the pids fingerprinter. */
export const PIDS_PERIOD_MS = 10_000;

/** Options of {@linkcode pidsFingerprinter}. */
export interface PidsFingerprinterOptions {
  /** Where procfs is (default `/proc`). */
  roots?: Partial<HostRoots>;
  /** Clock for `sampledAt` (default the system clock). */
  clock?: Clock;
  /** Period in milliseconds (default {@linkcode PIDS_PERIOD_MS}). */
  periodMs?: number;
}

/**
 * The number of tasks in the text of `/proc/loadavg`
 * (`0.35 0.45 0.54 1/126 9266`: the 126).
 *
 * @throws {TypeError} when the fourth field is not `running/total`
 */
export function parseLoadavgTasks(text: string): number {
  const field = text.trim().split(/\s+/)[3];
  const total = field?.split("/")[1];
  return parseInteger(total, `the task count in /proc/loadavg field "${field ?? ""}"`);
}

/** The pids fingerprinter. */
export function pidsFingerprinter(options: PidsFingerprinterOptions = {}): Fingerprinter<"pids"> {
  const roots = resolveRoots(options.roots);
  const clock = options.clock ?? systemClock;
  const kernel = join(roots.proc, "sys", "kernel");
  return {
    area: "pids",
    periodMs: options.periodMs ?? PIDS_PERIOD_MS,
    async read(): Promise<PidReading> {
      const [pidMax, threadsMax, loadavg] = await Promise.all([
        readRequired(join(kernel, "pid_max"), "the PID limit"),
        readOptional(join(kernel, "threads-max")),
        readRequired(join(roots.proc, "loadavg"), "the task count"),
      ]);
      const limits = [parseInteger(pidMax, "kernel.pid_max")];
      if (threadsMax !== null) limits.push(parseInteger(threadsMax, "kernel.threads-max"));
      const limit = Math.min(...limits);
      const running = parseLoadavgTasks(loadavg);
      return { limit, running, available: Math.max(limit - running, 0), sampledAt: clock.now() };
    },
  };
}
