import assert from "node:assert/strict";
import { ClusterCache } from "./cache.ts";
import { info, node, pod } from "./_testing.ts";

Deno.test("ClusterCache accounts bound pods on their node and releases them when deleted", () => {
  const cache = new ClusterCache();
  cache.upsertNode(node("a"));
  cache.upsertPod(pod("p", { nodeName: "a", requests: { cpu: "500m" }, owner: "rs" }));
  const a = cache.node("a")!;
  assert.equal(a.requested.milliCpu, 500);
  assert.equal(a.ownerCount("rs"), 1);
  cache.removePod("uid-default-p");
  assert.equal(a.requested.milliCpu, 0);
  assert.equal(a.ownerCount("rs"), 0);
});

Deno.test("ClusterCache.assume() holds resources until forget() or the binding is seen", () => {
  const cache = new ClusterCache();
  cache.upsertNode(node("a"));
  cache.upsertNode(node("b"));
  const p = info("p", { requests: { memory: "1Gi" } });
  cache.assume(p, "a");
  assert.equal(cache.isAssumed(p.uid), true);
  assert.equal(cache.node("a")!.requested.memory, 1024 ** 3);
  cache.forget(p.uid);
  assert.equal(cache.node("a")!.requested.memory, 0);
  cache.assume(p, "a");
  cache.upsertPod(pod("p", { nodeName: "b", requests: { memory: "1Gi" } }));
  assert.equal(cache.isAssumed(p.uid), false);
  assert.equal(cache.nodeOf(p.uid), "b");
  cache.forget(p.uid);
  assert.equal(cache.node("b")!.requested.memory, 1024 ** 3);
});

Deno.test("ClusterCache.upsertNode() says whether a change matters to scheduling", () => {
  const cache = new ClusterCache();
  const n = node("a");
  assert.equal(cache.upsertNode(n), "added");
  const heartbeat = structuredClone(n);
  heartbeat.status!.conditions![0]!.lastHeartbeatTime = "2026-01-01T00:00:10Z";
  assert.equal(cache.upsertNode(heartbeat), "unchanged");
  assert.equal(
    cache.upsertNode(node("a", { annotations: { "hardware.skiff.dev/temperature-celsius": "80" } })),
    "changed",
  );
  assert.equal(cache.upsertNode(node("a", { unschedulable: true })), "changed");
});

Deno.test("ClusterCache keeps pods of a removed node and finds them again when it returns", () => {
  const cache = new ClusterCache();
  cache.upsertNode(node("a"));
  cache.upsertNode(node("b"));
  cache.upsertPod(pod("p", { nodeName: "a", requests: { cpu: "1" } }));
  cache.removeNode("a");
  assert.deepEqual(cache.nodes.map((n) => n.name), ["b"]);
  assert.equal(cache.node("a"), undefined);
  cache.upsertNode(node("a"));
  assert.equal(cache.node("a")!.requested.milliCpu, 1000);
});
