import assert from "node:assert/strict";
import { normalizeLowerIsBetter } from "../framework.ts";
import { cluster, info, node } from "../_testing.ts";
import { taintToleration, untoleratedTaintReason } from "./taint_toleration.ts";

const c = cluster([
  node("gpu", { taints: [{ key: "gpu", value: "true", effect: "NoSchedule" }] }),
  node("soft", { taints: [{ key: "busy", effect: "PreferNoSchedule" }] }),
  node("clean"),
]);

Deno.test("TaintToleration refuses a node with an untolerated NoSchedule taint, naming it", () => {
  const p = info("p");
  const state = taintToleration.prepare!(p, c)!;
  assert.equal(taintToleration.filter!(p, c.node("gpu")!, state), "node(s) had untolerated taint {gpu: true}");
  assert.equal(taintToleration.filter!(p, c.node("soft")!, state), undefined);
  assert.equal(untoleratedTaintReason({ key: "k", effect: "NoExecute" }), "node(s) had untolerated taint {k: }");
});

Deno.test("TaintToleration accepts a node whose taint the pod tolerates", () => {
  const p = info("p", { spec: { tolerations: [{ key: "gpu", operator: "Equal", value: "true" }] } });
  assert.equal(taintToleration.filter!(p, c.node("gpu")!, taintToleration.prepare!(p, c)!), undefined);
});

Deno.test("TaintToleration scores nodes with untolerated PreferNoSchedule taints lowest", () => {
  const p = info("p");
  const state = taintToleration.prepare!(p, c)!;
  const scores = Float64Array.from([c.node("soft")!, c.node("clean")!].map((n) => taintToleration.score!(p, n, state)));
  normalizeLowerIsBetter(scores);
  assert.deepEqual([...scores], [0, 100]);
});
