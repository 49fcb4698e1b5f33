import assert from "node:assert/strict";
import { labelValueErrors } from "@skiff/api";
import { goDuration, rfc3339, toLabelValue, toSlug } from "./_format.ts";

Deno.test("rfc3339() prints seconds precision in UTC", () => {
  assert.equal(rfc3339(Date.UTC(2026, 0, 2, 3, 4, 5, 999)), "2026-01-02T03:04:05Z");
});

Deno.test("goDuration() prints durations as Go does", () => {
  assert.equal(goDuration(0), "0s");
  assert.equal(goDuration(500), "500ms");
  assert.equal(goDuration(5_000), "5s");
  assert.equal(goDuration(5_030), "5.03s");
  assert.equal(goDuration(65_000), "1m5s");
  assert.equal(goDuration(3_600_000), "1h0m0s");
});

Deno.test("toLabelValue() makes any text a valid label value", () => {
  assert.equal(toLabelValue("Intel(R) Core(TM) i5-1135G7 @ 2.40GHz"), "Intel-Core-i5-1135G7-2.40GHz");
  assert.equal(toLabelValue("6.1.21-v8+"), "6.1.21-v8");
  assert.equal(toLabelValue("  --  "), "");
  const long = toLabelValue(`${"x".repeat(62)}-y`);
  assert.equal(long, "x".repeat(62));
  assert.deepEqual(labelValueErrors(toLabelValue("ÄÖÜ model ✓ 9")), []);
  assert.equal(toSlug("Raspberry Pi 4 Model B"), "raspberry-pi-4-model-b");
});
