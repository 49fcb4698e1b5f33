import assert from "node:assert/strict";
import { cluster, info, node, pod } from "../_testing.ts";
import { freeShare, leastAllocated } from "./least_allocated.ts";

Deno.test("LeastAllocated prefers the node with more CPU and memory left", () => {
  const c = cluster([node("empty", { cpu: "4", memory: "4Gi" }), node("busy", { cpu: "4", memory: "4Gi" })], [
    pod("old", { nodeName: "busy", requests: { cpu: "2", memory: "2Gi" } }),
  ]);
  const p = info("p", { requests: { cpu: "1", memory: "1Gi" } });
  assert.equal(leastAllocated.score!(p, c.node("empty")!, undefined), 75);
  assert.equal(leastAllocated.score!(p, c.node("busy")!, undefined), 25);
});

Deno.test("LeastAllocated counts containers without requests as 100m and 200Mi", () => {
  const c = cluster([node("a", { cpu: "1", memory: "1000Mi" })]);
  assert.equal(leastAllocated.score!(info("p"), c.node("a")!, undefined), 85);
  assert.equal(freeShare(5, 4), 0);
  assert.equal(freeShare(1, 0), 0);
});
