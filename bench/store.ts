/**
 * Store benchmark: durable write throughput and latency at several
 * concurrencies (group commit and the naive one-transaction-per-write mode
 * side by side), list latency, watch fan-out delay, idle disk writes, and
 * database size under constant churn with compaction on.
 *
 * `deno task bench store [--quick]`
 *
 * @module
 */

import { join } from "node:path";
import { openSqliteStore, type SqliteStore } from "../control-plane/store/mod.ts";
import { bytesWrittenByProcess, percentile, quick, report } from "./_report.ts";

const BENCH = "store";
const dir = await Deno.makeTempDir({ prefix: "skiff-bench-store-" });
let counter = 0;
const freshPath = () => join(dir, `s${counter++}.db`);
const objectValue = (i: number) =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: `cm-${i}`, namespace: "default", labels: { app: "bench", shard: String(i % 16) } },
    data: { payload: "x".repeat(200) },
  });

async function writes(options: { concurrency: number; groupCommit: boolean; seconds: number }): Promise<void> {
  const store = openSqliteStore({ path: freshPath(), groupCommit: options.groupCommit, compaction: false });
  const latencies: number[] = [];
  let errors = 0;
  let done = 0;
  const deadline = performance.now() + options.seconds * 1000;
  const value = objectValue(0);
  const start = performance.now();
  await Promise.all(Array.from({ length: options.concurrency }, async (_, w) => {
    let n = 0;
    while (performance.now() < deadline) {
      const t0 = performance.now();
      try {
        await store.create(`/registry/configmaps/default/w${w}-${n++}`, value);
        latencies.push(performance.now() - t0);
        done++;
      } catch {
        errors++;
      }
    }
  }));
  const elapsed = (performance.now() - start) / 1000;
  const mode = options.groupCommit ? "group-commit" : "naive";
  const detail = { concurrency: options.concurrency, mode, durable: true };
  report({ bench: BENCH, metric: "durable_writes_per_second", value: done / elapsed, unit: "writes/s", ...detail });
  report({ bench: BENCH, metric: "write_latency_p50", value: percentile(latencies, 50), unit: "ms", ...detail });
  report({ bench: BENCH, metric: "write_latency_p99", value: percentile(latencies, 99), unit: "ms", ...detail });
  report({ bench: BENCH, metric: "write_errors", value: errors, unit: "count", ...detail });
  report({
    bench: BENCH,
    metric: "writes_per_commit",
    value: store.stats().writes / Math.max(1, store.stats().commits),
    unit: "writes",
    ...detail,
  });
  await store.close();
}

async function fill(store: SqliteStore, keys: number): Promise<void> {
  for (let i = 0; i < keys; i += 1000) {
    await Promise.all(
      Array.from(
        { length: Math.min(1000, keys - i) },
        (_, j) => store.create(`/registry/configmaps/default/cm-${String(i + j).padStart(7, "0")}`, objectValue(i + j)),
      ),
    );
  }
}

async function listLatency(keys: number): Promise<void> {
  const store = openSqliteStore({ path: freshPath(), compaction: false });
  await fill(store, keys);
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const page = await store.list("/registry/configmaps/");
    samples.push(performance.now() - t0);
    if (page.items.length !== keys) throw new Error(`list returned ${page.items.length} of ${keys} keys`);
  }
  report({ bench: BENCH, metric: "list_latency_p50", value: percentile(samples, 50), unit: "ms", keys });
  const paged: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await store.list("/registry/configmaps/", { limit: 500 });
    paged.push(performance.now() - t0);
  }
  report({ bench: BENCH, metric: "list_page_latency_p50", value: percentile(paged, 50), unit: "ms", keys, limit: 500 });
  await store.close();
}

