/**
 * The SQLite backend of {@linkcode Store}, on `node:sqlite`.
 *
 * Writes are queued and group-committed: every write queued while the event
 * loop runs goes into one transaction with one fsync, and each caller's
 * promise resolves only after that commit is durable. The log on disk is
 * keyed by revision alone; the in-memory {@linkcode KeyIndex} says which
 * revision holds each key's value, as etcd's mvcc does.
 *
 * @module
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import { setImmediate } from "node:timers";
import {
  AlreadyExistsError,
  ApiError,
  type Clock,
  CompactedError,
  ConflictError,
  NotFoundError,
  ServiceUnavailableError,
  systemClock,
} from "@skiff/api";
import type {
  DeleteOptions,
  KeyValue,
  Lease,
  ListOptions,
  ListResult,
  PutOptions,
  Store,
  UpdateOptions,
  Watcher,
  WatchEvent,
  WatchOptions,
  WriteResult,
} from "./store.ts";
import { decodeContinue, encodeContinue, prefixEnd } from "./_keys.ts";
import { messageOf, openDatabase } from "./_sqlite_schema.ts";
import { WatchHub } from "./watch_hub.ts";
import { SqliteWriter, type Write } from "./_sqlite_writer.ts";
import { Compactor, type CompactorOptions } from "./compactor.ts";
import { type HeadState, KeyIndex } from "./key_index.ts";

/** Options of {@linkcode openSqliteStore}. */
export interface SqliteStoreOptions {
  /** The database file (`:memory:` for a throwaway store). */
  path: string;
  /** fsync every commit before acknowledging (default true). */
  durable?: boolean;
  /**
   * Group concurrent writes into one transaction (default true). False
   * commits each write on its own, as a naive store would; the benchmark
   * measures both.
   */
  groupCommit?: boolean;
  /** Automatic compaction; `false` turns it off. */
  compaction?: Partial<CompactorOptions> | false;
  /** Undelivered events a watcher may hold before it is closed (default 10,000). */
  watchBufferSize?: number;
  /** Time source for leases and compaction. */
  clock?: Clock;
}

/** Counters of what the store has done since it opened. */
export interface SqliteStoreStats {
  /** Writes acknowledged (creates, updates, deletes, lease operations). */
  writes: number;
  /** Transactions committed for writes (one fsync each when durable). */
  commits: number;
  /** Every transaction or checkpoint that wrote to disk, for any reason. */
  diskWrites: number;
}

type Op =
  | { kind: "create"; key: string; value: string; lease: number }
  | { kind: "update"; key: string; value: string; lease: number; expected: number | undefined }
  | { kind: "delete"; key: string; expected: number | undefined }
  | { kind: "grant"; ttl: number }
  | { kind: "keepalive"; id: number }
  | { kind: "revoke"; id: number; expired: boolean };

interface Pending {
  op: Op;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

interface Row {
  revision: number;
  key: string;
  created: number;
  deleted: number;
  create_revision: number;
  prev_revision: number;
  lease: number;
  value: string;
}

/** A row read in array mode: revision, key, create_revision, lease, value. */
type RowArray = [number, string, number, number, string];

/** A change to the key index, applied once its transaction has committed. */
type IndexChange = { put: true; key: string; revision: number; lease: number } | {
  put: false;
  key: string;
  revision: number;
};

/** What one batch has written so far, seen by later writes of the same batch. */
type Overlay = Map<string, HeadState | null>;

const COLUMNS = "revision, key, created, deleted, create_revision, prev_revision, lease, value";
const MAX_LEASE_TTL = 365 * 24 * 3600;
const HISTORY_PAGE = 1000;

function toKv(row: Row): KeyValue {
  return {
    key: row.key,
    value: row.value,
    createRevision: row.create_revision,
    modRevision: row.revision,
    lease: row.lease,
  };
}

/**
 * Opens the SQLite store at `options.path`.
 *
 * @example
 * ```ts
 * const store = openSqliteStore({ path: "/var/lib/skiff/state.db" });
 * const { revision } = await store.create("/registry/namespaces/default", "{}");
 * ```
 */
export function openSqliteStore(options: SqliteStoreOptions): SqliteStore {
  return new SqliteStore(options);
}

/** The SQLite store. Use {@linkcode openSqliteStore}. */
export class SqliteStore implements Store {
  #db: DatabaseSync;
  #path: string;
  #clock: Clock;
  #groupCommit: boolean;
  #index = new KeyIndex();
  #revision = 0;
  #compactRevision: number;
  #compactedTo: number;
  #pending: Pending[] = [];
  #flushScheduled = false;
  #closed = false;
  #closing: Promise<void> | undefined;
  #hub: WatchHub;
  #leases = new Map<number, Lease>();
  #leaseTimer: number | undefined;
  #leaseTimerAt = Infinity;
  #compactor: Compactor | undefined;
  #compacting: Promise<void> | undefined;
  #stmts: {
    row: StatementSync;
    history: StatementSync;
    rows: StatementSync;
    pages: StatementSync;
  };
  #writer: SqliteWriter;
  #committing: Promise<void> | undefined;
  /** Rows written by the batch being applied, not yet in the file. */
  #batchRows: Map<number, KeyValue> | undefined;
  #stats: SqliteStoreStats = { writes: 0, commits: 0, diskWrites: 0 };

