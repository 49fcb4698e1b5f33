/**
 * Log lines with a bounded rate: each kind of problem is logged at most
 * once per interval, and the next line of that kind says how many were
 * left out, so a flood of bad packets cannot flood the log.
 *
 * @module
 */

import { type Clock, systemClock } from "@skiff/api";

/** Logs at most one line per key per interval. */
export class LogLimiter {
  #log: (line: string) => void;
  #intervalMs: number;
  #clock: Clock;
  #kinds = new Map<string, { lastAt: number; suppressed: number }>();

  /** Creates a limiter writing to `log`. */
  constructor(log: (line: string) => void, options: { intervalMs?: number; clock?: Clock } = {}) {
    this.#log = log;
    this.#intervalMs = options.intervalMs ?? 60_000;
    this.#clock = options.clock ?? systemClock;
  }

  /** Logs `line` unless a line of kind `key` was logged less than an interval ago. */
  log(key: string, line: string): void {
    const now = this.#clock.now();
    const kind = this.#kinds.get(key);
    if (kind && now - kind.lastAt < this.#intervalMs) {
      kind.suppressed++;
      return;
    }
    const suppressed = kind?.suppressed ?? 0;
    this.#kinds.set(key, { lastAt: now, suppressed: 0 });
    this.#log(suppressed > 0 ? `${line} (${suppressed} more like this were not logged)` : line);
  }
}
