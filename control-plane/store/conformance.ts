/**
 * The store conformance suite: every backend must pass it unchanged.
 *
 * @example
 * ```ts
 * runStoreConformance("sqlite", async ({ clock }) => { ... });
 * ```
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  AlreadyExistsError,
  BadRequestError,
  type Clock,
  CompactedError,
  ConflictError,
  ManualClock,
  NotFoundError,
} from "@skiff/api";
import type { Store, Watcher, WatchEvent } from "./store.ts";

/** A store under test, able to restart on the same data. */
export interface StoreHarness {
  /** The open store (replaced by {@linkcode StoreHarness.reopen}). */
  store: Store;
  /** Closes the store and opens it again on the same data. */
  reopen(): Promise<Store>;
  /** Closes the store and removes its data. */
  cleanup(): Promise<void>;
}

/** Opens a fresh, empty store with compaction off and the given clock. */
export type StoreFactory = (
  options: { clock: Clock; watchBufferSize?: number },
) => Promise<StoreHarness>;

/** Collects watch events until `count` have arrived or the watch ends. */
export async function collect(
  watcher: Watcher,
  count: number,
): Promise<WatchEvent[]> {
  const out: WatchEvent[] = [];
  if (count === 0) return out;
  for await (const batch of watcher) {
    out.push(...batch);
    if (out.length >= count) break;
  }
  return out;
}

const enc = (n: number) => JSON.stringify({ n });

