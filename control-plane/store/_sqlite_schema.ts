/**
 * The SQLite store's schema and file checks.
 *
 * The log table is the store: every create, update and delete appends one row
 * whose primary key is the revision, so a write touches one B-tree at its end
 * (sequential pages, little write amplification on an SD card). Which
 * revision holds a key's value is kept in memory (`key_index.ts`) and rebuilt
 * from the log on open. `leases` holds granted leases; `meta` holds the
 * compaction state.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";

/** "SKIF" as a big-endian integer, stored as SQLite's application_id. */
export const APPLICATION_ID = 0x534b4946;
/** The schema version this code writes. */
export const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS log (
  revision INTEGER PRIMARY KEY,
  key TEXT NOT NULL,
  created INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  create_revision INTEGER NOT NULL,
  prev_revision INTEGER NOT NULL,
  lease INTEGER NOT NULL,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS leases (
  id INTEGER PRIMARY KEY,
  ttl INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (name, value) VALUES ('compact_revision', 0), ('compacted_to', 0);
`;

/** Options of {@linkcode openDatabase}. */
export interface OpenDatabaseOptions {
  /** fsync every commit (default true). */
  durable: boolean;
}

/**
 * Opens (creating if needed) a store database file and checks that it is
 * one: a corrupt file, or a SQLite file of another application, fails with a
 * clear error naming the file.
 */
export function openDatabase(
  path: string,
  options: OpenDatabaseOptions,
): DatabaseSync {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path);
  } catch (cause) {
    throw new Error(`Cannot open store file "${path}": ${messageOf(cause)}`, {
      cause,
    });
  }
  try {
    db.exec("PRAGMA busy_timeout = 5000");
    const appId = pragmaNumber(db, "application_id");
    const tables = (db.prepare(
      "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'",
    ).get() as {
      n: number;
    }).n;
    if (appId !== APPLICATION_ID && (appId !== 0 || tables > 0)) {
      throw new Error(
        `Cannot open store file "${path}": it is a SQLite database of another application ` +
          `(application_id ${appId}); point --data-dir at Skiff's own data directory`,
      );
    }
    const version = pragmaNumber(db, "user_version");
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `Cannot open store file "${path}": it was written by a newer Skiff (schema ${version}, ` +
          `this one reads ${SCHEMA_VERSION}); upgrade Skiff`,
      );
    }
    if (tables === 0) {
      db.exec("PRAGMA auto_vacuum = INCREMENTAL");
      db.exec("PRAGMA page_size = 4096");
    }
    const mode = (db.prepare("PRAGMA journal_mode = WAL").get() as {
      journal_mode: string;
    }).journal_mode;
    if (mode !== "wal" && path !== ":memory:") {
      throw new Error(
        `Cannot open store file "${path}": WAL journal mode is unavailable (got "${mode}")`,
      );
    }
    db.exec(`PRAGMA synchronous = ${options.durable ? "FULL" : "OFF"}`);
    db.exec("PRAGMA journal_size_limit = 67108864");
    db.exec("PRAGMA cache_size = -2000");
    db.exec("PRAGMA temp_store = MEMORY");
    db.exec("BEGIN IMMEDIATE");
    db.exec(SCHEMA);
    db.exec(`PRAGMA application_id = ${APPLICATION_ID}`);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    db.exec("COMMIT");
  } catch (cause) {
    try {
      db.close();
    } catch {
      // The open already failed; the close error adds nothing.
    }
    if (
      cause instanceof Error &&
      cause.message.startsWith("Cannot open store file")
    ) throw cause;
    throw new Error(
      `Cannot open store file "${path}": ${messageOf(cause)}; if the file is damaged, restore it from a ` +
        `backup or move it away to start an empty store`,
      { cause },
    );
  }
  return db;
}

function pragmaNumber(db: DatabaseSync, name: string): number {
  const row = db.prepare(`PRAGMA ${name}`).get() as
    | Record<string, number>
    | undefined;
  return row ? Number(Object.values(row)[0] ?? 0) : 0;
}

/** The message of an unknown thrown value. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
