import assert from "node:assert/strict";
import { cluster, info, node } from "../_testing.ts";
import { nodeUnschedulable, REASON_UNSCHEDULABLE, toleratesCordon } from "./node_unschedulable.ts";

Deno.test("NodeUnschedulable refuses a cordoned node and accepts an uncordoned one", () => {
  const c = cluster([node("a", { unschedulable: true }), node("b")]);
  const p = info("p");
  const state = nodeUnschedulable.prepare!(p, c)!;
  assert.equal(nodeUnschedulable.filter!(p, c.node("a")!, state), REASON_UNSCHEDULABLE);
  assert.equal(nodeUnschedulable.filter!(p, c.node("b")!, state), undefined);
});

Deno.test("NodeUnschedulable lets a pod tolerating the unschedulable taint onto a cordoned node", () => {
  const tolerant = info("ds", {
    spec: { tolerations: [{ key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" }] },
  });
  assert.equal(nodeUnschedulable.prepare!(tolerant, cluster([])), undefined);
  assert.equal(toleratesCordon([{ operator: "Exists" }]), true);
  assert.equal(toleratesCordon([{ key: "other", operator: "Exists" }]), false);
});
