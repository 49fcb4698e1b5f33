/**
 * The scheduling both NodeRoutes and ServiceProxy need: changes mark the
 * state dirty and start a sync after a short debounce; one sync runs at a
 * time and a change during it leads to one more; a failed sync retries
 * after a delay the caller picks.
 *
 * @module
 */

import type { Clock } from "@skiff/api";

/** Options of {@linkcode SerialSync}. */
export interface SerialSyncOptions {
  /** The clock timers run on. */
  clock: Clock;
  /** The least time from the end of one sync to the start of the next one a change causes. */
  debounceMs: number;
}

/** Runs `sync` one at a time, coalescing the changes that arrive meanwhile. */
export class SerialSync {
  readonly #sync: () => Promise<void>;
  readonly #clock: Clock;
  readonly #debounceMs: number;
  #timer: number | undefined;
  #running: Promise<void> | undefined;
  #dirty = false;
  #lastEndAt = -Infinity;
  #active = false;
  #stopped = false;

  /** `sync` is called with no other call of it under way. */
  constructor(sync: () => Promise<void>, options: SerialSyncOptions) {
    this.#sync = sync;
    this.#clock = options.clock;
    this.#debounceMs = options.debounceMs;
  }

  /** Whether {@linkcode stop} was called. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** From now on changes ({@linkcode request}) lead to syncs. */
  activate(): void {
    this.#active = true;
  }

  /** A change: a sync starts after the debounce (or after `delayMs`), unless one is pending already. */
  request(delayMs?: number): void {
    if (!this.#active || this.#stopped) return;
    this.#dirty = true;
    if (this.#timer !== undefined || this.#running) return;
    const wait = delayMs ?? Math.max(0, this.#lastEndAt + this.#debounceMs - this.#clock.now());
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#drain().catch(() => {});
    }, wait);
  }

  /** Syncs now, after any sync under way; rejects with what the sync threw. */
  now(): Promise<void> {
    this.#dirty = true;
    this.#clearTimer();
    return this.#drain();
  }

  /** After a failure: the next sync runs in `delayMs`, replacing any pending one. */
  retryIn(delayMs: number): void {
    this.#clearTimer();
    if (this.#stopped) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#dirty = true;
      this.#drain().catch(() => {});
    }, delayMs);
  }

  /** No more syncs start; waits for one under way. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#clearTimer();
    await this.#running?.catch(() => {});
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #drain(): Promise<void> {
    if (this.#running) return this.#running.then(() => this.#dirty ? this.#drain() : undefined);
    // Nothing to do: no sync starts, so nothing is left marked as running.
    if (!this.#dirty || this.#stopped) return Promise.resolve();
    this.#dirty = false;
    // The sync starts on a later tick, after #running is set, so its end always clears it.
    const running = Promise.resolve().then(() => this.#sync()).finally(() => {
      this.#running = undefined;
      this.#lastEndAt = this.#clock.now();
      if (this.#dirty) this.request();
    });
    this.#running = running;
    return running;
  }
}
