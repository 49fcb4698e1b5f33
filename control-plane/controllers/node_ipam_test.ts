import assert from "node:assert/strict";
import type { Node } from "@skiff/api";
import { NodeIpamController, subnets } from "./node_ipam.ts";
import { startTestCluster, waitFor } from "./_testing.ts";

Deno.test("subnets() splits a cluster CIDR into node ranges, lowest first", () => {
  assert.deepEqual(subnets("10.42.0.0/22", 24), ["10.42.0.0/24", "10.42.1.0/24", "10.42.2.0/24", "10.42.3.0/24"]);
  assert.equal(subnets("10.42.0.0/16", 24).length, 256);
  assert.throws(() => subnets("10.42.0.0/25", 24), RangeError);
  assert.throws(() => subnets("banana", 24), RangeError);
});

Deno.test("NodeIpamController gives every node its own range, and reuses a deleted node's", async () => {
  await using cluster = await startTestCluster([new NodeIpamController({ clusterCidr: "10.42.0.0/23" })]);
  const nodes = cluster.client.kind<Node>("v1", "Node");
  const node = (name: string): Node => ({ apiVersion: "v1", kind: "Node", metadata: { name } });
  await Promise.all(["a", "b"].map((n) => nodes.create(node(n))));
  const assigned = await waitFor("two ranges", async () => {
    const list = (await nodes.list()).items.map((n) => n.spec?.podCIDR);
    return list.every(Boolean) && list;
  });
  assert.deepEqual([...assigned].sort(), ["10.42.0.0/24", "10.42.1.0/24"]);
  await nodes.create(node("c"));
  const events = await waitFor("an exhaustion event", async () => {
    const list = (await cluster.client.kind("v1", "Event").list({ namespace: "default" })).items;
    return list.some((e) => e.reason === "CIDRNotAvailable") && list;
  });
  assert.ok(events.length > 0);
  const freed = (await nodes.get("a")).spec?.podCIDR;
  await nodes.delete("a");
  const c = await waitFor("c's range", async () => (await nodes.get("c")).spec?.podCIDR);
  assert.equal(c, freed);
});
