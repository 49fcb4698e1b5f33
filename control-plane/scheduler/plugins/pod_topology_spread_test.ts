import assert from "node:assert/strict";
import type { TopologySpreadConstraint } from "@skiff/api";
import { cluster, info, node, pod } from "../_testing.ts";
import { podTopologySpread, REASON_SPREAD, REASON_SPREAD_MISSING_LABEL } from "./pod_topology_spread.ts";

const zone = (name: string, z: string) => node(name, { labels: { zone: z } });
const spread = (c: Partial<TopologySpreadConstraint> = {}) => ({
  labels: { app: "web" },
  spec: {
    topologySpreadConstraints: [{
      maxSkew: 1,
      topologyKey: "zone",
      whenUnsatisfiable: "DoNotSchedule" as const,
      labelSelector: { matchLabels: { app: "web" } },
      ...c,
    }],
  },
});

Deno.test("PodTopologySpread refuses domains that would exceed maxSkew", () => {
  const c = cluster([zone("a1", "a"), zone("a2", "a"), zone("b1", "b"), node("nolabel")], [
    pod("w1", { nodeName: "a1", labels: { app: "web" } }),
    pod("w2", { nodeName: "a2", labels: { app: "web" } }),
    pod("w3", { nodeName: "b1", labels: { app: "web" } }),
    pod("other", { nodeName: "b1", labels: { app: "db" } }),
  ]);
  const p = info("w4", spread());
  const state = podTopologySpread.prepare!(p, c)!;
  assert.equal(podTopologySpread.filter!(p, c.node("a1")!, state), REASON_SPREAD);
  assert.equal(podTopologySpread.filter!(p, c.node("b1")!, state), undefined);
  assert.equal(podTopologySpread.filter!(p, c.node("nolabel")!, state), REASON_SPREAD_MISSING_LABEL);
});

Deno.test("PodTopologySpread with ScheduleAnyway scores emptier domains higher", () => {
  const c = cluster([node("a"), node("b")], [pod("w1", { nodeName: "a", labels: { app: "web" } })]);
  const p = info("w2", spread({ topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway" }));
  const state = podTopologySpread.prepare!(p, c)!;
  assert.equal(podTopologySpread.filter!(p, c.node("a")!, state), undefined);
  const scores = Float64Array.from(["a", "b"].map((n) => podTopologySpread.score!(p, c.node(n)!, state)));
  podTopologySpread.normalize!(scores, state);
  assert.deepEqual([...scores], [0, 100]);
});

Deno.test("PodTopologySpread counts only domains of nodes the pod's node affinity allows", () => {
  const c = cluster([
    node("a", { labels: { zone: "a", pool: "x" } }),
    node("b", { labels: { zone: "b", pool: "y" } }),
  ], [pod("w1", { nodeName: "a", labels: { app: "web" } })]);
  const base = spread();
  const p = info("w2", { ...base, spec: { ...base.spec, nodeSelector: { pool: "x" } } });
  const state = podTopologySpread.prepare!(p, c)!;
  assert.equal(podTopologySpread.filter!(p, c.node("a")!, state), undefined);
  assert.equal(podTopologySpread.prepare!(info("none"), c), undefined);
});
