/**
 * Injected clocks, so that code which waits (leases, backoff, heartbeats,
 * compaction) is tested without sleeping.
 *
 * @module
 */

/** A source of time and timers. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` after `ms` milliseconds; returns a handle for {@linkcode Clock.clearTimeout}. */
  setTimeout(fn: () => void, ms: number): number;
  /** Cancels a timer. */
  clearTimeout(handle: number): void;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => Number(setTimeout(fn, ms)),
  clearTimeout: (handle) => clearTimeout(handle),
};

/**
 * A clock that moves only when told to. Timers due at or before the new time
 * fire, in order, during {@linkcode ManualClock.advance}.
 *
 * @example
 * ```ts
 * const clock = new ManualClock(0);
 * let fired = false;
 * clock.setTimeout(() => fired = true, 1000);
 * await clock.advance(1000); // fired is now true
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #next = 1;
  #timers = new Map<number, { at: number; fn: () => void }>();

  /** Creates a clock reading `start` ms since the epoch. */
  constructor(start: number = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  /** The current time. */
  now(): number {
    return this.#now;
  }

  /** Schedules `fn` at now + ms. */
  setTimeout(fn: () => void, ms: number): number {
    const handle = this.#next++;
    this.#timers.set(handle, { at: this.#now + Math.max(0, ms), fn });
    return handle;
  }

  /** Cancels a timer. */
  clearTimeout(handle: number): void {
    this.#timers.delete(handle);
  }

  /** How many timers are pending. */
  get pending(): number {
    return this.#timers.size;
  }

  /**
   * Moves time forward by `ms`, firing due timers in time order and letting
   * the promises they start settle between timers.
   */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      let dueHandle: number | undefined;
      let due: { at: number; fn: () => void } | undefined;
      for (const [handle, timer] of this.#timers) {
        if (timer.at <= target && (!due || timer.at < due.at)) {
          due = timer;
          dueHandle = handle;
        }
      }
      if (!due || dueHandle === undefined) break;
      this.#timers.delete(dueHandle);
      this.#now = Math.max(this.#now, due.at);
      due.fn();
      await settle();
    }
    this.#now = target;
    await settle();
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await new Promise<void>((resolve) => setTimeout(resolve, 0));
}
