import assert from "node:assert/strict";
import { nodeLease, nodeMetrics, podMetrics } from "./_test_manifests.ts";
import { toBytes, toMillicores } from "./quantity.ts";
import { resolveResource } from "./registry.ts";

Deno.test("Lease types hold a node heartbeat", () => {
  const lease = nodeLease();
  assert.deepEqual(resolveResource("leases").validate(lease), []);
  assert.equal(lease.spec?.leaseDurationSeconds, 40);
});

Deno.test("metrics types carry usage quantities", () => {
  const node = nodeMetrics();
  const pod = podMetrics();
  assert.equal(toMillicores(node.usage.cpu ?? "0"), 250);
  assert.equal(toBytes(pod.containers[0]?.usage.memory ?? "0"), 48 * 1024 * 1024);
  assert.deepEqual(resolveResource("nodes.metrics.k8s.io").validate(node), []);
  assert.deepEqual(resolveResource("pods.metrics.k8s.io").validate(pod), []);
});
