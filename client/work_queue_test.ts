import assert from "node:assert/strict";
import { ManualClock } from "@skiff/api";
import { runWorkers, WorkQueue } from "./work_queue.ts";

Deno.test("WorkQueue.add() de-duplicates keys that are waiting", async () => {
  const queue = new WorkQueue();
  queue.add("a");
  queue.add("b");
  queue.add("a");
  assert.equal(queue.length, 2);
  assert.equal(await queue.get(), "a");
  assert.equal(await queue.get(), "b");
});

Deno.test("WorkQueue never hands one key to two workers; a key added while processing runs again after done()", async () => {
  const queue = new WorkQueue();
  queue.add("a");
  const first = await queue.get();
  queue.add("a");
  assert.equal(queue.length, 0, "a key being processed is not queued again yet");
  let second: string | undefined;
  const pending = queue.get().then((k) => second = k);
  await Promise.resolve();
  assert.equal(second, undefined);
  queue.done(first!);
  await pending;
  assert.equal(second, "a");
});

Deno.test("WorkQueue.addRateLimited() backs off exponentially until forget()", async () => {
  const clock = new ManualClock(0);
  const queue = new WorkQueue({ clock, baseDelayMs: 10, maxDelayMs: 50 });
  const delays: number[] = [];
  for (let i = 0; i < 5; i++) {
    const start = clock.now();
    queue.addRateLimited("k");
    while (queue.length === 0) await clock.advance(1);
    delays.push(clock.now() - start);
    queue.done((await queue.get())!);
  }
  assert.deepEqual(delays, [10, 20, 40, 50, 50]);
  assert.equal(queue.retries("k"), 5);
  queue.forget("k");
  assert.equal(queue.retries("k"), 0);
});

Deno.test("WorkQueue.addAfter() keeps the earliest pending delay", async () => {
  const clock = new ManualClock(0);
  const queue = new WorkQueue({ clock });
  queue.addAfter("k", 100);
  queue.addAfter("k", 30);
  queue.addAfter("k", 200);
  await clock.advance(29);
  assert.equal(queue.length, 0);
  await clock.advance(1);
  assert.equal(queue.length, 1);
  await clock.advance(500);
  assert.equal(queue.length, 1);
});

Deno.test("runWorkers() retries failures with backoff and stops on shutdown", async () => {
  const clock = new ManualClock(0);
  const queue = new WorkQueue({ clock, baseDelayMs: 10 });
  const calls: string[] = [];
  let failuresLeft = 2;
  const running = runWorkers(queue, 3, (key) => {
    calls.push(key);
    if (key === "flaky" && failuresLeft-- > 0) return Promise.reject(new Error("not yet"));
    return Promise.resolve();
  });
  queue.add("flaky");
  queue.add("ok");
  for (let i = 0; i < 10; i++) await clock.advance(10);
  assert.deepEqual(calls.filter((k) => k === "flaky").length, 3);
  assert.equal(queue.retries("flaky"), 0);
  queue.shutdown();
  await running;
});

Deno.test("WorkQueue.get() after shutdown() resolves undefined", async () => {
  const queue = new WorkQueue();
  const waiting = queue.get();
  queue.shutdown();
  assert.equal(await waiting, undefined);
  assert.equal(await queue.get(), undefined);
});
