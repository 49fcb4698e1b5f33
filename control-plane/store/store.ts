/**
 * The `Store` interface: Skiff's consistent key-value store, the role etcd
 * plays in Kubernetes. Every write appends to a log and gets the next global
 * revision; reads can be made at any revision not yet compacted; watchers see
 * every change after a revision, in order, with no gaps.
 *
 * Keys are strings (`/registry/pods/default/web-1`); values are strings
 * (JSON documents, as the API server stores them).
 *
 * @module
 */

/** One key's value as of some revision. */
export interface KeyValue {
  /** The key. */
  key: string;
  /** The value. */
  value: string;
  /** The revision that created this key (its current incarnation). */
  createRevision: number;
  /** The revision of the last write to this key. */
  modRevision: number;
  /** The lease the key is attached to, or 0. */
  lease: number;
}

/** Options of {@linkcode Store.list}. */
export interface ListOptions {
  /** Return at most this many keys; 0 or absent means no limit. */
  limit?: number;
  /** A token from a previous page's `continue`: resumes that list, at its revision. */
  continue?: string;
  /**
   * Read at this revision instead of the newest; fails with `CompactedError`
   * when the revision has been compacted away.
   */
  revision?: number;
}

/** One page of a list. */
export interface ListResult {
  /** The keys in key order. */
  items: KeyValue[];
  /** The revision every item of every page of this list was read at. */
  revision: number;
  /** A token to fetch the next page, absent on the last page. */
  continue?: string;
  /** How many keys remain after this page (exact). */
  remaining: number;
}

/** Options of the writes that may attach a lease. */
export interface PutOptions {
  /** Attach the key to this lease: it is deleted when the lease expires. */
  lease?: number;
}

/** Options of {@linkcode Store.update}. */
export interface UpdateOptions extends PutOptions {
  /**
   * Compare-and-swap: the write succeeds only if the key's current
   * modRevision equals this; otherwise `ConflictError`. Absent means
   * unconditional (the key must still exist).
   */
  expectedRevision?: number;
}

/** Options of {@linkcode Store.delete}. */
export interface DeleteOptions {
  /** Compare-and-swap on the key's current modRevision, as in update. */
  expectedRevision?: number;
}

/** The result of a write. */
export interface WriteResult {
  /** The revision the write was committed at. */
  revision: number;
  /** The key's state after the write (for delete: the last value, as deleted). */
  kv: KeyValue;
  /** The key's state before the write (absent for create). */
  prev?: KeyValue;
}

/** One change seen by a watcher. */
export interface WatchEvent {
  /** `put` covers both create and update; `delete` also covers lease expiry. */
  type: "put" | "delete";
  /** True when a put created the key. */
  created: boolean;
  /** The revision of the change. */
  revision: number;
  /**
   * The key's state after the change. For a delete, `value` is the last value
   * the key had and `modRevision` is the delete's revision.
   */
  kv: KeyValue;
  /** The key's state before the change, when it existed. */
  prev?: KeyValue;
}

/** Options of {@linkcode Store.watch}. */
export interface WatchOptions {
  /**
   * Deliver every event with a revision strictly greater than this (0: the
   * whole history). Absent means "from now". Fails with `CompactedError` when
   * compacted away.
   */
  afterRevision?: number;
  /** Stops the watch. */
  signal?: AbortSignal;
  /**
   * How many undelivered events may queue before the watcher is closed as
   * too slow; the default is the store's configured watch buffer.
   */
  bufferSize?: number;
}

/**
 * A stream of events. Iterating ends when the watch is closed (by abort, by
 * `close()`, by the store closing, or because the watcher fell too far
 * behind); `closeReason` then says why, and the caller may resume with a new
 * watch after the last revision it received.
 */
export interface Watcher extends AsyncIterable<WatchEvent[]> {
  /** The store revision when the watch was set up (events after it are live). */
  readonly startRevision: number;
  /** Why the watch ended, once it has; undefined while it is open. */
  readonly closeReason: WatchCloseReason | undefined;
  /** Stops the watch; iteration ends after already queued events. */
  close(): void;
}

/** Why a watch ended. */
export type WatchCloseReason =
  | { kind: "closed" }
  | { kind: "store-closed" }
  | { kind: "too-slow"; message: string; lastRevision: number };

/** A granted lease. */
export interface Lease {
  /** The lease id (never 0). */
  id: number;
  /** Time to live in seconds. */
  ttl: number;
  /** When the lease expires unless kept alive (ms since the epoch). */
  expiresAt: number;
}

/** The store's consistent key-value interface. Every backend implements it. */
export interface Store {
  /** The newest committed revision. */
  currentRevision(): number;
  /** The oldest revision that may still be read or watched from. */
  compactRevision(): number;

  /** Reads one key, at the newest revision or at `revision`. */
  get(
    key: string,
    options?: { revision?: number },
  ): Promise<KeyValue | undefined>;
  /** Lists keys with a prefix, in key order, consistent at one revision. */
  list(prefix: string, options?: ListOptions): Promise<ListResult>;
  /** Counts the keys with a prefix at the newest revision. */
  count(prefix: string): Promise<number>;

  /** Creates a key; `AlreadyExistsError` if it exists. */
  create(
    key: string,
    value: string,
    options?: PutOptions,
  ): Promise<WriteResult>;
  /** Updates an existing key; `NotFoundError` if absent, `ConflictError` if CAS fails. */
  update(
    key: string,
    value: string,
    options?: UpdateOptions,
  ): Promise<WriteResult>;
  /** Deletes a key; `NotFoundError` if absent, `ConflictError` if CAS fails. */
  delete(key: string, options?: DeleteOptions): Promise<WriteResult>;

  /** Watches keys with a prefix (the empty prefix watches everything). */
  watch(prefix: string, options?: WatchOptions): Watcher;

  /** Grants a lease of `ttl` seconds. */
  grantLease(ttl: number): Promise<Lease>;
  /** Renews a lease for another full ttl; `NotFoundError` if it expired. */
  keepAlive(id: number): Promise<Lease>;
  /** Revokes a lease now, deleting its keys. */
  revokeLease(id: number): Promise<void>;

  /** Drops history at and below `revision` (bounded steps, never blocks writers long). */
  compact(revision: number): Promise<void>;
  /** Runs a full integrity check; resolves with the problems found (none: empty). */
  checkIntegrity(): Promise<string[]>;

  /** Finishes pending writes, ends watches and releases the files. */
  close(): Promise<void>;
}
