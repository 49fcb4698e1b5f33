import assert from "node:assert/strict";
import { cluster, info, node } from "../_testing.ts";
import { nodeName, nodeNameMatches, REASON_NODE_NAME } from "./node_name.ts";

Deno.test("NodeName fits a pod naming a node only on that node", () => {
  const c = cluster([node("a"), node("b")]);
  const p = info("p", { spec: { nodeName: "b" } });
  const wanted = nodeName.prepare!(p, c)!;
  assert.equal(nodeName.filter!(p, c.node("a")!, wanted), REASON_NODE_NAME);
  assert.equal(nodeName.filter!(p, c.node("b")!, wanted), undefined);
  assert.equal(nodeName.prepare!(info("free"), c), undefined);
  assert.equal(nodeNameMatches(undefined, "a"), true);
});
