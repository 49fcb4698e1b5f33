/**
 * The SQLite store's writer: a Worker that owns the only write connection,
 * so a commit's fsync happens off the event loop. While it commits one
 * batch, the main thread goes on serving requests and collects the next.
 *
 * The worker's code is {@linkcode writerMain}, started from its own source
 * text, so it needs no separate file next to a bundled program.
 *
 * @module
 */

/** One row change the writer applies. */
export type Write =
  | { stmt: "log"; args: [number, string, number, number, number, number, number, string] }
  | { stmt: "insertLease"; args: [number, number, number] }
  | { stmt: "touchLease"; args: [number, number] }
  | { stmt: "deleteLease"; args: [number] };

/** A request to the writer. */
export type WriterRequest =
  | { kind: "open"; path: string; durable: boolean }
  | { kind: "write"; writes: Write[] }
  | { kind: "compact"; from: number; to: number }
  | { kind: "setMeta"; name: string; value: number }
  | { kind: "checkpoint"; vacuum: boolean }
  | { kind: "close" };

/** The writer's answer to one request. */
type WriterReply = { id: number; ok: true } | { id: number; ok: false; error: string };

/**
 * The worker's body: opens the write connection and serves requests one at
 * a time. It imports what it needs itself, as it runs in its own realm.
 */
async function writerMain(scope: {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
  close(): void;
}): Promise<void> {
  const { DatabaseSync } = await import("node:sqlite");
  type Db = InstanceType<typeof DatabaseSync>;
  let db: Db | undefined;
  let stmts: Record<string, ReturnType<Db["prepare"]>> = {};
  const queue: { id: number; request: WriterRequest }[] = [];
  let busy = false;

  const transaction = (fn: (d: Db) => void) => {
    const d = db!;
    d.exec("BEGIN IMMEDIATE");
    try {
      fn(d);
      d.exec("COMMIT");
    } catch (err) {
      try {
        d.exec("ROLLBACK");
      } catch {
        // SQLite already rolled back.
      }
      throw err;
    }
  };

  const handle = (request: WriterRequest): void => {
    switch (request.kind) {
      case "open": {
        db = new DatabaseSync(request.path);
        db.exec("PRAGMA busy_timeout = 5000");
        db.exec("PRAGMA journal_mode = WAL");
        db.exec(`PRAGMA synchronous = ${request.durable ? "FULL" : "OFF"}`);
        db.exec("PRAGMA journal_size_limit = 67108864");
        db.exec("PRAGMA cache_size = -2000");
        stmts = {
          log: db.prepare(
            "INSERT INTO log (revision, key, created, deleted, create_revision, prev_revision, lease, value) " +
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
          ),
          insertLease: db.prepare("INSERT INTO leases (id, ttl, expires_at) VALUES (?, ?, ?)"),
          touchLease: db.prepare("UPDATE leases SET expires_at = ? WHERE id = ?"),
          deleteLease: db.prepare("DELETE FROM leases WHERE id = ?"),
          setMeta: db.prepare("UPDATE meta SET value = ? WHERE name = ?"),
          removeSuperseded: db.prepare(
            "DELETE FROM log WHERE revision IN " +
              "(SELECT prev_revision FROM log WHERE revision > ? AND revision <= ? AND prev_revision > 0)",
          ),
          removeTombstones: db.prepare("DELETE FROM log WHERE revision > ? AND revision <= ? AND deleted = 1"),
          vacuum: db.prepare("PRAGMA incremental_vacuum(2048)"),
        };
        return;
      }
      case "write":
        transaction(() => {
          for (const write of request.writes) stmts[write.stmt]!.run(...write.args);
        });
        return;
      case "compact":
        transaction(() => {
          stmts.removeSuperseded!.run(request.from, request.to);
          stmts.removeTombstones!.run(request.from, request.to);
          stmts.setMeta!.run(request.to, "compacted_to");
        });
        return;
      case "setMeta":
        stmts.setMeta!.run(request.value, request.name);
        return;
      case "checkpoint":
        if (request.vacuum) stmts.vacuum!.all();
        db!.exec("PRAGMA wal_checkpoint(TRUNCATE)");
        return;
      case "close":
        if (db) {
          db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
          db.close();
          db = undefined;
        }
        return;
    }
  };

  const drain = () => {
    busy = true;
    while (queue.length > 0) {
      const { id, request } = queue.shift()!;
      let reply: WriterReply;
      try {
        handle(request);
        reply = { id, ok: true };
      } catch (err) {
        reply = { id, ok: false, error: err instanceof Error ? err.message : String(err) };
      }
      scope.postMessage(reply);
      if (request.kind === "close") {
        scope.close();
        return;
      }
    }
    busy = false;
  };

  scope.onmessage = (event: MessageEvent) => {
    queue.push(event.data as { id: number; request: WriterRequest });
    if (!busy) drain();
  };
  scope.postMessage({ id: 0, ok: true });
}

