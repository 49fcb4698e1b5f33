/**
 * Automatic compaction: keeps a window of history (default 5 minutes and at
 * least 1,000 revisions) and drops the rest in bounded steps, then
 * checkpoints the WAL so files never grow without bound. An idle store is
 * left alone: no compaction, no checkpoint, no disk writes.
 *
 * @module
 */

import type { Clock } from "@skiff/api";

/** Tuning of automatic compaction. */
export interface CompactorOptions {
  /** History kept, in milliseconds (default 300,000: five minutes). */
  windowMs: number;
  /** Revisions always kept, whatever their age (default 1,000). */
  minRevisions: number;
  /** How often the compactor looks (default 30,000 ms). */
  intervalMs: number;
}

/** What the compactor needs of a store. */
export interface Compactable {
  /** The newest revision. */
  currentRevision(): number;
  /** The oldest readable revision. */
  compactRevision(): number;
  /** Drops history at and below a revision. */
  compact(revision: number): Promise<void>;
  /** Moves the WAL into the main file; true while free space remains worth reclaiming. */
  checkpoint(): Promise<boolean>;
}

/** Runs compaction periodically on an injected clock. */
export class Compactor {
  #store: Compactable;
  #clock: Clock;
  #options: CompactorOptions;
  #samples: { at: number; revision: number }[] = [];
  #timer: number | undefined;
  #running = false;
  #inflight: Promise<void> | undefined;
  #lastSeen = -1;
  #checkpointed = -1;
  #reclaiming = false;

  /** Creates a compactor; call {@linkcode Compactor.start}. */
  constructor(
    store: Compactable,
    clock: Clock,
    options: Partial<CompactorOptions> = {},
  ) {
    this.#store = store;
    this.#clock = clock;
    this.#options = {
      windowMs: 300_000,
      minRevisions: 1000,
      intervalMs: 30_000,
      ...options,
    };
  }

  /** Starts the periodic checks. */
  start(): void {
    this.#running = true;
    this.#checkpointed = this.#store.currentRevision();
    this.#schedule();
  }

  /** The periodic check under way (compaction and checkpoint), if any; it never rejects. */
  get inflight(): Promise<void> | undefined {
    return this.#inflight;
  }

  /** Stops the periodic checks. */
  stop(): void {
    this.#running = false;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** The revision the next check would compact to (0: nothing to do). */
  target(): number {
    const now = this.#clock.now();
    const current = this.#store.currentRevision();
    let aged = 0;
    for (const sample of this.#samples) {
      if (sample.at <= now - this.#options.windowMs) {
        aged = Math.max(aged, sample.revision);
      }
    }
    const target = Math.min(aged, current - this.#options.minRevisions);
    return target > this.#store.compactRevision() ? target : 0;
  }

  /** One check: records the revision, compacts what aged out, checkpoints after activity. */
  async tick(): Promise<void> {
    const now = this.#clock.now();
    const current = this.#store.currentRevision();
    this.#samples.push({ at: now, revision: current });
    const cutoff = now - this.#options.windowMs;
    while (this.#samples.length > 1 && this.#samples[1]!.at <= cutoff) {
      this.#samples.shift();
    }
    const target = this.target();
    const idle = current === this.#lastSeen;
    this.#lastSeen = current;
    if (target > 0) {
      await this.#store.compact(target);
      this.#reclaiming = await this.#store.checkpoint();
      this.#checkpointed = current;
    } else if (this.#reclaiming || (idle && current !== this.#checkpointed)) {
      this.#reclaiming = await this.#store.checkpoint();
      this.#checkpointed = current;
    }
  }

  #schedule(): void {
    if (!this.#running) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#schedule();
      if (this.#inflight) return;
      this.#inflight = this.tick().catch((err) => {
        console.error(
          `Store compaction failed: ${err instanceof Error ? err.message : err}; it is retried at the next interval`,
        );
      }).finally(() => this.#inflight = undefined);
    }, this.#options.intervalMs);
  }
}
