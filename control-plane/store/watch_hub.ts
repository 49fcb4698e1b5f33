/**
 * The watch hub: fans committed events out to watchers. Each watcher has its
 * own bounded queue, so a slow watcher never blocks writers or other
 * watchers; one that falls too far behind is closed with a reason and the
 * revision to resume from. History before a watcher's start is replayed from
 * a ring of recent events, or from the backend's log when it is older.
 *
 * @module
 */

import { CompactedError } from "@skiff/api";
import type { WatchCloseReason, Watcher, WatchEvent } from "./store.ts";
import { prefixEnd } from "./_keys.ts";

/** Reads history from the backend: events in (after, upTo] under a key range. */
export type ReplaySource = (range: {
  prefix: string;
  end: string | undefined;
  after: number;
  upTo: number;
  limit: number;
}) => WatchEvent[];

/** Options of {@linkcode WatchHub}. */
export interface WatchHubOptions {
  /** Reads history older than the ring. */
  replay: ReplaySource;
  /** The newest committed revision. */
  currentRevision: () => number;
  /** The oldest revision that may be watched from. */
  compactRevision: () => number;
  /** Undelivered events a watcher may hold before it is closed (default 10,000). */
  bufferSize?: number;
  /** Recent events kept in memory for cheap replay (default 2,048). */
  ringSize?: number;
}

const REPLAY_PAGE = 1000;

/** Fans committed events out to watchers. */
export class WatchHub {
  #watchers = new Set<HubWatcher>();
  #ring: WatchEvent[] = [];
  #options: Required<WatchHubOptions>;

  /** Creates a hub over a backend's history. */
  constructor(options: WatchHubOptions) {
    this.#options = { bufferSize: 10_000, ringSize: 2048, ...options };
  }

  /** How many watchers are open. */
  get size(): number {
    return this.#watchers.size;
  }

  /**
   * Delivers committed events (ascending revisions, all newer than anything
   * published before) to every matching watcher.
   */
  publish(events: readonly WatchEvent[]): void {
    if (events.length === 0) return;
    this.#remember(events);
    for (const watcher of this.#watchers) watcher.deliver(events);
  }

  /**
   * Opens a watcher on keys under `prefix` for every event after
   * `afterRevision` (default: from now). Throws `CompactedError` when that
   * revision has been compacted.
   */
  watch(
    prefix: string,
    options: {
      afterRevision?: number;
      signal?: AbortSignal;
      bufferSize?: number;
    } = {},
  ): Watcher {
    const current = this.#options.currentRevision();
    const after = options.afterRevision === undefined ? current : Math.max(0, Math.min(options.afterRevision, current));
    const compacted = this.#options.compactRevision();
    if (after < compacted) {
      throw new CompactedError(
        `Cannot watch from revision ${after}: it has been compacted (oldest available is ${compacted})`,
        { compactRevision: compacted },
      );
    }
    const watcher = new HubWatcher({
      hub: this,
      prefix,
      after,
      startRevision: current,
      bufferSize: options.bufferSize ?? this.#options.bufferSize,
      onClose: (w) => this.#watchers.delete(w),
    });
    this.#watchers.add(watcher);
    if (options.signal) {
      if (options.signal.aborted) watcher.close();
      else {options.signal.addEventListener("abort", () => watcher.close(), {
          once: true,
        });}
    }
    return watcher;
  }

  /** Closes every watcher with `reason` (the store is closing). */
  closeAll(reason: WatchCloseReason): void {
    for (const watcher of [...this.#watchers]) watcher.end(reason);
  }

  /** History in (after, upTo] under a range, from the ring when it covers it. */
  replay(
    prefix: string,
    end: string | undefined,
    after: number,
    upTo: number,
  ): WatchEvent[] {
    const compacted = this.#options.compactRevision();
    if (after < compacted) {
      throw new CompactedError(
        `Cannot replay watch history from revision ${after}: it has been compacted (oldest available is ${compacted})`,
        { compactRevision: compacted },
      );
    }
    const ring = this.#ring;
    if (ring.length > 0 && ring[0]!.revision <= after + 1) {
      const out: WatchEvent[] = [];
      for (
        let i = lowerBound(ring, after + 1);
        i < ring.length && out.length < REPLAY_PAGE;
        i++
      ) {
        const ev = ring[i]!;
        if (ev.revision > upTo) break;
        if (inRange(ev.kv.key, prefix, end)) out.push(ev);
      }
      return out;
    }
    return this.#options.replay({
      prefix,
      end,
      after,
      upTo,
      limit: REPLAY_PAGE,
    });
  }

  #remember(events: readonly WatchEvent[]): void {
    const ring = this.#ring;
    for (const ev of events) ring.push(ev);
    const excess = ring.length - this.#options.ringSize;
    if (excess > 0) ring.splice(0, excess);
  }
}