/** The main thread's handle on the writer worker. */
export class SqliteWriter {
  #worker: Worker;
  #next = 1;
  #waiting = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  #ready: Promise<void>;
  #closed = false;

  /** Starts the worker and opens `path` for writing. */
  constructor(path: string, durable: boolean) {
    const source = `(${writerMain.toString()})(self);`;
    const url = URL.createObjectURL(new Blob([source], { type: "application/javascript" }));
    this.#worker = new Worker(url, { type: "module" });
    URL.revokeObjectURL(url);
    const started = Promise.withResolvers<void>();
    this.#waiting.set(0, { resolve: started.resolve, reject: started.reject });
    this.#worker.onmessage = (event: MessageEvent) => {
      const reply = event.data as WriterReply;
      const waiter = this.#waiting.get(reply.id);
      if (!waiter) return;
      this.#waiting.delete(reply.id);
      if (reply.ok) waiter.resolve();
      else waiter.reject(new Error(reply.error));
    };
    this.#worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      const err = new Error(`The store's writer stopped: ${event.message}`);
      for (const waiter of this.#waiting.values()) waiter.reject(err);
      this.#waiting.clear();
      this.#closed = true;
    };
    this.#ready = started.promise.then(() => this.#send({ kind: "open", path, durable }));
    // A failed open is reported by the first write; do not let it go unhandled meanwhile.
    this.#ready.catch(() => {});
  }

  /** Resolves once the write connection is open. */
  get ready(): Promise<void> {
    return this.#ready;
  }

  #send(request: WriterRequest): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("The store's writer is closed"));
    const id = this.#next++;
    const done = Promise.withResolvers<void>();
    this.#waiting.set(id, { resolve: done.resolve, reject: done.reject });
    this.#worker.postMessage({ id, request });
    return done.promise;
  }

  /** Applies `writes` in one transaction; resolves once it is committed (and durable). */
  async write(writes: Write[]): Promise<void> {
    await this.#ready;
    await this.#send({ kind: "write", writes });
  }

  /** Deletes history superseded in (from, to] and records the progress, in one transaction. */
  async compact(from: number, to: number): Promise<void> {
    await this.#ready;
    await this.#send({ kind: "compact", from, to });
  }

  /** Sets a meta value. */
  async setMeta(name: string, value: number): Promise<void> {
    await this.#ready;
    await this.#send({ kind: "setMeta", name, value });
  }

  /** Moves the WAL into the main file and truncates it, first returning free pages when `vacuum`. */
  async checkpoint(vacuum: boolean): Promise<void> {
    await this.#ready;
    await this.#send({ kind: "checkpoint", vacuum });
  }

  /** Checkpoints, closes the write connection and ends the worker. */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.#ready;
      await this.#send({ kind: "close" });
    } finally {
      this.#closed = true;
      this.#worker.terminate();
    }
  }
}
