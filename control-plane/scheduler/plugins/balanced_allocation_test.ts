import assert from "node:assert/strict";
import { cluster, info, node } from "../_testing.ts";
import { balancedAllocation, balanceScore } from "./balanced_allocation.ts";

Deno.test("BalancedAllocation prefers nodes where CPU and memory would be used alike", () => {
  const c = cluster([node("a", { cpu: "4", memory: "4Gi" }), node("b", { cpu: "4", memory: "16Gi" })]);
  const p = info("p", { requests: { cpu: "2", memory: "2Gi" } });
  assert.equal(balancedAllocation.score!(p, c.node("a")!, undefined), 100);
  assert.equal(balancedAllocation.score!(p, c.node("b")!, undefined), 81.25);
  assert.equal(balanceScore(1, 0), 50);
  assert.equal(balanceScore(3, 1), 100);
});