  /** Opens the store; prefer {@linkcode openSqliteStore}. */
  constructor(options: SqliteStoreOptions) {
    this.#path = options.path;
    this.#clock = options.clock ?? systemClock;
    this.#groupCommit = options.groupCommit ?? true;
    if (options.path === ":memory:") {
      throw new TypeError("An in-memory store is not supported: give a file path (a temp file for a throwaway store)");
    }
    this.#db = openDatabase(options.path, { durable: options.durable ?? true });
    const db = this.#db;
    this.#stmts = {
      row: db.prepare(`SELECT ${COLUMNS} FROM log WHERE revision = ?`),
      history: db.prepare(`SELECT ${COLUMNS} FROM log WHERE revision > ? AND revision <= ? ORDER BY revision LIMIT ?`),
      rows: db.prepare(
        "SELECT revision, key, create_revision, lease, value FROM log WHERE revision IN (SELECT value FROM json_each(?))",
      ),
      pages: db.prepare(
        "SELECT p.page_count AS total, f.freelist_count AS free FROM pragma_page_count() AS p, pragma_freelist_count() AS f",
      ),
    };
    (this.#stmts.rows as StatementSync & { setReturnArrays(on: boolean): void }).setReturnArrays(true);
    const meta = Object.fromEntries(
      (db.prepare("SELECT name, value FROM meta").all() as { name: string; value: number }[])
        .map((r) => [r.name, r.value]),
    );
    this.#compactRevision = meta.compact_revision ?? 0;
    this.#compactedTo = meta.compacted_to ?? 0;
    const scan = db.prepare("SELECT revision, key, deleted, lease FROM log ORDER BY revision");
    for (const row of scan.iterate() as Iterable<Pick<Row, "revision" | "key" | "deleted" | "lease">>) {
      if (row.deleted) this.#index.remove(row.key, row.revision);
      else this.#index.put(row.key, row.revision, row.lease);
      this.#revision = row.revision;
    }
    this.#index.compact(this.#compactRevision);
    for (
      const row of db.prepare("SELECT id, ttl, expires_at FROM leases").all() as {
        id: number;
        ttl: number;
        expires_at: number;
      }[]
    ) {
      this.#leases.set(row.id, { id: row.id, ttl: row.ttl, expiresAt: row.expires_at });
    }
    this.#writer = new SqliteWriter(options.path, options.durable ?? true);
    this.#hub = new WatchHub({
      replay: (range) => this.#replay(range),
      currentRevision: () => this.#revision,
      compactRevision: () => this.#compactRevision,
      bufferSize: options.watchBufferSize ?? 10_000,
    });
    this.#scheduleLeaseTimer();
    if (this.#compactedTo < this.#compactRevision) {
      this.#compacting = this.#runCompaction(this.#compactRevision);
    }
    if (options.compaction !== false) {
      this.#compactor = new Compactor(this, this.#clock, options.compaction ?? {});
      this.#compactor.start();
    }
  }

  /** The database file. */
  get path(): string {
    return this.#path;
  }

  /** Counters of writes, commits and disk writes since the store opened. */
  stats(): SqliteStoreStats {
    return { ...this.#stats };
  }

  /** How many watchers are open. */
  get watcherCount(): number {
    return this.#hub.size;
  }

  currentRevision(): number {
    return this.#revision;
  }

  compactRevision(): number {
    return this.#compactRevision;
  }

  get(key: string, options: { revision?: number } = {}): Promise<KeyValue | undefined> {
    return this.#read(() => {
      const revision = options.revision;
      if (revision === undefined || revision >= this.#revision) {
        const head = this.#index.head(key);
        return head ? this.#kvAt(head.revision) : undefined;
      }
      this.#checkReadable(revision);
      const at = this.#index.at(key, revision);
      return at === undefined ? undefined : this.#kvAt(at);
    });
  }

  list(prefix: string, options: ListOptions = {}): Promise<ListResult> {
    return this.#read(() => this.#list(prefix, options));
  }

  count(prefix: string): Promise<number> {
    return this.#read(() => {
      if (prefix === "") return this.#index.size;
      let n = 0;
      this.#index.range({ start: prefix, exclusive: false, end: prefixEnd(prefix), revision: this.#revision }, () => {
        n++;
      });
      return n;
    });
  }

  #read<T>(fn: () => T): Promise<T> {
    try {
      this.#checkOpen();
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(this.#wrap(err));
    }
  }

  #kvAt(revision: number): KeyValue {
    const pending = this.#batchRows?.get(revision);
    if (pending) return pending;
    const row = this.#stmts.row.get(revision) as Row | undefined;
    if (!row) {
      throw new ServiceUnavailableError(
        `Store "${this.#path}" is inconsistent: revision ${revision} is indexed but missing; run an integrity check`,
      );
    }
    return toKv(row);
  }

  /** Reads many revisions in one query; the result follows the order of `revisions`. */
  #kvsAt(revisions: number[]): KeyValue[] {
    if (revisions.length === 0) return [];
    if (revisions.length === 1) return [this.#kvAt(revisions[0]!)];
    const byRevision = new Map<number, KeyValue>();
    for (const row of this.#stmts.rows.all(JSON.stringify(revisions)) as unknown as RowArray[]) {
      byRevision.set(row[0], {
        key: row[1],
        value: row[4],
        createRevision: row[2],
        modRevision: row[0],
        lease: row[3],
      });
    }
    return revisions.map((rev) => {
      const kv = byRevision.get(rev);
      if (!kv) {
        throw new ServiceUnavailableError(
          `Store "${this.#path}" is inconsistent: revision ${rev} is indexed but missing; run an integrity check`,
        );
      }
      return kv;
    });
  }

  #list(prefix: string, options: ListOptions): ListResult {
    const limit = options.limit && options.limit > 0 ? Math.floor(options.limit) : 0;
    let revision = options.revision && options.revision > 0 ? options.revision : this.#revision;
    let after: string | undefined;
    if (options.continue) {
      const state = decodeContinue(options.continue, prefix);
      revision = state.revision;
      after = state.lastKey;
    }
    if (revision > this.#revision) {
      throw new RangeError(`Cannot list at revision ${revision}: the newest revision is ${this.#revision}`);
    }
    this.#checkReadable(revision);
    const revisions: number[] = [];
    let total = 0;
    this.#index.range(
      { start: after ?? prefix, exclusive: after !== undefined, end: prefixEnd(prefix), revision },
      (_key, rev) => {
        total++;
        if (limit === 0 || revisions.length < limit) revisions.push(rev);
      },
    );
    const items = this.#kvsAt(revisions);
    const result: ListResult = { items, revision, remaining: total - items.length };
    if (result.remaining > 0) {
      result.continue = encodeContinue({ revision, lastKey: items[items.length - 1]!.key, prefix });
    }
    return result;
  }

  create(key: string, value: string, options: PutOptions = {}): Promise<WriteResult> {
    return this.#enqueue({ kind: "create", key, value, lease: options.lease ?? 0 }) as Promise<WriteResult>;
  }

  update(key: string, value: string, options: UpdateOptions = {}): Promise<WriteResult> {
    return this.#enqueue({
      kind: "update",
      key,
      value,
      lease: options.lease ?? 0,
      expected: options.expectedRevision,
    }) as Promise<WriteResult>;
  }

  delete(key: string, options: DeleteOptions = {}): Promise<WriteResult> {
    return this.#enqueue({ kind: "delete", key, expected: options.expectedRevision }) as Promise<WriteResult>;
  }

  watch(prefix: string, options: WatchOptions = {}): Watcher {
    this.#checkOpen();
    return this.#hub.watch(prefix, options);
  }

  grantLease(ttl: number): Promise<Lease> {
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_LEASE_TTL) {
      return Promise.reject(
        new RangeError(`Invalid lease ttl ${ttl}: must be a whole number of seconds, 1 to 1 year`),
      );
    }
    return this.#enqueue({ kind: "grant", ttl }) as Promise<Lease>;
  }

  keepAlive(id: number): Promise<Lease> {
    return this.#enqueue({ kind: "keepalive", id }) as Promise<Lease>;
  }

  async revokeLease(id: number): Promise<void> {
    await this.#enqueue({ kind: "revoke", id, expired: false });
  }

  async compact(revision: number): Promise<void> {
    this.#checkOpen();
    if (!Number.isSafeInteger(revision) || revision < 0) {
      throw new RangeError(`Invalid compaction revision ${revision}: must be a non-negative integer`);
    }
    if (revision > this.#revision) {
      throw new RangeError(`Cannot compact to revision ${revision}: the newest revision is ${this.#revision}`);
    }
    if (revision > this.#compactRevision) {
      this.#compactRevision = revision;
      this.#index.compact(revision);
      const previous = this.#compacting ?? Promise.resolve();
      this.#compacting = previous.then(async () => {
        await this.#writer.setMeta("compact_revision", revision);
        this.#stats.diskWrites++;
        await this.#runCompaction(revision);
      });
    }
    await this.#compacting;
  }

  /**
   * Resolves once queued writes are committed and any running compaction,
   * and the periodic check (compaction and checkpoint) under way, have
   * finished.
   */
  async settled(): Promise<void> {
    while (this.#pending.length > 0 || this.#flushScheduled || this.#committing) {
      await (this.#committing ?? new Promise<void>((resolve) => setImmediate(resolve)));
    }
    let compacting: Promise<void> | undefined;
    while (compacting !== this.#compacting) {
      compacting = this.#compacting;
      await compacting;
    }
    const check = this.#compactor?.inflight;
    if (check) {
      await check;
      await this.settled();
    }
  }

  /**
   * Moves the WAL into the main file and truncates it, first returning up to
   * 8 MiB of free pages to the file system when more than a quarter of the
   * file is free. Returns true while free space is still worth reclaiming,
   * so the caller can continue in bounded steps.
   */
  async checkpoint(): Promise<boolean> {
    if (this.#closed) return false;
    const pages = () => {
      const row = this.#stmts.pages.get() as { total: number; free: number };
      return { total: row.total, free: row.free };
    };
    const worth = ({ total, free }: { total: number; free: number }) => free > 256 && free * 4 > total;
    await this.#writer.checkpoint(worth(pages()));
    this.#stats.diskWrites++;
    return worth(pages());
  }

  checkIntegrity(): Promise<string[]> {
    return this.#read(() => {
      const problems: string[] = [];
      for (const row of this.#db.prepare("PRAGMA integrity_check").all() as Record<string, string>[]) {
        const text = String(Object.values(row)[0]);
        if (text !== "ok") problems.push(`${this.#path}: ${text}`);
      }
      this.#index.range({ start: "", exclusive: false, end: undefined, revision: this.#revision }, (key, rev) => {
        const row = this.#stmts.row.get(rev) as Row | undefined;
        if (!row || row.key !== key || row.deleted) {
          problems.push(`${this.#path}: key "${key}" points at a missing or deleted log entry (revision ${rev})`);
        } else if (row.lease !== 0 && !this.#leases.has(row.lease)) {
          problems.push(`${this.#path}: key "${key}" is attached to unknown lease ${row.lease}`);
        }
      });
      const head = this.#db.prepare("SELECT coalesce(max(revision), 0) AS r FROM log").get() as { r: number };
      if (head.r !== this.#revision) {
        problems.push(`${this.#path}: newest log revision ${head.r} differs from the store's ${this.#revision}`);
      }
      return problems;
    });
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#compactor?.stop();
    if (this.#leaseTimer !== undefined) this.#clock.clearTimeout(this.#leaseTimer);
    await this.settled().catch(() => {});
    this.#closed = true;
    this.#hub.closeAll({ kind: "store-closed" });
    try {
      await this.#writer.close();
    } finally {
      this.#db.close();
    }
  }

  #checkOpen(): void {
    if (this.#closed || this.#closing) {
      throw new ServiceUnavailableError(`The store "${this.#path}" is closed`);
    }
  }

  #checkReadable(revision: number): void {
    if (revision < this.#compactRevision) {
      throw new CompactedError(
        `Cannot read at revision ${revision}: it has been compacted (oldest available is ${this.#compactRevision})`,
        { compactRevision: this.#compactRevision },
      );
    }
  }

  #wrap(err: unknown): unknown {
    if (err instanceof ApiError || err instanceof RangeError || err instanceof TypeError) return err;
    return new ServiceUnavailableError(`Store "${this.#path}" failed: ${messageOf(err)}`, { cause: err });
  }

  #enqueue(op: Op): Promise<unknown> {
    if (this.#closed || this.#closing) {
      return Promise.reject(new ServiceUnavailableError(`The store "${this.#path}" is closed`));
    }
    return new Promise((resolve, reject) => {
      this.#pending.push({ op, resolve, reject });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#committing || this.#pending.length === 0) return;
    const batch = this.#groupCommit ? this.#pending : this.#pending.slice(0, 1);
    this.#pending = this.#groupCommit ? [] : this.#pending.slice(1);
    this.#committing = this.#commit(batch).finally(() => {
      this.#committing = undefined;
      if (this.#pending.length > 0 && !this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  /**
   * Applies a batch: decides every op against the index (and what earlier
   * ops of the batch did), hands the resulting rows to the writer as one
   * transaction, and only once it is durable updates the index, publishes
   * the events and answers the callers.
   */
  async #commit(batch: Pending[]): Promise<void> {
    const events: WatchEvent[] = [];
    const outcomes: { ok: boolean; value: unknown }[] = [];
    const overlay: Overlay = new Map();
    const indexChanges: IndexChange[] = [];
    const leaseChanges: (() => void)[] = [];
    const writes: Write[] = [];
    let revision = this.#revision;
    try {
      // Decided synchronously, so no read sees the batch's rows before they are durable.
      this.#batchRows = new Map();
      try {
        for (const { op } of batch) {
          const ctx = { revision, events, overlay, indexChanges, leaseChanges, writes };
          try {
            outcomes.push({ ok: true, value: this.#apply(op, ctx) });
            revision = ctx.revision;
          } catch (err) {
            if (!(err instanceof ApiError || err instanceof RangeError)) throw err;
            outcomes.push({ ok: false, value: err });
          }
        }
      } finally {
        this.#batchRows = undefined;
      }
      if (writes.length > 0) await this.#writer.write(writes);
    } catch (err) {
      const failure = new ServiceUnavailableError(
        `Store "${this.#path}" could not commit ${batch.length} write(s): ${messageOf(err)}`,
        { cause: err },
      );
      for (const item of batch) item.reject(failure);
      return;
    }
    this.#revision = revision;
    if (writes.length > 0) {
      this.#stats.commits++;
      this.#stats.diskWrites++;
    }
    for (const change of indexChanges) {
      if (change.put) this.#index.put(change.key, change.revision, change.lease);
      else this.#index.remove(change.key, change.revision);
    }
    for (const change of leaseChanges) change();
    if (leaseChanges.length > 0) this.#scheduleLeaseTimer();
    this.#hub.publish(events);
    for (let i = 0; i < batch.length; i++) {
      const outcome = outcomes[i]!;
      if (outcome.ok) {
        this.#stats.writes++;
        batch[i]!.resolve(outcome.value);
      } else {
        batch[i]!.reject(outcome.value);
      }
    }
  }

  /** The head of `key` as this batch sees it. */
  #headOf(key: string, overlay: Overlay): HeadState | undefined {
    const pending = overlay.get(key);
    return pending === undefined ? this.#index.head(key) : pending ?? undefined;
  }

  /** Applies one op inside the open transaction, advancing `ctx.revision`. */
  #apply(
    op: Op,
    ctx: {
      revision: number;
      events: WatchEvent[];
      overlay: Overlay;
      indexChanges: IndexChange[];
      leaseChanges: (() => void)[];
      writes: Write[];
    },
  ): unknown {
    switch (op.kind) {
      case "create": {
        this.#checkLease(op.lease);
        if (this.#headOf(op.key, ctx.overlay)) throw new AlreadyExistsError(`Key "${op.key}" already exists`);
        const rev = ++ctx.revision;
        ctx.writes.push({ stmt: "log", args: [rev, op.key, 1, 0, rev, 0, op.lease, op.value] });
        this.#putIndexed(op.key, rev, op.lease, ctx);
        const kv: KeyValue = { key: op.key, value: op.value, createRevision: rev, modRevision: rev, lease: op.lease };
        this.#batchRows!.set(rev, kv);
        ctx.events.push({ type: "put", created: true, revision: rev, kv });
        return { revision: rev, kv } satisfies WriteResult;
      }
      case "update": {
        this.#checkLease(op.lease);
        const prev = this.#currentForWrite(op.key, op.expected, ctx.overlay);
        const rev = ++ctx.revision;
        ctx.writes.push({
          stmt: "log",
          args: [rev, op.key, 0, 0, prev.createRevision, prev.modRevision, op.lease, op.value],
        });
        this.#putIndexed(op.key, rev, op.lease, ctx);
        const kv: KeyValue = {
          key: op.key,
          value: op.value,
          createRevision: prev.createRevision,
          modRevision: rev,
          lease: op.lease,
        };
        this.#batchRows!.set(rev, kv);
        ctx.events.push({ type: "put", created: false, revision: rev, kv, prev });
        return { revision: rev, kv, prev } satisfies WriteResult;
      }
      case "delete": {
        const prev = this.#currentForWrite(op.key, op.expected, ctx.overlay);
        const rev = ++ctx.revision;
        const kv = this.#appendDelete(prev, rev, ctx);
        return { revision: rev, kv, prev } satisfies WriteResult;
      }
      case "grant": {
        let id = 0;
        while (id === 0 || this.#leases.has(id)) id = Math.floor(Math.random() * 2 ** 48) + 1;
        const lease: Lease = { id, ttl: op.ttl, expiresAt: this.#clock.now() + op.ttl * 1000 };
        ctx.writes.push({ stmt: "insertLease", args: [id, op.ttl, lease.expiresAt] });
        ctx.leaseChanges.push(() => this.#leases.set(id, lease));
        return { ...lease };
      }
      case "keepalive": {
        const lease = this.#leases.get(op.id);
        if (!lease || lease.expiresAt <= this.#clock.now()) {
          throw new NotFoundError(`Lease ${op.id} not found: it expired or was revoked; grant a new one`);
        }
        const renewed: Lease = { ...lease, expiresAt: this.#clock.now() + lease.ttl * 1000 };
        ctx.writes.push({ stmt: "touchLease", args: [renewed.expiresAt, op.id] });
        ctx.leaseChanges.push(() => {
          if (this.#leases.has(op.id)) this.#leases.set(op.id, renewed);
        });
        return { ...renewed };
      }
      case "revoke": {
        if (!this.#leases.has(op.id)) {
          if (op.expired) return undefined;
          throw new NotFoundError(`Lease ${op.id} not found: it expired or was revoked`);
        }
        const keys = new Set(this.#index.keysOfLease(op.id));
        for (const [key, head] of ctx.overlay) if (head?.lease === op.id) keys.add(key);
        for (const key of [...keys].sort()) {
          const head = this.#headOf(key, ctx.overlay);
          if (!head || head.lease !== op.id) continue;
          this.#appendDelete(this.#kvAt(head.revision), ++ctx.revision, ctx);
        }
        ctx.writes.push({ stmt: "deleteLease", args: [op.id] });
        ctx.leaseChanges.push(() => {
          this.#leases.delete(op.id);
          this.#index.dropLease(op.id);
        });
        return undefined;
      }
    }
  }

  /** The current value of `key` for an update or delete, checking existence and CAS. */
  #currentForWrite(key: string, expected: number | undefined, overlay: Overlay): KeyValue {
    const head = this.#headOf(key, overlay);
    if (!head) throw new NotFoundError(`Key "${key}" not found`);
    if (expected !== undefined && head.revision !== expected) {
      throw new ConflictError(`Key "${key}" was modified: expected revision ${expected}, found ${head.revision}`);
    }
    return this.#kvAt(head.revision);
  }

  #putIndexed(key: string, rev: number, lease: number, ctx: { overlay: Overlay; indexChanges: IndexChange[] }): void {
    ctx.overlay.set(key, { revision: rev, lease });
    ctx.indexChanges.push({ put: true, key, revision: rev, lease });
  }

  #appendDelete(
    prev: KeyValue,
    rev: number,
    ctx: { events: WatchEvent[]; overlay: Overlay; indexChanges: IndexChange[]; writes: Write[] },
  ): KeyValue {
    ctx.writes.push({
      stmt: "log",
      args: [rev, prev.key, 0, 1, prev.createRevision, prev.modRevision, 0, prev.value],
    });
    ctx.overlay.set(prev.key, null);
    ctx.indexChanges.push({ put: false, key: prev.key, revision: rev });
    const kv: KeyValue = { ...prev, modRevision: rev, lease: 0 };
    ctx.events.push({ type: "delete", created: false, revision: rev, kv, prev });
    return kv;
  }

  #checkLease(id: number): void {
    if (id === 0) return;
    const lease = this.#leases.get(id);
    if (!lease || lease.expiresAt <= this.#clock.now()) {
      throw new NotFoundError(`Lease ${id} not found: it expired or was revoked`);
    }
  }

  #scheduleLeaseTimer(): void {
    let next = Infinity;
    for (const lease of this.#leases.values()) next = Math.min(next, lease.expiresAt);
    if (next === this.#leaseTimerAt) return;
    if (this.#leaseTimer !== undefined) this.#clock.clearTimeout(this.#leaseTimer);
    this.#leaseTimer = undefined;
    this.#leaseTimerAt = next;
    if (next === Infinity) return;
    this.#leaseTimer = this.#clock.setTimeout(() => {
      this.#leaseTimer = undefined;
      this.#leaseTimerAt = Infinity;
      this.#expireLeases();
    }, Math.max(0, next - this.#clock.now()));
  }

  #expireLeases(): void {
    if (this.#closed || this.#closing) return;
    const now = this.#clock.now();
    for (const lease of this.#leases.values()) {
      if (lease.expiresAt > now) continue;
      this.#enqueue({ kind: "revoke", id: lease.id, expired: true }).catch((err) => {
        console.error(`Cannot expire lease ${lease.id}: ${messageOf(err)}; retrying`);
        this.#clock.setTimeout(() => this.#expireLeases(), 1000);
      });
    }
    this.#scheduleLeaseTimer();
  }

  #replay(
    range: { prefix: string; end: string | undefined; after: number; upTo: number; limit: number },
  ): WatchEvent[] {
    const events: WatchEvent[] = [];
    let after = range.after;
    while (events.length < range.limit && after < range.upTo) {
      const rows = this.#stmts.history.all(after, range.upTo, HISTORY_PAGE) as unknown as Row[];
      if (rows.length === 0) break;
      for (const row of rows) {
        after = row.revision;
        if (row.key < range.prefix || (range.end !== undefined && row.key >= range.end)) continue;
        const prevRow = row.prev_revision > 0 ? this.#stmts.row.get(row.prev_revision) as Row | undefined : undefined;
        const event: WatchEvent = row.deleted
          ? { type: "delete", created: false, revision: row.revision, kv: { ...toKv(row), lease: 0 } }
          : { type: "put", created: row.created === 1, revision: row.revision, kv: toKv(row) };
        if (prevRow) event.prev = toKv(prevRow);
        events.push(event);
        if (events.length >= range.limit) break;
      }
    }
    return events;
  }

  /** Deletes superseded history up to `target` in bounded steps, each its own transaction in the writer. */
  async #runCompaction(target: number): Promise<void> {
    const step = 1000;
    while (this.#compactedTo < target && !this.#closed) {
      const from = this.#compactedTo;
      const to = Math.min(target, from + step);
      try {
        await this.#writer.compact(from, to);
      } catch (err) {
        throw this.#wrap(err);
      }
      this.#compactedTo = to;
      this.#stats.diskWrites++;
    }
  }
}
