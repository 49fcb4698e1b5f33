import assert from "node:assert/strict";
import { cluster, info, node } from "../_testing.ts";
import { nodeReady, nodeReadyStatus, REASON_NOT_READY, REASON_UNREACHABLE } from "./node_ready.ts";

Deno.test("NodeReady refuses nodes whose Ready condition is False, Unknown or missing", () => {
  const c = cluster([
    node("ok"),
    node("down", { ready: "False" }),
    node("silent", { ready: "Unknown" }),
    node("new", { ready: "missing" }),
  ]);
  const p = info("p");
  const state = nodeReady.prepare!(p, c)!;
  assert.equal(nodeReady.filter!(p, c.node("ok")!, state), undefined);
  assert.equal(nodeReady.filter!(p, c.node("down")!, state), REASON_NOT_READY);
  assert.equal(nodeReady.filter!(p, c.node("silent")!, state), REASON_UNREACHABLE);
  assert.equal(nodeReady.filter!(p, c.node("new")!, state), REASON_UNREACHABLE);
  assert.equal(nodeReadyStatus(c.node("new")!.node), "Unknown");
});

Deno.test("NodeReady lets a pod tolerating the not-ready NoSchedule taint onto a not-ready node", () => {
  const c = cluster([node("down", { ready: "False" }), node("silent", { ready: "Unknown" })]);
  const p = info("p", {
    spec: { tolerations: [{ key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoSchedule" }] },
  });
  const state = nodeReady.prepare!(p, c)!;
  assert.equal(nodeReady.filter!(p, c.node("down")!, state), undefined);
  assert.equal(nodeReady.filter!(p, c.node("silent")!, state), REASON_UNREACHABLE);
  assert.equal(nodeReady.prepare!(info("all", { spec: { tolerations: [{ operator: "Exists" }] } }), c), undefined);
});
