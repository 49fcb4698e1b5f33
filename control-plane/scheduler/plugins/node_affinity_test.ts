import assert from "node:assert/strict";
import { cluster, info, node } from "../_testing.ts";
import { nodeAffinity, nodeAffinityState, REASON_NODE_AFFINITY } from "./node_affinity.ts";

const c = cluster([
  node("pi", { labels: { "kubernetes.io/arch": "arm64", disk: "ssd" } }),
  node("nuc", { labels: { "kubernetes.io/arch": "amd64" } }),
]);

Deno.test("NodeAffinity filters by nodeSelector", () => {
  const p = info("p", { spec: { nodeSelector: { "kubernetes.io/arch": "arm64" } } });
  const state = nodeAffinity.prepare!(p, c)!;
  assert.equal(nodeAffinity.filter!(p, c.node("pi")!, state), undefined);
  assert.equal(nodeAffinity.filter!(p, c.node("nuc")!, state), REASON_NODE_AFFINITY);
});

Deno.test("NodeAffinity filters by required affinity, including matchFields on metadata.name", () => {
  const p = info("ds", {
    spec: {
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: ["nuc"] }] }],
          },
        },
      },
    },
  });
  const state = nodeAffinity.prepare!(p, c)!;
  assert.equal(nodeAffinity.filter!(p, c.node("nuc")!, state), undefined);
  assert.equal(nodeAffinity.filter!(p, c.node("pi")!, state), REASON_NODE_AFFINITY);
});

Deno.test("NodeAffinity scores nodes by the share of preferred weight they match", () => {
  const p = info("p", {
    spec: {
      affinity: {
        nodeAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 30, preference: { matchExpressions: [{ key: "disk", operator: "In", values: ["ssd"] }] } },
            { weight: 10, preference: { matchExpressions: [{ key: "kubernetes.io/arch", operator: "Exists" }] } },
          ],
        },
      },
    },
  });
  const state = nodeAffinity.prepare!(p, c)!;
  assert.equal(nodeAffinity.score!(p, c.node("pi")!, state), 100);
  assert.equal(nodeAffinity.score!(p, c.node("nuc")!, state), 25);
});

Deno.test("NodeAffinity skips pods without node constraints and refuses every node for an invalid selector", () => {
  assert.equal(nodeAffinityState(info("p")), undefined);
  const bad = info("bad", { spec: { nodeSelector: { "not a key!": "x" } } });
  const state = nodeAffinity.prepare!(bad, c)!;
  assert.equal(nodeAffinity.filter!(bad, c.node("pi")!, state), REASON_NODE_AFFINITY);
});
