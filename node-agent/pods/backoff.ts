/**
 * Per-key exponential back-off as the kubelet keeps it for restarting
 * crashed containers and for pulling images (client-go's
 * `flowcontrol.Backoff`): the first delay is `initialMs`, each further one
 * doubles up to `maxMs`, and a key whose last event is more than twice
 * `maxMs` old starts over. With the kubelet's numbers (10 s to 5 min) a
 * container that crashes again and again waits 10 s, 20 s, 40 s, … 5 min,
 * and one that ran for 10 minutes before crashing starts over at 10 s.
 *
 * @example
 * ```ts
 * import { ManualClock } from "@skiff/api";
 * import { Backoff } from "./backoff.ts";
 *
 * const clock = new ManualClock(0);
 * const backoff = new Backoff({ initialMs: 10_000, maxMs: 300_000, clock });
 * backoff.next("web", clock.now()); // first crash: restart now, next delay 10 s
 * backoff.isInBackOffSince("web", clock.now()); // true: a crash now waits 10 s
 * ```
 *
 * @module
 */

import { type Clock, systemClock } from "@skiff/api";

/** Options of {@linkcode Backoff}. */
export interface BackoffOptions {
  /** The first delay in ms. */
  initialMs: number;
  /** The longest delay in ms. */
  maxMs: number;
  /** Time source (default: the system clock). */
  clock?: Clock;
}

interface Entry {
  delayMs: number;
  lastUpdate: number;
}

/** The kubelet's crash-loop back-off: 10 s doubling to 5 min. */
export const CRASH_LOOP_BACKOFF = { initialMs: 10_000, maxMs: 300_000 } as const;
/** The kubelet's image pull back-off: 10 s doubling to 5 min. */
export const IMAGE_PULL_BACKOFF = { initialMs: 10_000, maxMs: 300_000 } as const;

/** Exponential back-off per key. */
export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #clock: Clock;
  readonly #entries = new Map<string, Entry>();

  /**
   * Creates an empty back-off.
   *
   * @throws {RangeError} when the delays are not positive or `maxMs` is below `initialMs`.
   */
  constructor(options: BackoffOptions) {
    if (!(options.initialMs > 0) || !(options.maxMs >= options.initialMs)) {
      throw new RangeError(
        `Invalid back-off: initialMs ${options.initialMs} must be positive and maxMs ${options.maxMs} at least as large`,
      );
    }
    this.#initialMs = options.initialMs;
    this.#maxMs = options.maxMs;
    this.#clock = options.clock ?? systemClock;
  }

  /** The current delay of `key` in ms (0 when it has none). */
  get(key: string): number {
    return this.#entries.get(key)?.delayMs ?? 0;
  }

  /**
   * Records an event of `key` at `eventTime` (ms): the delay doubles (up to
   * the maximum), or starts at the initial delay for a new or expired key.
   */
  next(key: string, eventTime: number): void {
    const entry = this.#entries.get(key);
    if (!entry || this.#expired(entry, eventTime)) {
      this.#entries.set(key, { delayMs: this.#initialMs, lastUpdate: eventTime });
      return;
    }
    entry.delayMs = Math.min(entry.delayMs * 2, this.#maxMs);
    entry.lastUpdate = eventTime;
  }

  /** Whether an event of `key` at `eventTime` is still inside its back-off now. */
  isInBackOffSince(key: string, eventTime: number): boolean {
    const entry = this.#entries.get(key);
    if (!entry || this.#expired(entry, eventTime)) return false;
    return this.#clock.now() - eventTime < entry.delayMs;
  }

  /** Whether `key` is still inside the back-off that started at its last event. */
  isInBackOffSinceUpdate(key: string): boolean {
    const entry = this.#entries.get(key);
    if (!entry || this.#expired(entry, this.#clock.now())) return false;
    return this.#clock.now() - entry.lastUpdate < entry.delayMs;
  }

  /** Ms left until the back-off of an event of `key` at `eventTime` ends (0 when it has). */
  remaining(key: string, eventTime: number): number {
    const entry = this.#entries.get(key);
    if (!entry || this.#expired(entry, eventTime)) return 0;
    return Math.max(0, eventTime + entry.delayMs - this.#clock.now());
  }

  /** Ms left until the back-off that started at the last event of `key` ends (0 when it has). */
  remainingSinceUpdate(key: string): number {
    const entry = this.#entries.get(key);
    if (!entry) return 0;
    return this.remaining(key, entry.lastUpdate);
  }

  /** Forgets `key`. */
  reset(key: string): void {
    this.#entries.delete(key);
  }

  /** Forgets every key for which `drop` is true. */
  forgetWhere(drop: (key: string) => boolean): void {
    for (const key of [...this.#entries.keys()]) if (drop(key)) this.#entries.delete(key);
  }

  /** Forgets keys whose last event is older than twice the maximum delay. */
  gc(): void {
    const now = this.#clock.now();
    for (const [key, entry] of this.#entries) if (this.#expired(entry, now)) this.#entries.delete(key);
  }

  #expired(entry: Entry, eventTime: number): boolean {
    return eventTime - entry.lastUpdate > 2 * this.#maxMs;
  }
}
