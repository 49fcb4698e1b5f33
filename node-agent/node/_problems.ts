/**
 * Logs a repeated problem once a minute rather than on every retry.
 *
 * @module
 */

import type { Clock } from "@skiff/api";

const QUIET_MS = 60_000;

/** Says each distinct line at most once a minute. */
export class Problems {
  readonly #log: (line: string) => void;
  readonly #clock: Clock;
  readonly #said = new Map<string, number>();

  /** Creates a logger writing to `log`, timed by `clock`. */
  constructor(log: (line: string) => void, clock: Clock) {
    this.#log = log;
    this.#clock = clock;
  }

  /** Logs `line` unless it was logged less than a minute ago. */
  report(line: string): void {
    const now = this.#clock.now();
    const last = this.#said.get(line);
    if (last !== undefined && now - last < QUIET_MS) return;
    if (this.#said.size > 256) this.#said.clear();
    this.#said.set(line, now);
    this.#log(line);
  }
}

/** The message of any thrown value. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
