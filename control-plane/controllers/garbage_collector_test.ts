import assert from "node:assert/strict";
import type { ApiClient } from "@skiff/client";
import type { ConfigMap, Deployment, KubeObject, OwnerReference, Pod, ReplicaSet } from "@skiff/api";
import { DeploymentController } from "./deployment.ts";
import { COLLECTED_TYPES, GarbageCollector } from "./garbage_collector.ts";
import { ReplicaSetController } from "./replicaset.ts";
import { forceDelete, listOf, runPod, startTestCluster, waitFor } from "./_testing.ts";

const ref = (owner: KubeObject, extra: Partial<OwnerReference> = {}): OwnerReference => ({
  apiVersion: owner.apiVersion!,
  kind: owner.kind!,
  name: owner.metadata.name!,
  uid: owner.metadata.uid!,
  ...extra,
});

const configMap = (name: string, owners: OwnerReference[] = []): ConfigMap => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "default", ...(owners.length > 0 ? { ownerReferences: owners } : {}) },
  data: { a: "b" },
});

const exists = (client: ApiClient, apiVersion: string, kind: string, name: string) =>
  client.kind(apiVersion, kind).get(name, { namespace: "default" }).then((o) => o, () => undefined);

const replicaSet: ReplicaSet = {
  apiVersion: "apps/v1",
  kind: "ReplicaSet",
  metadata: { name: "web", namespace: "default" },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: "web" } },
    template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "busybox:1.36" }] } },
  },
};

const webPods = async (client: ApiClient) =>
  (await listOf<Pod>(client, "v1", "Pod")).filter((p) => p.metadata.labels?.app === "web");

Deno.test("COLLECTED_TYPES covers the dependent kinds Skiff has, without Events", () => {
  const kinds = COLLECTED_TYPES.map((t) => t.kind);
  for (const kind of ["Pod", "ReplicaSet", "EndpointSlice", "Endpoints", "PersistentVolumeClaim", "ConfigMap"]) {
    assert.ok(kinds.includes(kind), kind);
  }
  for (const kind of ["Secret", "Service", "Deployment", "StatefulSet", "DaemonSet", "Lease"]) {
    assert.ok(kinds.includes(kind), kind);
  }
  assert.ok(!kinds.includes("Event"));
});

Deno.test("GarbageCollector deletes objects whose every owner is gone and drops references to gone owners", async () => {
  await using cluster = await startTestCluster([new GarbageCollector()]);
  const { client } = cluster;
  const cms = client.kind<ConfigMap>("v1", "ConfigMap");
  const owner = await cms.create(configMap("owner"));
  const other = await cms.create(configMap("other"));
  await client.kind("v1", "Secret").create({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "dep-secret", namespace: "default", ownerReferences: [ref(owner)] },
    stringData: { k: "v" },
  });
  await client.kind("v1", "Pod").create({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "dep-pod", namespace: "default", ownerReferences: [ref(owner, { controller: true })] },
    spec: { containers: [{ name: "c", image: "busybox:1.36" }] },
  });
  await cms.create(configMap("two-owners", [ref(owner), ref(other)]));
  await cms.create(configMap("foreign", [{ apiVersion: "example.com/v1", kind: "Widget", name: "w", uid: "w-1" }]));
  await cms.create(configMap("stale-uid", [{ ...ref(other), uid: "0000-gone" }]));
  await waitFor(
    "the dependent with a stale owner uid collected",
    async () => !(await exists(client, "v1", "ConfigMap", "stale-uid")),
  );

  await cms.delete("owner", { namespace: "default" });
  await waitFor(
    "the dependents of owner collected",
    async () =>
      !(await exists(client, "v1", "Secret", "dep-secret")) && !(await exists(client, "v1", "Pod", "dep-pod")),
  );
  const shared = await waitFor("two-owners left with one owner", async () => {
    const cm = await cms.get("two-owners", { namespace: "default" });
    return cm.metadata.ownerReferences?.length === 1 && cm;
  });
  assert.equal(shared.metadata.ownerReferences?.[0]?.uid, other.metadata.uid);
  assert.ok(await exists(client, "v1", "ConfigMap", "foreign"), "an owner of a kind Skiff does not serve is kept");
});

Deno.test("GarbageCollector deletes dependents first in foreground deletion and waits for them", async () => {
  await using cluster = await startTestCluster([new GarbageCollector(), new ReplicaSetController()]);
  const { client } = cluster;
  const sets = client.kind<ReplicaSet>("apps/v1", "ReplicaSet");
  await sets.create(replicaSet);
  const pods = await waitFor("2 pods", async () => {
    const pods = await webPods(client);
    return pods.length === 2 && pods;
  });
  for (const pod of pods) await runPod(client, pod, { node: "pi-1" });

  await sets.delete("web", { namespace: "default", propagationPolicy: "Foreground" });
  const terminating = await waitFor("pods terminating", async () => {
    const pods = await webPods(client);
    return pods.length === 2 && pods.every((p) => p.metadata.deletionTimestamp) && pods;
  });
  const rs = await sets.get("web", { namespace: "default" });
  assert.ok(rs.metadata.deletionTimestamp);
  assert.deepEqual(rs.metadata.finalizers, ["foregroundDeletion"], "the owner waits for its terminating pods");

  for (const pod of terminating) await forceDelete(client, pod);
  await waitFor("the ReplicaSet gone", async () => !(await exists(client, "apps/v1", "ReplicaSet", "web")));
});

Deno.test("GarbageCollector orphans dependents when the owner is deleted with Orphan", async () => {
  await using cluster = await startTestCluster([new GarbageCollector(), new ReplicaSetController()]);
  const { client } = cluster;
  const sets = client.kind<ReplicaSet>("apps/v1", "ReplicaSet");
  await sets.create(replicaSet);
  await waitFor("2 owned pods", async () => (await webPods(client)).length === 2);

  await sets.delete("web", { namespace: "default", propagationPolicy: "Orphan" });
  await waitFor("the ReplicaSet gone", async () => !(await exists(client, "apps/v1", "ReplicaSet", "web")));
  const pods = await webPods(client);
  assert.equal(pods.length, 2);
  for (const pod of pods) {
    assert.equal(pod.metadata.deletionTimestamp, undefined);
    assert.equal(pod.metadata.ownerReferences, undefined);
  }
});

Deno.test("GarbageCollector cascades a Deployment's deletion through its ReplicaSet to its pods", async () => {
  await using cluster = await startTestCluster([
    new GarbageCollector(),
    new DeploymentController(),
    new ReplicaSetController(),
  ]);
  const { client } = cluster;
  const deployments = client.kind<Deployment>("apps/v1", "Deployment");
  const deployment: Deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: "default" },
    spec: { replicas: 2, selector: replicaSet.spec!.selector, template: replicaSet.spec!.template! },
  };
  await deployments.create(deployment);
  await waitFor("2 pods", async () => (await webPods(client)).length === 2);
  await deployments.delete("web", { namespace: "default", propagationPolicy: "Foreground" });
  await waitFor("pods, ReplicaSet and Deployment gone", async () =>
    (await webPods(client)).length === 0 &&
    (await listOf(client, "apps/v1", "ReplicaSet")).length === 0 &&
    !(await exists(client, "apps/v1", "Deployment", "web")));

  await deployments.create(deployment);
  await waitFor("2 new pods", async () => (await webPods(client)).length === 2);
  await deployments.delete("web", { namespace: "default" });
  await waitFor(
    "pods and ReplicaSet collected in the background",
    async () => (await webPods(client)).length === 0 && (await listOf(client, "apps/v1", "ReplicaSet")).length === 0,
  );
});
