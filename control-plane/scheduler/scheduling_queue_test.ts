import assert from "node:assert/strict";
import { ManualClock } from "@skiff/api";
import { SchedulingQueue } from "./scheduling_queue.ts";
import { info } from "./_testing.ts";

Deno.test("SchedulingQueue pops by priority, then age", async () => {
  const q = new SchedulingQueue({ clock: new ManualClock() });
  q.add(info("young", { created: 2000 }));
  q.add(info("old", { created: 1000 }));
  q.add(info("urgent", { created: 3000, spec: { priority: 100 } }));
  const order = [];
  for (let i = 0; i < 3; i++) order.push((await q.pop())!.info.pod.metadata.name);
  assert.deepEqual(order, ["urgent", "old", "young"]);
});

Deno.test("SchedulingQueue keeps an unschedulable pod until a cluster event, then retries it after its backoff", async () => {
  const clock = new ManualClock();
  const q = new SchedulingQueue({ clock, initialBackoffMs: 1000, maxBackoffMs: 10_000 });
  q.add(info("p"));
  const popped = q.tryPop()!;
  q.unschedulable(popped);
  assert.deepEqual(q.lengths, { active: 0, backoff: 0, unschedulable: 1 });
  q.moveAllToActiveOrBackoff();
  assert.deepEqual(q.lengths, { active: 0, backoff: 1, unschedulable: 0 });
  await clock.advance(999);
  assert.equal(q.tryPop(), undefined);
  await clock.advance(1);
  assert.equal(q.tryPop()?.attempts, 1);
});

Deno.test("SchedulingQueue doubles the backoff per attempt up to the maximum", () => {
  const clock = new ManualClock(0);
  const q = new SchedulingQueue({ clock, initialBackoffMs: 1000, maxBackoffMs: 10_000 });
  q.add(info("p"));
  const pod = q.tryPop()!;
  for (const expected of [1000, 2000, 4000, 8000, 10_000, 10_000]) {
    q.backoff(pod);
    assert.equal(q.backoffUntil(pod) - clock.now(), expected);
    q.delete(pod.info.key);
  }
});

Deno.test("SchedulingQueue retries a pod whose spec changed, and one unschedulable for 5 minutes", async () => {
  const clock = new ManualClock();
  const q = new SchedulingQueue({ clock, initialBackoffMs: 10, maxBackoffMs: 10 });
  q.add(info("edited"));
  q.add(info("stuck"));
  q.unschedulable(q.tryPop()!);
  q.unschedulable(q.tryPop()!);
  await clock.advance(100);
  q.add(info("edited", { labels: { fixed: "yes" } }), false);
  assert.equal(q.lengths.unschedulable, 2);
  q.add(info("edited", { labels: { fixed: "yes" } }), true);
  assert.equal(q.tryPop()?.info.pod.metadata.name, "edited");
  await clock.advance(5 * 60_000);
  assert.equal(q.tryPop()?.info.pod.metadata.name, "stuck");
});

Deno.test("SchedulingQueue.pop() waits for a pod and close() releases waiters", async () => {
  const q = new SchedulingQueue({ clock: new ManualClock() });
  const waiting = q.pop();
  q.add(info("p"));
  assert.equal((await waiting)?.info.pod.metadata.name, "p");
  const closed = q.pop();
  q.close();
  assert.equal(await closed, undefined);
  q.add(info("late"));
  assert.equal(q.has("default/late"), false);
});
