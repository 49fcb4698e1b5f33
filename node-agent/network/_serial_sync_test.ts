import assert from "node:assert/strict";
import { ManualClock } from "@skiff/api";
import { SerialSync } from "./_serial_sync.ts";

Deno.test("SerialSync coalesces changes, waits the debounce between syncs and never runs two at once", async () => {
  const clock = new ManualClock();
  let running = 0;
  let runs = 0;
  let release = Promise.withResolvers<void>();
  const syncs = new SerialSync(async () => {
    running++;
    assert.equal(running, 1, "one sync at a time");
    runs++;
    await release.promise;
    running--;
  }, { clock, debounceMs: 50 });
  syncs.request();
  assert.equal(runs, 0, "nothing runs before activate()");
  syncs.activate();
  syncs.request();
  syncs.request();
  await clock.advance(0);
  assert.equal(runs, 1, "the first change syncs at once; two requests, one sync");
  syncs.request();
  syncs.request();
  release.resolve();
  release = Promise.withResolvers<void>();
  await clock.advance(0); // the first sync ends now
  await clock.advance(49);
  assert.equal(runs, 1, "the next sync waits the debounce from the end of the last");
  await clock.advance(1);
  assert.equal(runs, 2, "changes during a sync lead to exactly one more");
  release.resolve();
  await syncs.stop();
  syncs.request();
  await clock.advance(1000);
  assert.equal(runs, 2, "nothing runs after stop()");
});

Deno.test("SerialSync.now() syncs at once and rejects with the sync's error; retryIn() runs it again later", async () => {
  const clock = new ManualClock();
  let runs = 0;
  const syncs = new SerialSync(() => {
    runs++;
    if (runs === 1) {
      syncs.retryIn(1000);
      return Promise.reject(new Error("nft refused"));
    }
    return Promise.resolve();
  }, { clock, debounceMs: 50 });
  syncs.activate();
  await assert.rejects(syncs.now(), /nft refused/);
  assert.equal(runs, 1);
  await clock.advance(999);
  assert.equal(runs, 1);
  await clock.advance(1);
  assert.equal(runs, 2, "the retry ran");
  await syncs.stop();
});

Deno.test("SerialSync keeps syncing after a timer finds nothing left to do (a now() took its change)", async () => {
  const clock = new ManualClock();
  let runs = 0;
  let release = Promise.withResolvers<void>();
  const syncs = new SerialSync(async () => {
    runs++;
    await release.promise;
  }, { clock, debounceMs: 50 });
  syncs.activate();
  // A change schedules a sync for now; it starts and is still running when now() asks for another.
  syncs.request();
  await clock.advance(0);
  assert.equal(runs, 1);
  const asked = syncs.now();
  release.resolve();
  release = Promise.withResolvers<void>();
  release.resolve();
  await asked;
  assert.equal(runs, 2, "now() ran once more after the running sync");
  // The debounce timer the first sync's end scheduled finds the change already synced.
  await clock.advance(50);
  assert.equal(runs, 2);
  // A later change must still lead to a sync.
  syncs.request();
  await clock.advance(50);
  assert.equal(runs, 3, "a change after an empty timer run syncs");
  syncs.request();
  await clock.advance(50);
  assert.equal(runs, 4);
  await syncs.stop();
});
