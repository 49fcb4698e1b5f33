import assert from "node:assert/strict";
import { feasibleNodesToFind, Framework } from "./find_node.ts";
import { cluster, info, node } from "./_testing.ts";
import { buildPlugins } from "./scheduler.ts";

const plugins = buildPlugins(undefined, { maxTemperatureCelsius: 75 });

Deno.test("Framework.findNode() explains node by node why a pod fits nowhere", () => {
  const c = cluster([
    node("hot", { annotations: { "hardware.skiff.dev/temperature-celsius": "81" } }),
    node("small-1", { memory: "1Gi" }),
    node("small-2", { memory: "1Gi" }),
    node("cordoned", { unschedulable: true }),
  ]);
  const result = new Framework(plugins).findNode(info("p", { requests: { memory: "2Gi" } }), c);
  assert.equal(result.node, undefined);
  assert.equal(
    !result.node && result.message,
    "0/4 nodes are available: 1 node too hot (81°C > 75°C), 1 node(s) were unschedulable, 2 Insufficient memory.",
  );
});

Deno.test("Framework.findNode() picks the best-scoring feasible node", () => {
  const c = cluster([
    node("warm", { annotations: { "hardware.skiff.dev/temperature-celsius": "70" } }),
    node("cool", { annotations: { "hardware.skiff.dev/temperature-celsius": "30" } }),
  ]);
  const result = new Framework(plugins).findNode(info("p"), c);
  assert.equal(result.node?.name, "cool");
});

Deno.test("Framework.findNode() breaks ties at random among equal nodes", () => {
  const c = cluster([node("a"), node("b"), node("c")]);
  const picks = new Set<string>();
  for (const r of [0, 0.4, 0.9]) {
    let calls = 0;
    const framework = new Framework(plugins, { random: () => calls++ === 0 ? r : 0.99 });
    picks.add(framework.findNode(info("p"), c).node!.name);
  }
  assert.ok(picks.size > 1, `picked ${[...picks]}`);
});

Deno.test("Framework.findNode() stops at enough feasible nodes and starts the next search where it stopped", () => {
  const c = cluster(Array.from({ length: 1000 }, (_, i) => node(`n${i}`)));
  const framework = new Framework(plugins, { percentageOfNodesToScore: 5 });
  const first = framework.findNode(info("p1"), c);
  assert.equal(first.evaluated, 100);
  const second = framework.findNode(info("p2"), c);
  assert.equal(second.evaluated, 100);
  assert.notEqual(first.node, second.node);
  assert.equal(feasibleNodesToFind(50, 5), 50);
  assert.equal(feasibleNodesToFind(5000, 5), 250);
  assert.equal(feasibleNodesToFind(1000, 0), 420);
  assert.equal(feasibleNodesToFind(10_000, 0), 500);
});

Deno.test("Framework weights scores by plugin weight", () => {
  const c = cluster([
    node("cool-busy", {
      annotations: {
        "hardware.skiff.dev/temperature-celsius": "20",
        "hardware.skiff.dev/cpu-usage-percent": "100",
        "hardware.skiff.dev/memory-usage-percent": "100",
      },
    }),
    node("hot-idle", {
      annotations: {
        "hardware.skiff.dev/temperature-celsius": "70",
        "hardware.skiff.dev/cpu-usage-percent": "0",
        "hardware.skiff.dev/memory-usage-percent": "0",
      },
    }),
  ]);
  const byHeat = new Framework(plugins, { weights: { Thermal: 10, LiveUsage: 1 } });
  const byUse = new Framework(plugins, { weights: { Thermal: 1, LiveUsage: 10 } });
  assert.equal(byHeat.findNode(info("p"), c).node?.name, "cool-busy");
  assert.equal(byUse.findNode(info("p"), c).node?.name, "hot-idle");
});
