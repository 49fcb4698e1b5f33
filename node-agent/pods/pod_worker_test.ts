import assert from "node:assert/strict";
import { ManualClock } from "@skiff/api";
import { PodWorker } from "./pod_worker.ts";

Deno.test("PodWorker runs syncs one at a time and coalesces wakes during a sync into one more", async () => {
  let active = 0;
  let most = 0;
  let release: () => void = () => {};
  const seen: number[] = [];
  let latest = 0;
  const worker = new PodWorker({
    sync: async () => {
      active++;
      most = Math.max(most, active);
      seen.push(latest);
      await new Promise<void>((resolve) => release = resolve);
      active--;
    },
  });
  latest = 1;
  worker.wake();
  await Promise.resolve();
  for (latest = 2; latest <= 5; latest++) worker.wake();
  latest = 5;
  release();
  await new Promise((r) => setTimeout(r, 0));
  release();
  await worker.idle();
  assert.deepEqual(seen, [1, 5], "the second sync sees the latest update");
  assert.equal(most, 1);
  assert.equal(worker.syncs, 2);
});

Deno.test("PodWorker retries a failed sync with doubling delays on its clock", async () => {
  const clock = new ManualClock(0);
  const at: number[] = [];
  let failures = 2;
  const errors: unknown[] = [];
  const worker = new PodWorker({
    clock,
    retryMs: 1000,
    onError: (e) => errors.push(e),
    sync: () => {
      at.push(clock.now());
      if (failures-- > 0) return Promise.reject(new Error("boom"));
      return Promise.resolve();
    },
  });
  worker.wake();
  await worker.idle();
  await clock.advance(1000);
  await worker.idle();
  await clock.advance(2000);
  await worker.idle();
  assert.deepEqual(at, [0, 1000, 3000]);
  assert.equal(errors.length, 2);
  await worker.stop();
});

Deno.test("PodWorker.wakeAfter() keeps the earliest request, and a sync may ask to run again", async () => {
  const clock = new ManualClock(0);
  const at: number[] = [];
  const worker = new PodWorker({
    clock,
    sync: () => {
      at.push(clock.now());
      return Promise.resolve(at.length === 1 ? { requeueAfterMs: 5000 } : {});
    },
  });
  worker.wakeAfter(10_000);
  worker.wakeAfter(3000);
  await clock.advance(3000);
  await worker.idle();
  await clock.advance(10_000);
  await worker.idle();
  assert.deepEqual(at, [3000, 8000]);
  await worker.stop();
});

Deno.test("PodWorker.interrupt() aborts the sync in progress and runs a new one; stop() waits for it", async () => {
  const signals: AbortSignal[] = [];
  const worker = new PodWorker({
    sync: (signal) => {
      signals.push(signal);
      if (signals.length > 1) return Promise.resolve();
      return new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
    },
  });
  worker.wake();
  await Promise.resolve();
  worker.interrupt();
  await worker.idle();
  assert.equal(signals.length, 2);
  assert.equal(signals[0]!.aborted, true);
  assert.equal(signals[1]!.aborted, false);
  await worker.stop();
  worker.wake();
  assert.equal(worker.syncs, 2, "a stopped worker does not sync");
});