function lowerBound(events: readonly WatchEvent[], revision: number): number {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (events[mid]!.revision < revision) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function inRange(
  key: string,
  prefix: string,
  end: string | undefined,
): boolean {
  return key >= prefix && (end === undefined || key < end);
}

interface HubWatcherInit {
  hub: WatchHub;
  prefix: string;
  after: number;
  startRevision: number;
  bufferSize: number;
  onClose: (w: HubWatcher) => void;
}

class HubWatcher implements Watcher {
  readonly startRevision: number;
  #hub: WatchHub;
  #prefix: string;
  #end: string | undefined;
  #replayedTo: number;
  #queue: WatchEvent[] = [];
  #bufferSize: number;
  #lastDelivered: number;
  #closeReason: WatchCloseReason | undefined;
  #wake: (() => void) | undefined;
  #onClose: (w: HubWatcher) => void;
  #iterating = false;

  constructor(init: HubWatcherInit) {
    this.#hub = init.hub;
    this.#prefix = init.prefix;
    this.#end = prefixEnd(init.prefix);
    this.#replayedTo = init.after;
    this.#lastDelivered = init.after;
    this.startRevision = init.startRevision;
    this.#bufferSize = init.bufferSize;
    this.#onClose = init.onClose;
  }

  get closeReason(): WatchCloseReason | undefined {
    return this.#closeReason;
  }

  deliver(events: readonly WatchEvent[]): void {
    if (this.#closeReason) return;
    for (const ev of events) {
      if (
        ev.revision > this.startRevision &&
        inRange(ev.kv.key, this.#prefix, this.#end)
      ) {
        this.#queue.push(ev);
      }
    }
    if (this.#queue.length > this.#bufferSize) {
      this.#queue = [];
      this.end({
        kind: "too-slow",
        lastRevision: this.#lastDelivered,
        message: `Watch closed: the watcher fell more than ${this.#bufferSize} events behind; ` +
          `resume from revision ${this.#lastDelivered}`,
      });
      return;
    }
    this.#signal();
  }

  close(): void {
    this.end({ kind: "closed" });
  }

  end(reason: WatchCloseReason): void {
    if (this.#closeReason) return;
    this.#closeReason = reason;
    this.#onClose(this);
    this.#signal();
  }

  #signal(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async #next(): Promise<IteratorResult<WatchEvent[]>> {
    for (;;) {
      if (this.#replayedTo < this.startRevision) {
        if (this.#closeReason) return { done: true, value: undefined };
        const events = this.#hub.replay(
          this.#prefix,
          this.#end,
          this.#replayedTo,
          this.startRevision,
        );
        if (events.length === 0) {
          this.#replayedTo = this.startRevision;
        } else {
          const last = events[events.length - 1]!.revision;
          this.#replayedTo = events.length < REPLAY_PAGE ? this.startRevision : last;
          this.#lastDelivered = last;
          return { done: false, value: events };
        }
        continue;
      }
      if (this.#queue.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        this.#lastDelivered = batch[batch.length - 1]!.revision;
        return { done: false, value: batch };
      }
      if (this.#closeReason) return { done: true, value: undefined };
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent[]> {
    if (this.#iterating) {
      throw new TypeError("A watcher can be iterated only once");
    }
    this.#iterating = true;
    return {
      next: () => this.#next(),
      return: () => {
        this.close();
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }
}
