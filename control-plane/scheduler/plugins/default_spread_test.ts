import assert from "node:assert/strict";
import { normalizeLowerIsBetter } from "../framework.ts";
import { cluster, info, node, pod } from "../_testing.ts";
import { defaultSpread, spreadOwner } from "./default_spread.ts";

Deno.test("DefaultSpread prefers nodes with fewer pods of the same owner", () => {
  const c = cluster([node("a"), node("b"), node("c")], [
    pod("r1", { nodeName: "a", owner: "rs-1" }),
    pod("r2", { nodeName: "a", owner: "rs-1" }),
    pod("r3", { nodeName: "b", owner: "rs-1" }),
    pod("x", { nodeName: "c", owner: "other" }),
  ]);
  const p = info("r4", { owner: "rs-1" });
  const owner = defaultSpread.prepare!(p, c)!;
  const scores = Float64Array.from(["a", "b", "c"].map((n) => defaultSpread.score!(p, c.node(n)!, owner)));
  defaultSpread.normalize!(scores, owner);
  assert.deepEqual([...scores], [0, 50, 100]);
});

Deno.test("DefaultSpread skips pods without an owner or with their own spread constraints", () => {
  assert.equal(spreadOwner(info("bare")), undefined);
  const own = info("own", {
    owner: "rs",
    spec: { topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "zone", whenUnsatisfiable: "ScheduleAnyway" }] },
  });
  assert.equal(spreadOwner(own), undefined);
  const scores = Float64Array.from([2, 2]);
  normalizeLowerIsBetter(scores);
  assert.deepEqual([...scores], [100, 100]);
});
