import assert from "node:assert/strict";
import { goDuration } from "./_duration.ts";

Deno.test("goDuration() prints like Go's time.Duration", () => {
  assert.equal(goDuration(0), "0s");
  assert.equal(goDuration(250), "250ms");
  assert.equal(goDuration(1500), "1.5s");
  assert.equal(goDuration(10_000), "10s");
  assert.equal(goDuration(20_000), "20s");
  assert.equal(goDuration(80_000), "1m20s");
  assert.equal(goDuration(300_000), "5m0s");
  assert.equal(goDuration(3_600_000), "1h0m0s");
  assert.equal(goDuration(1234), "1.234s");
});
