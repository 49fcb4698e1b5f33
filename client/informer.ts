/**
 * Informers: list, then watch from the list's revision, keeping a local
 * cache and telling handlers what changed. A 410 (compacted) relists and
 * reports the difference; a watch that ends is resumed from the last
 * revision seen; a periodic resync replays every object to the handlers.
 *
 * @module
 */

import { type Clock, CompactedError, type KubeObject, systemClock } from "@skiff/api";
import { objectKey, type ResourceClient, type WatchOptions } from "./api_client.ts";

/** What an informer tells its handlers. */
export interface InformerHandlers<T extends KubeObject> {
  /** An object appeared (or was seen in the first list). */
  add?(obj: T): void;
  /** An object changed (or a resync replayed it: then `old === obj`). */
  update?(old: T, obj: T): void;
  /** An object went away. */
  delete?(obj: T): void;
}

/** Options of {@linkcode Informer}. */
export interface InformerOptions {
  /** Only this namespace. */
  namespace?: string;
  /** Only objects with these labels. */
  labelSelector?: string;
  /** Only objects with these fields. */
  fieldSelector?: string;
  /** Replay every cached object to `update` this often (0: never). */
  resyncMs?: number;
  /** Wait this long before re-watching after an error (default 1 s). */
  retryMs?: number;
  /** Time source for resync and retries. */
  clock?: Clock;
  /** Server-side watch timeout in seconds (default 300; the watch is resumed). */
  watchTimeoutSeconds?: number;
  /** Called when listing or watching fails (the informer retries). */
  onError?: (err: unknown) => void;
}

/** A cached, watched view of one resource type. */
export class Informer<T extends KubeObject = KubeObject> {
  #resource: ResourceClient<T>;
  #options: InformerOptions;
  #clock: Clock;
  #cache = new Map<string, T>();
  #handlers: InformerHandlers<T>[] = [];
  #abort = new AbortController();
  #synced = Promise.withResolvers<void>();
  #hasSynced = false;
  #resourceVersion = "";
  #running: Promise<void> | undefined;
  #resyncTimer: number | undefined;

  /** Creates an informer; call {@linkcode Informer.start}. */
  constructor(resource: ResourceClient<T>, options: InformerOptions = {}) {
    this.#resource = resource;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** Adds handlers; call before {@linkcode Informer.start} to see the initial objects. */
  on(handlers: InformerHandlers<T>): this {
    this.#handlers.push(handlers);
    return this;
  }

  /** Starts listing and watching; resolves once the first list is cached. */
  start(): Promise<void> {
    this.#running ??= this.#run();
    this.#scheduleResync();
    return this.#synced.promise;
  }

  /** Stops watching. */
  stop(): void {
    this.#abort.abort();
    if (this.#resyncTimer !== undefined) this.#clock.clearTimeout(this.#resyncTimer);
  }

  /** True once the first list is cached. */
  get hasSynced(): boolean {
    return this.#hasSynced;
  }

  /** The resourceVersion the cache is current to. */
  get resourceVersion(): string {
    return this.#resourceVersion;
  }

  /** A cached object by key (`namespace/name` or `name`). */
  get(key: string): T | undefined {
    return this.#cache.get(key);
  }

  /** Every cached object. */
  list(): T[] {
    return [...this.#cache.values()];
  }

  /** How many objects are cached. */
  get size(): number {
    return this.#cache.size;
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.#relist();
          needList = false;
        }
        await this.#watch();
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof CompactedError) {
          needList = true;
          continue;
        }
        this.#options.onError?.(err);
        needList = !this.#hasSynced;
        await this.#sleep(this.#options.retryMs ?? 1000);
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const handle = this.#clock.setTimeout(resolve, ms);
      this.#abort.signal.addEventListener("abort", () => {
        this.#clock.clearTimeout(handle);
        resolve();
      }, { once: true });
    });
  }

  async #relist(): Promise<void> {
    const list = await this.#resource.listAll({
      ...(this.#options.namespace ? { namespace: this.#options.namespace } : {}),
      ...(this.#options.labelSelector ? { labelSelector: this.#options.labelSelector } : {}),
      ...(this.#options.fieldSelector ? { fieldSelector: this.#options.fieldSelector } : {}),
    });
    const seen = new Set<string>();
    for (const obj of list.items) {
      const key = objectKey(obj);
      seen.add(key);
      const old = this.#cache.get(key);
      this.#cache.set(key, obj);
      if (!old) this.#emit((h) => h.add?.(obj));
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.#emit((h) => h.update?.(old, obj));
    }
    for (const [key, old] of this.#cache) {
      if (seen.has(key)) continue;
      this.#cache.delete(key);
      this.#emit((h) => h.delete?.(old));
    }
    this.#resourceVersion = list.metadata.resourceVersion ?? "";
    if (!this.#hasSynced) {
      this.#hasSynced = true;
      this.#synced.resolve();
    }
  }

  async #watch(): Promise<void> {
    const options: WatchOptions = {
      resourceVersion: this.#resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds: this.#options.watchTimeoutSeconds ?? 300,
      signal: this.#abort.signal,
      ...(this.#options.namespace ? { namespace: this.#options.namespace } : {}),
      ...(this.#options.labelSelector ? { labelSelector: this.#options.labelSelector } : {}),
      ...(this.#options.fieldSelector ? { fieldSelector: this.#options.fieldSelector } : {}),
    };
    for await (const event of this.#resource.watch(options)) {
      const obj = event.object;
      if (obj.metadata?.resourceVersion) this.#resourceVersion = obj.metadata.resourceVersion;
      if (event.type === "BOOKMARK") continue;
      const key = objectKey(obj);
      const old = this.#cache.get(key);
      if (event.type === "DELETED") {
        this.#cache.delete(key);
        this.#emit((h) => h.delete?.(old ?? obj));
      } else {
        this.#cache.set(key, obj);
        if (old) this.#emit((h) => h.update?.(old, obj));
        else this.#emit((h) => h.add?.(obj));
      }
    }
  }

  #emit(call: (h: InformerHandlers<T>) => void): void {
    for (const h of this.#handlers) {
      try {
        call(h);
      } catch (err) {
        this.#options.onError?.(err);
      }
    }
  }

  #scheduleResync(): void {
    const every = this.#options.resyncMs ?? 0;
    if (every <= 0 || this.#abort.signal.aborted || this.#resyncTimer !== undefined) return;
    this.#resyncTimer = this.#clock.setTimeout(() => {
      this.#resyncTimer = undefined;
      for (const obj of this.#cache.values()) this.#emit((h) => h.update?.(obj, obj));
      this.#scheduleResync();
    }, every);
  }
}
