import assert from "node:assert/strict";
import { cluster, info, node } from "../_testing.ts";
import { liveUsage, liveUsageScore, usagePercent } from "./live_usage.ts";

Deno.test("LiveUsage scores by the usage annotations when there are no NodeMetrics", () => {
  const c = cluster([
    node("idle", {
      annotations: {
        "hardware.skiff.dev/cpu-usage-percent": "10",
        "hardware.skiff.dev/memory-usage-percent": "30",
      },
    }),
    node("busy", {
      annotations: {
        "hardware.skiff.dev/cpu-usage-percent": "90",
        "hardware.skiff.dev/memory-usage-percent": "80",
      },
    }),
    node("silent"),
  ]);
  const p = info("p");
  assert.equal(liveUsage.score!(p, c.node("idle")!, undefined), 80);
  assert.equal(liveUsage.score!(p, c.node("busy")!, undefined), 15);
  assert.equal(liveUsage.score!(p, c.node("silent")!, undefined), 50);
});

Deno.test("LiveUsage prefers NodeMetrics, as a share of allocatable", () => {
  const c = cluster([
    node("a", { cpu: "4", memory: "8Gi", annotations: { "hardware.skiff.dev/cpu-usage-percent": "99" } }),
  ]);
  c.setUsage("a", { milliCpu: 1000, memory: 2 * 1024 ** 3 });
  assert.deepEqual(usagePercent(c.node("a")!), { cpu: 25, memory: 25 });
  assert.equal(liveUsageScore({ cpu: 40, memory: undefined }), 60);
});
