/**
 * Bounds how many API requests the simulated nodes have in flight, so a
 * thousand nodes do not open a thousand requests at once.
 *
 * @module
 */

/** A counting semaphore around async calls. */
export class Limiter {
  #max: number;
  #running = 0;
  #waiting: (() => void)[] = [];

  /** Allows `max` calls at once. */
  constructor(max: number) {
    this.#max = max;
  }

  /** Calls in flight. */
  get running(): number {
    return this.#running;
  }

  /** Runs `fn` once a slot is free. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#max) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#running++;
    try {
      return await fn();
    } finally {
      this.#running--;
      this.#waiting.shift()?.();
    }
  }
}
