import assert from "node:assert/strict";
import { cluster, info, node } from "../_testing.ts";
import { nodeArch, podArchitectures } from "./node_arch.ts";

const c = cluster([
  node("pi", { labels: { "kubernetes.io/arch": "arm64" } }),
  node("nuc", { labels: { "kubernetes.io/arch": "amd64" } }),
  node("unknown"),
]);

Deno.test("NodeArch refuses nodes whose kubernetes.io/arch differs from the pod's skiff.dev/arch", () => {
  const p = info("p", { annotations: { "skiff.dev/arch": "arm64" } });
  const state = nodeArch.prepare!(p, c)!;
  assert.equal(nodeArch.filter!(p, c.node("pi")!, state), undefined);
  assert.equal(nodeArch.filter!(p, c.node("nuc")!, state), "node(s) didn't match the pod's architecture (arm64)");
  assert.equal(nodeArch.filter!(p, c.node("unknown")!, state), "node(s) didn't match the pod's architecture (arm64)");
});

Deno.test("NodeArch accepts any of several architectures and skips pods that name none", () => {
  const p = info("p", { annotations: { "skiff.dev/arch": "amd64, arm64" } });
  const state = nodeArch.prepare!(p, c)!;
  assert.equal(nodeArch.filter!(p, c.node("nuc")!, state), undefined);
  assert.equal(nodeArch.prepare!(info("any"), c), undefined);
  assert.equal(podArchitectures({ "skiff.dev/arch": " , " }), undefined);
});
