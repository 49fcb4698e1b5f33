import assert from "node:assert/strict";
import { DEFAULT_THRESHOLDS, resolveThresholds } from "./thresholds.ts";

Deno.test("resolveThresholds() completes the given thresholds with the defaults", () => {
  assert.deepEqual(resolveThresholds(), DEFAULT_THRESHOLDS);
  assert.equal(resolveThresholds({ temperatureCelsius: 70 }).temperatureCelsius, 70);
  assert.equal(resolveThresholds({ temperatureCelsius: 70 }).memoryAvailableBytes, 100 * 1024 * 1024);
});

Deno.test("resolveThresholds() rejects unknown, non-numeric and out-of-range thresholds naming them", () => {
  assert.throws(() => resolveThresholds({ gpuCelsius: 1 } as never), /Invalid threshold "gpuCelsius": no such/);
  assert.throws(() => resolveThresholds({ memoryAvailableBytes: "1Gi" } as never), TypeError);
  assert.throws(() => resolveThresholds({ memoryAvailableBytes: -1 }), RangeError);
  assert.throws(() => resolveThresholds({ pidAvailablePercent: 101 }), /more than 100 percent/);
});
