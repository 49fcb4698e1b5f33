/**
 * Node failure and recovery on three real network hosts
 * (`test/support/multi_node.ts`): cutting a node's link makes it NotReady
 * and its pods move to other nodes; once the link is back, the node is
 * Ready again, its old pod is gone, and every node (the healed one too)
 * proxies the Service to exactly the current endpoints: no duplicates, no
 * stale rules.
 *
 * A cluster of its own, apart from `multi_node_test.ts`, so the two files
 * run in parallel; the wait for NotReady (the node lifecycle's 40 s grace)
 * is most of its time.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type EndpointSlice, type Node, NotFoundError, type Pod, type Service } from "@skiff/api";
import { eventually, requireTools } from "../support/mod.ts";
import {
  MULTI_NODE_TOOL_HINTS,
  MULTI_NODE_TOOLS,
  type MultiNodeCluster,
  serviceEndpointIps,
  startMultiNodeCluster,
} from "../support/multi_node.ts";
import { readyPods, webDeployment } from "./_multi_node_workloads.ts";

const needs = requireTools(MULTI_NODE_TOOLS, { root: true, hints: MULTI_NODE_TOOL_HINTS });

Deno.test({
  name:
    "cluster network on 3 network hosts: a cut node turns NotReady, its pods move, and after healing no duplicate endpoints or stale rules remain",
  ...needs,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // The nodes join with a join token, as machines joining with `skiff agent --token K10…` do.
    await using cluster = await startMultiNodeCluster({ nodes: 3, joinWithToken: true });
    try {
      await partitionAndHeal(cluster);
    } catch (error) {
      for (const node of cluster.nodes) {
        console.error(`--- agent of ${node.name} (last lines) ---\n${node.output().split("\n").slice(-25).join("\n")}`);
      }
      throw error;
    }
  },
});

async function partitionAndHeal(cluster: MultiNodeCluster): Promise<void> {
  const client = cluster.client;
  const nodes = client.kind<Node>("v1", "Node");
  const pods = client.kind<Pod>("v1", "Pod");
  await client.kind("apps/v1", "Deployment").create(webDeployment({ name: "web", replicas: 2, evictAtOnce: true }));
  const service = await client.kind<Service>("v1", "Service").create({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web", namespace: "default" },
    spec: { selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }] },
  });
  const clusterIp = service.spec!.clusterIP!;
  const before = await eventually("2 web pods Ready", () => readyPods(client, "app=web", 2), { timeoutMs: 90_000 });
  const old = before[0]!;
  const victim = cluster.node(old.spec!.nodeName!);
  const survivor = before[1]!.spec!.nodeName!;

  await cluster.partition(victim.name);
  try {
    await eventually(`node "${victim.name}" NotReady`, async () => {
      const node = await nodes.get(victim.name);
      return node.status?.conditions?.find((c) => c.type === "Ready")?.status !== "True";
    }, { timeoutMs: 120_000, intervalMs: 1_000 });
    const moved = await eventually(
      "the web pods Ready on the other two nodes",
      async () => {
        const ready = await readyPods(client, "app=web", 2);
        return ready.every((pod) => pod.spec!.nodeName !== victim.name) ? ready : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    assert.ok(moved.some((pod) => pod.spec!.nodeName === survivor));
    assert.ok(!moved.some((pod) => pod.metadata.uid === old.metadata.uid));
  } finally {
    await cluster.heal(victim.name);
  }

  await eventually(`node "${victim.name}" Ready again`, async () => {
    const node = await nodes.get(victim.name);
    return node.status?.conditions?.find((c) => c.type === "Ready")?.status === "True";
  }, { timeoutMs: 60_000, intervalMs: 500 });
  await eventually(`the old pod "${old.metadata.name}" gone`, async () => {
    try {
      await pods.get(old.metadata.name!, { namespace: "default" });
      return false;
    } catch (error) {
      if (error instanceof NotFoundError) return true;
      throw error;
    }
  }, { timeoutMs: 60_000, intervalMs: 500 });

  const current = await readyPods(client, "app=web", 2);
  const expected = current.map((pod) => `${pod.status!.podIP}:8080`).sort();
  await eventually("one EndpointSlice endpoint per web pod", async () => {
    const list = await client.kind<EndpointSlice>("discovery.k8s.io/v1", "EndpointSlice").list({
      namespace: "default",
      labelSelector: "kubernetes.io/service-name=web",
    });
    const addresses = list.items.flatMap((slice) => (slice.endpoints ?? []).flatMap((e) => e.addresses)).sort();
    assert.deepEqual(addresses, current.map((pod) => pod.status!.podIP!).sort());
    return true;
  }, { timeoutMs: 30_000 });
  for (const node of cluster.nodes) {
    await eventually(`node "${node.name}" proxying to exactly the current endpoints`, async () => {
      assert.deepEqual(serviceEndpointIps(await cluster.nftTable(node.index)), expected);
      return true;
    }, { timeoutMs: 30_000 });
  }

  // The healed node stopped the old pod's container and removed its network namespace.
  await eventually(`the old pod's container and network namespace gone from "${victim.name}"`, async () => {
    const tasks = await cluster.containerd.ctr(["tasks", "ls"], { namespace: victim.containerdNamespace });
    assert.ok(!tasks.stdout.includes(`${old.metadata.uid}_`), tasks.stdout);
    const netns = await cluster.exec(victim.index, ["ip", "netns", "list"]);
    assert.ok(!netns.stdout.includes(old.metadata.uid!.replaceAll("-", "").slice(0, 8)), netns.stdout);
    return true;
  }, { timeoutMs: 30_000 });

  // From the healed node, the ClusterIP reaches both current pods.
  const loop = await cluster.exec(victim.index, [
    "sh",
    "-c",
    `for i in $(seq 30); do timeout 5 busybox wget -q -O - http://${clusterIp}/ || echo FAILED; done`,
  ]);
  assert.deepEqual([...new Set(loop.stdout.trim().split("\n"))].sort(), current.map((p) => p.metadata.name!).sort());
}
