/**
 * LoadBalancer Services end to end on three real network hosts
 * (`test/support/multi_node.ts`): the pool comes from the ConfigMap
 * kube-system/skiff-lb-pool at run time (addresses of the lab's subnet),
 * the Service gets one, one node answers for it on the lab bridge, and
 * when that node's agent is killed another node takes the address over
 * (its Lease expires within seconds) and keeps answering, even once the
 * old node is cut off the lab.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { KubeObject, Lease, Service } from "@skiff/api";
import { eventually, requireTools } from "../support/mod.ts";
import {
  MULTI_NODE_TOOL_HINTS,
  MULTI_NODE_TOOLS,
  type MultiNodeCluster,
  startMultiNodeCluster,
} from "../support/multi_node.ts";
import { readyPods, webDeployment } from "./_multi_node_workloads.ts";

const needs = requireTools(MULTI_NODE_TOOLS, { root: true, hints: MULTI_NODE_TOOL_HINTS });

/** GETs `url` from the host (on the lab bridge); the body, or undefined when it does not answer. */
async function hostGet(url: string): Promise<string | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(3_000) });
    return (await response.text()).trim();
  } catch {
    return undefined;
  }
}

Deno.test({
  name:
    "LoadBalancer Service answers on its pool address from the lab bridge, and after its announcing agent is stopped",
  ...needs,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using cluster = await startMultiNodeCluster({ nodes: 3 });
    try {
      await scenario(cluster);
    } catch (error) {
      for (const node of cluster.nodes) {
        console.error(`--- agent of ${node.name} (last lines) ---\n${node.output().split("\n").slice(-25).join("\n")}`);
      }
      throw error;
    }
  },
});

async function scenario(cluster: MultiNodeCluster): Promise<void> {
  const services = cluster.client.kind<Service>("v1", "Service");
  const leases = cluster.client.kind<Lease>("coordination.k8s.io/v1", "Lease");
  const prefix = cluster.lab.subnet.split(".").slice(0, 3).join(".");
  await cluster.client.kind("v1", "ConfigMap").create({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "skiff-lb-pool", namespace: "kube-system" },
    data: { addresses: `${prefix}.240-${prefix}.250` },
  } as KubeObject);
  await services.create({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web", namespace: "default" },
    spec: { type: "LoadBalancer", selector: { app: "web" }, ports: [{ port: 80, targetPort: 8080 }] },
  });
  const ip = await eventually("the Service to get a pool address", async () => {
    const svc = await services.get("web", { namespace: "default" });
    return svc.status?.loadBalancer?.ingress?.[0]?.ip;
  });
  assert.equal(ip, `${prefix}.240`);
  const leaseName = `skiff-lb-${ip.replaceAll(".", "-")}`;
  const holderNow = async () =>
    (await leases.get(leaseName, { namespace: "kube-system" })).spec?.holderIdentity || undefined;
  const first = await eventually("a node to answer for the address", holderNow);
  const announcer = cluster.node(first);
  const onAnnouncer = await cluster.exec(first, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]);
  assert.match(onAnnouncer.stdout, new RegExp(`inet ${ip.replaceAll(".", "\\.")}/32`));

  // Web pods on the two other nodes, so the announcing node's fate does not touch the endpoints.
  await cluster.client.kind("apps/v1", "Deployment").create(
    webDeployment({ name: "web", replicas: 2, avoidNode: announcer.name }),
  );
  const pods = await eventually("two web pods", () => readyPods(cluster.client, "app=web", 2), { timeoutMs: 120_000 });
  const names = new Set(pods.map((p) => p.metadata.name));
  const answer = await eventually("the address to answer from the lab bridge", () => hostGet(`http://${ip}/`));
  assert.ok(names.has(answer), `answered "${answer}", not a web pod's name`);

  // Kill the announcing agent: another node takes over within seconds.
  const killed = Date.now();
  await cluster.stopAgent(first);
  const second = await eventually("another node to take the address over", async () => {
    const holder = await holderNow();
    return holder && holder !== first ? holder : undefined;
  }, { timeoutMs: 30_000 });
  const tookMs = Date.now() - killed;
  assert.ok(tookMs < 20_000, `takeover took ${tookMs} ms`);
  const onNew = await cluster.exec(second, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]);
  assert.match(onNew.stdout, new RegExp(`inet ${ip.replaceAll(".", "\\.")}/32`));

  // With the old node cut off the lab, only the new holder can answer.
  await cluster.partition(first);
  for (let i = 0; i < 5; i++) {
    const body = await eventually("the address to keep answering", () => hostGet(`http://${ip}/`), {
      timeoutMs: 20_000,
    });
    assert.ok(names.has(body), `answered "${body}", not a web pod's name`);
  }
  await cluster.heal(first);
}
