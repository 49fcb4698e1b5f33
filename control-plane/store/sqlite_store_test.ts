import assert from "node:assert/strict";
import { join } from "node:path";
import { ManualClock } from "@skiff/api";
import { runStoreConformance, type StoreHarness } from "./conformance.ts";
import { openSqliteStore, type SqliteStore } from "./sqlite_store.ts";
import { openStore } from "./open_store.ts";

runStoreConformance("sqlite", async ({ clock, watchBufferSize }) => {
  const dir = await Deno.makeTempDir({ prefix: "skiff-store-" });
  const path = join(dir, "state.db");
  const open = () =>
    openSqliteStore({
      path,
      clock,
      compaction: false,
      ...(watchBufferSize ? { watchBufferSize } : {}),
    });
  const harness: StoreHarness = {
    store: open(),
    async reopen() {
      await harness.store.close();
      harness.store = open();
      return harness.store;
    },
    async cleanup() {
      await harness.store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
  return harness;
});

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-store-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("openSqliteStore() on a file that is not a database names the file", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "state.db");
    await Deno.writeTextFile(
      path,
      "this is not sqlite at all, just some text that fills a header ".repeat(
        20,
      ),
    );
    assert.throws(
      () => openSqliteStore({ path, compaction: false }),
      (err: Error) => {
        assert.match(
          err.message,
          new RegExp(`Cannot open store file "${path}"`),
        );
        assert.match(err.message, /not a database/);
        return true;
      },
    );
  });
});

Deno.test("openSqliteStore() refuses another application's SQLite file", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "other.db");
    const { DatabaseSync } = await import("node:sqlite");
    const db = new DatabaseSync(path);
    db.exec("CREATE TABLE photos (id INTEGER PRIMARY KEY)");
    db.close();
    assert.throws(
      () => openSqliteStore({ path, compaction: false }),
      /another application/,
    );
  });
});

Deno.test("openStore() picks the backend by URL scheme and rejects others", async () => {
  await withDir(async (dir) => {
    const store = openStore(`sqlite://${join(dir, "s.db")}`, {
      compaction: false,
    });
    await store.create("/x", "1");
    await store.close();
    assert.throws(
      () => openStore("etcd://localhost:2379"),
      /Unsupported store URL/,
    );
    assert.throws(() => openStore("sqlite:"), /no file path/);
  });
});

Deno.test("SqliteStore groups concurrent writes into few transactions", async () => {
  await withDir(async (dir) => {
    const store = openSqliteStore({
      path: join(dir, "s.db"),
      compaction: false,
    });
    await Promise.all(
      Array.from({ length: 500 }, (_, i) => store.create(`/g/${i}`, "x")),
    );
    const stats = store.stats();
    assert.equal(stats.writes, 500);
    assert.ok(
      stats.commits <= 5,
      `expected at most 5 commits, got ${stats.commits}`,
    );
    await store.close();
  });
});

Deno.test("SqliteStore with automatic compaction keeps the file bounded and idle writes nothing", async () => {
  await withDir(async (dir) => {
    const clock = new ManualClock();
    const path = join(dir, "s.db");
    const store: SqliteStore = openSqliteStore({
      path,
      clock,
      compaction: { windowMs: 60_000, minRevisions: 1000, intervalMs: 10_000 },
    });
    const value = "v".repeat(500);
    for (let i = 0; i < 100; i++) await store.create(`/b/${i}`, value);
    const files = async () => {
      const [db, wal] = await Promise.all([Deno.stat(path), Deno.stat(`${path}-wal`)]);
      return { db: db.size, wal: wal.size, mtime: db.mtime?.getTime() };
    };
    const sizes: number[] = [];
    for (let round = 0; round < 8; round++) {
      await Promise.all(Array.from({ length: 5000 }, (_, i) => store.update(`/b/${i % 100}`, value)));
      await clock.advance(70_000);
      await store.settled();
      const { db, wal } = await files();
      sizes.push(db + wal);
    }
    assert.ok(store.compactRevision() > 30_000, `compaction lagged: ${store.compactRevision()}`);
    const early = Math.max(...sizes.slice(0, 4));
    const late = Math.max(...sizes.slice(4));
    assert.ok(late <= early * 1.5, `the files kept growing: ${sizes.join(", ")}`);

    await clock.advance(300_000);
    await store.settled();
    await clock.advance(60_000);
    await store.settled();
    const before = await files();
    assert.equal(before.wal, 0, "the WAL is checkpointed and truncated once the store is idle");
    const writesBefore = store.stats().diskWrites;
    await clock.advance(600_000);
    await store.settled();
    assert.equal(store.stats().diskWrites, writesBefore, "an idle store writes nothing");
    assert.deepEqual(await files(), before);
    assert.deepEqual(await store.checkIntegrity(), []);
    await store.close();
  });
});

Deno.test("SqliteStore on a damaged file fails clearly or reports the damage", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "s.db");
    const store = openSqliteStore({ path, compaction: false });
    await Promise.all(Array.from({ length: 2000 }, (_, i) => store.create(`/i/${i}`, "v".repeat(300))));
    assert.deepEqual(await store.checkIntegrity(), []);
    await store.close();
    const file = await Deno.open(path, { write: true });
    await file.seek(16 * 4096, Deno.SeekMode.Start);
    await file.write(new Uint8Array(8 * 4096).fill(0xa5));
    file.close();
    let problems: string[] = [];
    try {
      const reopened = openSqliteStore({ path, compaction: false });
      problems = await reopened.checkIntegrity();
      await reopened.close();
    } catch (err) {
      problems = [(err as Error).message];
    }
    assert.ok(problems.length > 0, "the damage went unnoticed");
    assert.ok(problems.every((p) => p.includes(path)), problems.join("\n"));
  });
});