async function watchFanOut(watchers: number, rate: number, seconds: number): Promise<void> {
  const store = openSqliteStore({ path: freshPath(), compaction: false });
  const total = rate * seconds;
  const sentAt = new Float64Array(total);
  const delays: number[] = [];
  const prefix = "/registry/pods/default/p";
  const consumers = Array.from({ length: watchers }, async () => {
    for await (const batch of store.watch("/registry/pods/")) {
      const now = performance.now();
      for (const event of batch) delays.push(now - sentAt[Number(event.kv.key.slice(prefix.length))]!);
    }
  });
  const interval = 1000 / rate;
  const start = performance.now();
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = start + i * interval - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    sentAt[i] = performance.now();
    pending.push(store.create(`${prefix}${i}`, objectValue(i)));
  }
  await Promise.all(pending);
  const elapsed = (performance.now() - start) / 1000;
  await new Promise((resolve) => setTimeout(resolve, 200));
  await store.close();
  await Promise.all(consumers);
  const detail = { watchers, target_rate: rate, achieved_rate: Math.round(total / elapsed), from: "write issued" };
  report({ bench: BENCH, metric: "watch_delivery_p50", value: percentile(delays, 50), unit: "ms", ...detail });
  report({ bench: BENCH, metric: "watch_delivery_p99", value: percentile(delays, 99), unit: "ms", ...detail });
  report({ bench: BENCH, metric: "watch_events_delivered", value: delays.length, unit: "events", ...detail });
}

async function idleWrites(seconds: number): Promise<void> {
  const path = freshPath();
  const store = openSqliteStore({ path, compaction: { intervalMs: 1000, windowMs: 2000, minRevisions: 10 } });
  await fill(store, 2000);
  await new Promise((resolve) => setTimeout(resolve, 4000));
  await store.settled();
  const before = bytesWrittenByProcess();
  const commitsBefore = store.stats().diskWrites;
  const fileBefore = await Deno.stat(path);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const written = bytesWrittenByProcess() - before;
  const fileAfter = await Deno.stat(path);
  report({
    bench: BENCH,
    metric: "idle_bytes_written_per_minute",
    value: written * (60 / seconds),
    unit: "bytes/min",
    measured_seconds: seconds,
    file_changed: fileAfter.mtime?.getTime() !== fileBefore.mtime?.getTime(),
    store_disk_writes: store.stats().diskWrites - commitsBefore,
  });
  await store.close();
}

async function churnSize(updates: number, keys: number, windowMs: number): Promise<void> {
  const path = freshPath();
  const store = openSqliteStore({ path, compaction: { intervalMs: 1000, windowMs, minRevisions: 1000 } });
  await fill(store, keys);
  const start = performance.now();
  const sizes: number[] = [];
  const fileSize = async () =>
    (await Deno.stat(path)).size + ((await Deno.stat(`${path}-wal`).catch(() => null))?.size ?? 0);
  for (let done = 0; done < updates; done += 1000) {
    await Promise.all(
      Array.from({ length: 1000 }, (_, j) => {
        const key = `/registry/configmaps/default/cm-${String((done + j) % keys).padStart(7, "0")}`;
        return store.update(key, objectValue(j));
      }),
    );
    if (done % 20_000 === 0) sizes.push(await fileSize());
  }
  const seconds = (performance.now() - start) / 1000;
  await new Promise((resolve) => setTimeout(resolve, windowMs + 12_000));
  await store.settled();
  const detail = { updates, keys, compaction_window_ms: windowMs, write_seconds: Math.round(seconds) };
  const half = Math.floor(sizes.length / 2);
  report({
    bench: BENCH,
    metric: "db_files_size_after_updates",
    value: (await fileSize()) / 1e6,
    unit: "MB",
    ...detail,
  });
  report({ bench: BENCH, metric: "db_files_size_peak", value: Math.max(...sizes) / 1e6, unit: "MB", ...detail });
  report({
    bench: BENCH,
    metric: "db_files_growth_second_half",
    value: Math.max(...sizes.slice(half)) / Math.max(1, ...sizes.slice(0, half)),
    unit: "ratio",
    ...detail,
  });
  await store.close();
}

const only = Deno.args.find((a) => a.startsWith("--only="))?.slice("--only=".length);
const section = (name: string) => only === undefined || only.split(",").includes(name);

try {
  const seconds = quick ? 1.5 : 5;
  if (section("writes")) {
    for (const concurrency of [1, 16, 64, 256]) {
      await writes({ concurrency, groupCommit: true, seconds });
      await writes({ concurrency, groupCommit: false, seconds });
    }
  }
  if (section("list")) {
    await listLatency(10_000);
    await listLatency(100_000);
  }
  if (section("watch")) await watchFanOut(1000, 1000, quick ? 3 : 10);
  if (section("idle")) await idleWrites(quick ? 10 : 60);
  if (section("size")) await churnSize(quick ? 300_000 : 1_000_000, 1000, quick ? 1000 : 5000);
} finally {
  await Deno.remove(dir, { recursive: true });
}
