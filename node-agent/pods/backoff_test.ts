import assert from "node:assert/strict";
import { ManualClock } from "@skiff/api";
import { Backoff, CRASH_LOOP_BACKOFF } from "./backoff.ts";

Deno.test("Backoff doubles from 10 s to the 5 min cap as a container keeps crashing", async () => {
  const clock = new ManualClock(0);
  const backoff = new Backoff({ ...CRASH_LOOP_BACKOFF, clock });
  const seen: number[] = [];
  for (let crash = 0; crash < 8; crash++) {
    const finishedAt = clock.now();
    if (backoff.isInBackOffSince("c", finishedAt)) {
      seen.push(backoff.get("c"));
      await clock.advance(backoff.remaining("c", finishedAt));
      assert.equal(backoff.isInBackOffSince("c", finishedAt), false);
    }
    backoff.next("c", finishedAt);
  }
  assert.deepEqual(seen, [10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
});

Deno.test("Backoff starts over once the last event is more than twice the maximum old", async () => {
  const clock = new ManualClock(0);
  const backoff = new Backoff({ ...CRASH_LOOP_BACKOFF, clock });
  backoff.next("c", 0);
  backoff.next("c", 0);
  assert.equal(backoff.get("c"), 20_000);
  await clock.advance(600_001);
  assert.equal(backoff.isInBackOffSince("c", clock.now()), false);
  backoff.next("c", clock.now());
  assert.equal(backoff.get("c"), 10_000);
});

Deno.test("Backoff.isInBackOffSinceUpdate() holds for the delay after the last event", async () => {
  const clock = new ManualClock(0);
  const backoff = new Backoff({ initialMs: 1000, maxMs: 4000, clock });
  assert.equal(backoff.isInBackOffSinceUpdate("img"), false);
  backoff.next("img", clock.now());
  assert.equal(backoff.isInBackOffSinceUpdate("img"), true);
  await clock.advance(1000);
  assert.equal(backoff.isInBackOffSinceUpdate("img"), false);
  backoff.reset("img");
  assert.equal(backoff.get("img"), 0);
});

Deno.test("Backoff() refuses delays that are not positive", () => {
  assert.throws(() => new Backoff({ initialMs: 0, maxMs: 10 }), /initialMs 0 must be positive/);
  assert.throws(() => new Backoff({ initialMs: 10, maxMs: 5 }), RangeError);
});