/** Registers the conformance tests for one backend. */
export function runStoreConformance(name: string, factory: StoreFactory): void {
  const test = (
    title: string,
    fn: (h: StoreHarness, clock: ManualClock) => Promise<void>,
    opts: {
      watchBufferSize?: number;
    } = {},
  ) => {
    Deno.test(`${name} store: ${title}`, async () => {
      const clock = new ManualClock();
      const harness = await factory({ clock, ...opts });
      try {
        await fn(harness, clock);
      } finally {
        await harness.cleanup();
      }
    });
  };

  test("create() assigns increasing revisions and get() reads the value back", async ({ store }) => {
    const a = await store.create("/a", "1");
    const b = await store.create("/b", "2");
    assert.ok(b.revision === a.revision + 1);
    assert.equal(store.currentRevision(), b.revision);
    const got = await store.get("/a");
    assert.deepEqual(got, {
      key: "/a",
      value: "1",
      createRevision: a.revision,
      modRevision: a.revision,
      lease: 0,
    });
    assert.equal(await store.get("/missing"), undefined);
  });

  test("create() of an existing key fails with AlreadyExistsError and writes nothing", async ({ store }) => {
    await store.create("/a", "1");
    const rev = store.currentRevision();
    await assert.rejects(store.create("/a", "2"), AlreadyExistsError);
    assert.equal(store.currentRevision(), rev);
    assert.equal((await store.get("/a"))?.value, "1");
  });

  test("update() with a stale revision fails with ConflictError", async ({ store }) => {
    const created = await store.create("/a", "1");
    const updated = await store.update("/a", "2", {
      expectedRevision: created.revision,
    });
    assert.equal(updated.prev?.value, "1");
    assert.equal(updated.kv.createRevision, created.revision);
    await assert.rejects(
      store.update("/a", "3", { expectedRevision: created.revision }),
      ConflictError,
    );
    assert.equal((await store.get("/a"))?.value, "2");
  });

  test("update() without a revision is unconditional but needs the key", async ({ store }) => {
    await store.create("/a", "1");
    await store.update("/a", "2");
    assert.equal((await store.get("/a"))?.value, "2");
    await assert.rejects(store.update("/missing", "x"), NotFoundError);
  });

  test("delete() returns the last value, honours CAS, and fails on a missing key", async ({ store }) => {
    const created = await store.create("/a", "1");
    await store.update("/a", "2");
    await assert.rejects(
      store.delete("/a", { expectedRevision: created.revision }),
      ConflictError,
    );
    const deleted = await store.delete("/a");
    assert.equal(deleted.kv.value, "2");
    assert.equal(deleted.kv.modRevision, deleted.revision);
    assert.equal(await store.get("/a"), undefined);
    await assert.rejects(store.delete("/a"), NotFoundError);
    const again = await store.create("/a", "3");
    assert.equal(again.kv.createRevision, again.revision);
  });

  test("concurrent CAS updates from one revision: exactly one wins", async ({ store }) => {
    const created = await store.create("/c", "0");
    const results = await Promise.allSettled(
      Array.from(
        { length: 50 },
        (_, i) => store.update("/c", String(i), { expectedRevision: created.revision }),
      ),
    );
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    for (const r of results) {
      if (r.status === "rejected") assert.ok(r.reason instanceof ConflictError);
    }
  });

  test("concurrent writes all succeed with distinct, contiguous revisions", async ({ store }) => {
    const start = store.currentRevision();
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) => store.create(`/k/${i}`, enc(i))),
    );
    const revs = results.map((r) => r.revision).sort((a, b) => a - b);
    assert.deepEqual(
      revs,
      Array.from({ length: 300 }, (_, i) => start + i + 1),
    );
    assert.equal(await store.count("/k/"), 300);
  });

  test("list() returns a prefix in key order and not its neighbours", async ({ store }) => {
    for (const key of ["/p/b", "/p/a", "/pa", "/p/c", "/q"]) {
      await store.create(key, key);
    }
    const page = await store.list("/p/");
    assert.deepEqual(page.items.map((i) => i.key), ["/p/a", "/p/b", "/p/c"]);
    assert.equal(page.continue, undefined);
    assert.equal(page.remaining, 0);
    assert.equal(page.revision, store.currentRevision());
    assert.equal((await store.list("")).items.length, 5);
  });

  test("list() pages never mix revisions", async ({ store }) => {
    for (let i = 0; i < 10; i++) await store.create(`/l/${i}`, enc(i));
    const first = await store.list("/l/", { limit: 4 });
    assert.deepEqual(first.items.map((i) => i.key), [
      "/l/0",
      "/l/1",
      "/l/2",
      "/l/3",
    ]);
    assert.equal(first.remaining, 6);
    assert.ok(first.continue);
    await store.delete("/l/5");
    await store.update("/l/6", "changed");
    await store.create("/l/55", "new");
    const second = await store.list("/l/", {
      limit: 4,
      continue: first.continue,
    });
    assert.equal(second.revision, first.revision);
    assert.deepEqual(second.items.map((i) => i.key), [
      "/l/4",
      "/l/5",
      "/l/6",
      "/l/7",
    ]);
    assert.equal(second.items[2]!.value, enc(6));
    const third = await store.list("/l/", {
      limit: 4,
      continue: second.continue!,
    });
    assert.deepEqual(third.items.map((i) => i.key), ["/l/8", "/l/9"]);
    assert.equal(third.continue, undefined);
  });

  test("list() at an older revision sees the past; compacted revisions fail", async ({ store }) => {
    await store.create("/o/a", "1");
    const before = store.currentRevision();
    await store.update("/o/a", "2");
    await store.create("/o/b", "x");
    await store.delete("/o/b");
    const past = await store.list("/o/", { revision: before });
    assert.deepEqual(past.items.map((i) => [i.key, i.value]), [["/o/a", "1"]]);
    assert.equal((await store.get("/o/a", { revision: before }))?.value, "1");
    await store.compact(store.currentRevision() - 1);
    await assert.rejects(
      store.list("/o/", { revision: before }),
      CompactedError,
    );
    await assert.rejects(
      store.get("/o/a", { revision: before }),
      CompactedError,
    );
    assert.equal((await store.get("/o/a"))?.value, "2");
    await assert.rejects(
      store.compact(store.currentRevision() + 5),
      RangeError,
    );
  });

  test("list() rejects a foreign or malformed continue token", async ({ store }) => {
    for (let i = 0; i < 3; i++) await store.create(`/t/${i}`, "x");
    const page = await store.list("/t/", { limit: 1 });
    await assert.rejects(
      store.list("/other/", { continue: page.continue! }),
      BadRequestError,
    );
    await assert.rejects(
      store.list("/t/", { continue: "garbage!!" }),
      BadRequestError,
    );
    await assert.rejects(
      store.list("/t/", { continue: btoa('{"v":1,"r":-1}') }),
      BadRequestError,
    );
  });

  test("watch() from now delivers every later event in order", async ({ store }) => {
    await store.create("/w/old", "x");
    const watcher = store.watch("/w/");
    const done = collect(watcher, 4);
    await store.create("/w/a", "1");
    await store.create("/x/ignored", "1");
    await store.update("/w/a", "2");
    await store.delete("/w/a");
    await store.create("/w/b", "1");
    const events = await done;
    watcher.close();
    assert.deepEqual(
      events.map((e) => [e.type, e.kv.key, e.kv.value, e.created]),
      [
        ["put", "/w/a", "1", true],
        ["put", "/w/a", "2", false],
        ["delete", "/w/a", "2", false],
        ["put", "/w/b", "1", true],
      ],
    );
    assert.equal(events[1]!.prev?.value, "1");
    assert.equal(events[2]!.prev?.value, "2");
    for (let i = 1; i < events.length; i++) {
      assert.ok(events[i]!.revision > events[i - 1]!.revision);
    }
  });

  test("watch() from a revision replays history, then live events, with no gaps or duplicates", async ({ store }) => {
    const start = store.currentRevision();
    for (let i = 0; i < 2500; i++) await store.create(`/h/${i}`, enc(i));
    const watcher = store.watch("/h/", { afterRevision: start });
    const done = collect(watcher, 2600);
    for (let i = 2500; i < 2600; i++) await store.create(`/h/${i}`, enc(i));
    const events = await done;
    watcher.close();
    assert.equal(events.length, 2600);
    events.forEach((e, i) => {
      assert.equal(e.kv.key, `/h/${i}`);
      assert.equal(e.revision, start + i + 1);
    });
  });

  test("watch() from a compacted revision fails with CompactedError", async ({ store }) => {
    for (let i = 0; i < 5; i++) await store.create(`/c/${i}`, "x");
    await store.compact(3);
    assert.throws(
      () => store.watch("/c/", { afterRevision: 1 }),
      CompactedError,
    );
    const watcher = store.watch("/c/", { afterRevision: 3 });
    const events = await collect(watcher, 2);
    watcher.close();
    assert.deepEqual(events.map((e) => e.revision), [4, 5]);
  });

  test(
    "a slow watcher is closed with its resume revision and never blocks others",
    async ({ store }) => {
      const slow = store.watch("/s/", { bufferSize: 10 });
      const fast = store.watch("/s/", { bufferSize: 1000 });
      const fastDone = collect(fast, 30);
      const start = store.currentRevision();
      for (let i = 0; i < 30; i++) await store.create(`/s/${i}`, "x");
      assert.equal((await fastDone).length, 30);
      fast.close();
      const seen = await collect(slow, 1000);
      assert.equal(seen.length, 0);
      const reason = slow.closeReason;
      assert.equal(reason?.kind, "too-slow");
      assert.ok(reason?.kind === "too-slow" && reason.lastRevision === start);
      const resumed = store.watch("/s/", { afterRevision: start });
      assert.equal((await collect(resumed, 30)).length, 30);
      resumed.close();
    },
    { watchBufferSize: 10 },
  );

  test("watch() ends when its signal aborts", async ({ store }) => {
    const ac = new AbortController();
    const watcher = store.watch("/a/", { signal: ac.signal });
    const done = collect(watcher, 100);
    await store.create("/a/1", "x");
    ac.abort();
    const events = await done;
    assert.ok(events.length <= 1);
    assert.equal(watcher.closeReason?.kind, "closed");
  });

  test(
    "leases: expiry deletes attached keys with delete events",
    async ({ store }, clock) => {
      const lease = await store.grantLease(10);
      await store.create("/lease/a", "1", { lease: lease.id });
      await store.create("/lease/b", "1", { lease: lease.id });
      await store.create("/lease/keep", "1");
      const watcher = store.watch("/lease/");
      const done = collect(watcher, 2);
      await clock.advance(5_000);
      await store.keepAlive(lease.id);
      await clock.advance(9_000);
      assert.ok(await store.get("/lease/a"));
      await clock.advance(2_000);
      const events = await done;
      watcher.close();
      assert.deepEqual(events.map((e) => [e.type, e.kv.key]), [[
        "delete",
        "/lease/a",
      ], ["delete", "/lease/b"]]);
      assert.equal(await store.get("/lease/a"), undefined);
      assert.ok(await store.get("/lease/keep"));
      await assert.rejects(store.keepAlive(lease.id), NotFoundError);
      await assert.rejects(
        store.create("/lease/c", "1", { lease: lease.id }),
        NotFoundError,
      );
    },
  );

  test("leases: revoke deletes attached keys; bad ttl and unknown ids fail", async ({ store }) => {
    const lease = await store.grantLease(60);
    await store.create("/r/a", "1", { lease: lease.id });
    await store.revokeLease(lease.id);
    assert.equal(await store.get("/r/a"), undefined);
    await assert.rejects(store.revokeLease(lease.id), NotFoundError);
    await assert.rejects(store.grantLease(0), RangeError);
    await assert.rejects(store.grantLease(1.5), RangeError);
    await assert.rejects(
      store.create("/r/c", "1", { lease: 12345 }),
      NotFoundError,
    );
  });

  test("leases: expiry survives a restart", async (harness, clock) => {
    const lease = await harness.store.grantLease(30);
    await harness.store.create("/e/a", "1", { lease: lease.id });
    const store = await harness.reopen();
    assert.ok(await store.get("/e/a"));
    await clock.advance(31_000);
    assert.equal(await store.get("/e/a"), undefined);
  });

  test("writes survive a restart and revisions continue", async (harness) => {
    for (let i = 0; i < 20; i++) await harness.store.create(`/d/${i}`, enc(i));
    await harness.store.delete("/d/3");
    const rev = harness.store.currentRevision();
    const store = await harness.reopen();
    assert.equal(store.currentRevision(), rev);
    assert.equal(await store.count("/d/"), 19);
    const next = await store.create("/d/new", "x");
    assert.equal(next.revision, rev + 1);
    assert.deepEqual(await store.checkIntegrity(), []);
  });

  test("compact() keeps the newest state and watch history after it", async ({ store }) => {
    await store.create("/k/a", "1");
    for (let i = 2; i <= 50; i++) await store.update("/k/a", String(i));
    await store.create("/k/gone", "x");
    await store.delete("/k/gone");
    const mid = store.currentRevision();
    await store.update("/k/a", "51");
    await store.compact(mid);
    assert.equal(store.compactRevision(), mid);
    assert.equal((await store.get("/k/a"))?.value, "51");
    assert.equal((await store.get("/k/a", { revision: mid }))?.value, "50");
    assert.equal(await store.get("/k/gone"), undefined);
    const watcher = store.watch("/k/", { afterRevision: mid });
    const [event] = await collect(watcher, 1);
    watcher.close();
    assert.equal(event?.kv.value, "51");
    assert.equal(event?.prev?.value, "50");
    assert.deepEqual(await store.checkIntegrity(), []);
  });

  test("a closed store refuses new writes", async (harness) => {
    await harness.store.create("/z", "1");
    await harness.store.close();
    await assert.rejects(harness.store.create("/z2", "1"));
    await harness.reopen();
  });
}
