/**
 * The work queue controllers reconcile from, as client-go's: keys are
 * de-duplicated while they wait, a key is never handed to two workers at
 * once (a key added while being processed runs again afterwards), and
 * failures are retried with per-key exponential backoff.
 *
 * @module
 */

import { type Clock, systemClock } from "@skiff/api";

/** Options of {@linkcode WorkQueue}. */
export interface WorkQueueOptions {
  /** First retry delay after a failure (default 5 ms). */
  baseDelayMs?: number;
  /** Longest retry delay (default 60 s). */
  maxDelayMs?: number;
  /** Time source for delays. */
  clock?: Clock;
}

/** A de-duplicating, rate-limited work queue of string keys. */
export class WorkQueue {
  #queue: string[] = [];
  #head = 0;
  #dirty = new Set<string>();
  #processing = new Set<string>();
  #failures = new Map<string, number>();
  #waiting: ((key: string | undefined) => void)[] = [];
  #timers = new Map<string, { at: number; handle: number }>();
  #shutdown = false;
  #clock: Clock;
  #base: number;
  #max: number;

  /** Creates an empty queue. */
  constructor(options: WorkQueueOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#base = options.baseDelayMs ?? 5;
    this.#max = options.maxDelayMs ?? 60_000;
  }

  /** Keys waiting (not counting those being processed or delayed). */
  get length(): number {
    return this.#queue.length - this.#head;
  }

  /** Queues `key` unless it already waits; a key being processed runs again once done. */
  add(key: string): void {
    if (this.#shutdown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    if (this.#processing.has(key)) return;
    this.#push(key);
  }

  #push(key: string): void {
    const waiter = this.#waiting.shift();
    if (waiter) {
      this.#dirty.delete(key);
      this.#processing.add(key);
      waiter(key);
      return;
    }
    this.#queue.push(key);
  }

  /** Queues `key` after `ms`; an earlier pending delay for the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.#shutdown) return;
    if (ms <= 0) return this.add(key);
    const at = this.#clock.now() + ms;
    const pending = this.#timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) this.#clock.clearTimeout(pending.handle);
    const handle = this.#clock.setTimeout(() => {
      this.#timers.delete(key);
      this.add(key);
    }, ms);
    this.#timers.set(key, { at, handle });
  }

  /** Queues `key` after its backoff: base * 2^failures, capped. */
  addRateLimited(key: string): void {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    this.addAfter(key, Math.min(this.#max, this.#base * 2 ** failures));
  }

  /** Forgets `key`'s failures (after a success). */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  /** How many times `key` has failed since it was last forgotten. */
  retries(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** The next key to process; undefined once the queue is shut down. Call {@linkcode done} after. */
  get(): Promise<string | undefined> {
    if (this.#head < this.#queue.length) {
      const key = this.#queue[this.#head++]!;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      this.#dirty.delete(key);
      this.#processing.add(key);
      return Promise.resolve(key);
    }
    if (this.#shutdown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Marks `key` processed; if it was added meanwhile, it is queued again. */
  done(key: string): void {
    this.#processing.delete(key);
    if (this.#dirty.has(key) && !this.#shutdown) this.#push(key);
  }

  /** Stops the queue: waiting and future `get()` calls return undefined. */
  shutdown(): void {
    this.#shutdown = true;
    for (const { handle } of this.#timers.values()) this.#clock.clearTimeout(handle);
    this.#timers.clear();
    for (const waiter of this.#waiting.splice(0)) waiter(undefined);
  }
}

/**
 * Runs `workers` loops that take keys from `queue` and reconcile them:
 * success forgets the key's failures, an error requeues it with backoff.
 * Resolves when the queue shuts down and the loops have finished.
 */
export async function runWorkers(
  queue: WorkQueue,
  workers: number,
  reconcile: (key: string) => Promise<void>,
  onError: (key: string, err: unknown) => void = () => {},
): Promise<void> {
  const loop = async () => {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      try {
        await reconcile(key);
        queue.forget(key);
      } catch (err) {
        onError(key, err);
        queue.addRateLimited(key);
      } finally {
        queue.done(key);
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, loop));
}
