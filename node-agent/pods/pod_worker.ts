/**
 * One worker per pod: syncs run one at a time, and whatever asks for a
 * sync while one runs (a pod update, a container event, a probe result, a
 * timer) gets exactly one more sync afterwards, which reads the latest
 * state: the latest update wins and none is lost. A sync that fails is
 * retried with back-off; a sync can ask to run again after a delay (a
 * crash-loop back-off ending, a periodic resync). Timers run on the
 * injected clock.
 *
 * @module
 */

import { type Clock, systemClock } from "@skiff/api";

/** What a sync asks for next. */
export interface SyncOutcome {
  /** Run again after this many ms (the earliest request wins). */
  requeueAfterMs?: number;
}

/** Options of {@linkcode PodWorker}. */
export interface PodWorkerOptions {
  /** The sync; `signal` aborts when the worker stops or {@linkcode PodWorker.interrupt} is called. */
  sync: (signal: AbortSignal) => Promise<SyncOutcome | void>;
  /** Time source. */
  clock?: Clock;
  /** Told about a failed sync (it is retried). */
  onError?: (error: unknown) => void;
  /** First retry delay after a failed sync (default 1000 ms); doubles up to `maxRetryMs`. */
  retryMs?: number;
  /** Longest retry delay (default 60 s). */
  maxRetryMs?: number;
}

/** Runs a pod's syncs one at a time. */
export class PodWorker {
  readonly #sync: PodWorkerOptions["sync"];
  readonly #clock: Clock;
  readonly #onError: (error: unknown) => void;
  readonly #retryMs: number;
  readonly #maxRetryMs: number;
  #pending = false;
  #running: Promise<void> | undefined;
  #abort = new AbortController();
  #timer: { at: number; handle: number } | undefined;
  #failures = 0;
  #stopped = false;
  #syncs = 0;

  /** Creates an idle worker; {@linkcode PodWorker.wake} runs the first sync. */
  constructor(options: PodWorkerOptions) {
    this.#sync = options.sync;
    this.#clock = options.clock ?? systemClock;
    this.#onError = options.onError ?? (() => {});
    this.#retryMs = options.retryMs ?? 1000;
    this.#maxRetryMs = options.maxRetryMs ?? 60_000;
  }

  /** How many syncs have finished. */
  get syncs(): number {
    return this.#syncs;
  }

  /** Asks for a sync as soon as the current one (if any) ends. */
  wake(): void {
    if (this.#stopped) return;
    this.#pending = true;
    this.#running ??= this.#loop();
  }

  /** Asks for a sync after `ms`; an earlier pending request wins. */
  wakeAfter(ms: number): void {
    if (this.#stopped) return;
    if (ms <= 0) return this.wake();
    const at = this.#clock.now() + ms;
    if (this.#timer && this.#timer.at <= at) return;
    if (this.#timer) this.#clock.clearTimeout(this.#timer.handle);
    const handle = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.wake();
    }, ms);
    this.#timer = { at, handle };
  }

  /** Aborts the sync in progress (its signal fires) and asks for a new one. */
  interrupt(): void {
    this.#abort.abort();
    this.#abort = new AbortController();
    this.wake();
  }

  /** Stops the worker; resolves once the sync in progress (aborted) has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#pending = false;
    this.#abort.abort();
    if (this.#timer) this.#clock.clearTimeout(this.#timer.handle);
    this.#timer = undefined;
    await this.#running;
  }

  /** Whether a sync runs or is pending. */
  get busy(): boolean {
    return this.#running !== undefined;
  }

  /** Resolves once no sync runs or is pending. */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #loop(): Promise<void> {
    try {
      while (this.#pending && !this.#stopped) {
        this.#pending = false;
        const signal = this.#abort.signal;
        try {
          const outcome = await this.#sync(signal);
          this.#failures = 0;
          if (outcome?.requeueAfterMs !== undefined) this.wakeAfter(outcome.requeueAfterMs);
        } catch (error) {
          if (this.#stopped) break;
          if (!signal.aborted) {
            this.#onError(error);
            const delay = Math.min(this.#maxRetryMs, this.#retryMs * 2 ** this.#failures++);
            this.wakeAfter(delay);
          }
        } finally {
          this.#syncs++;
        }
      }
    } finally {
      this.#running = undefined;
    }
  }
}
