import assert from "node:assert/strict";
import type { Deployment, Pod, ReplicaSet } from "@skiff/api";
import { DeploymentController, REVISION_ANNOTATION } from "./deployment.ts";
import { ReplicaSetController } from "./replicaset.ts";
import { listOf, markPodsReady, startTestCluster, waitFor } from "./_testing.ts";

const deployment = (replicas: number, image: string): Deployment => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web", namespace: "default" },
  spec: {
    replicas,
    selector: { matchLabels: { app: "web" } },
    strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 1 } },
    template: {
      metadata: { labels: { app: "web" } },
      spec: { containers: [{ name: "web", image }] },
    },
  },
});

const active = (pods: Pod[]) => pods.filter((p) => !p.metadata.deletionTimestamp);
const ready = (pods: Pod[]) =>
  active(pods).filter((p) => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"));

Deno.test("DeploymentController creates a ReplicaSet whose controller creates the pods", async () => {
  await using cluster = await startTestCluster([new DeploymentController(), new ReplicaSetController()]);
  const { client } = cluster;
  await client.kind("apps/v1", "Deployment").create(deployment(3, "busybox:1.36"));
  const sets = await waitFor("one ReplicaSet", async () => {
    const list = await listOf<ReplicaSet>(client, "apps/v1", "ReplicaSet");
    return list.length === 1 && list;
  });
  assert.equal(sets[0]!.metadata.annotations?.[REVISION_ANNOTATION], "1");
  assert.ok(sets[0]!.metadata.labels?.["pod-template-hash"]);
  await waitFor("3 pods", async () => active(await listOf<Pod>(client, "v1", "Pod")).length === 3);
  await markPodsReady(client);
  const d = await waitFor("an available deployment", async () => {
    const d = await client.kind<Deployment>("apps/v1", "Deployment").get("web", { namespace: "default" });
    return d.status?.availableReplicas === 3 && d;
  });
  assert.equal(d.status?.updatedReplicas, 3);
  assert.equal(d.status?.conditions?.find((c) => c.type === "Available")?.status, "True");
});

Deno.test("DeploymentController rolls out a new template without dropping below replicas - maxUnavailable", async () => {
  await using cluster = await startTestCluster([new DeploymentController(), new ReplicaSetController()]);
  const { client } = cluster;
  const deployments = client.kind<Deployment>("apps/v1", "Deployment");
  await deployments.create(deployment(4, "busybox:1.35"));
  await waitFor("4 ready pods", async () => {
    await markPodsReady(client);
    return ready(await listOf<Pod>(client, "v1", "Pod")).length === 4;
  });
  await deployments.patch("web", {
    spec: { template: { spec: { containers: [{ name: "web", image: "busybox:1.36" }] } } },
  }, { namespace: "default", type: "strategic" });
  let lowest = Infinity;
  let highest = 0;
  await waitFor("a completed rollout", async () => {
    const pods = await listOf<Pod>(client, "v1", "Pod");
    lowest = Math.min(lowest, ready(pods).length);
    highest = Math.max(highest, active(pods).length);
    await markPodsReady(client);
    const d = await deployments.get("web", { namespace: "default" });
    const done = d.status?.updatedReplicas === 4 && d.status?.availableReplicas === 4 && d.status?.replicas === 4;
    return done && active(pods).every((p) => p.spec?.containers[0]?.image === "busybox:1.36") &&
      active(pods).length === 4;
  }, 20_000);
  assert.ok(lowest >= 3, `ready pods dropped to ${lowest}, below replicas - maxUnavailable = 3`);
  assert.ok(highest <= 5, `active pods rose to ${highest}, above replicas + maxSurge = 5`);
  const sets = await listOf<ReplicaSet>(client, "apps/v1", "ReplicaSet");
  assert.deepEqual(sets.map((rs) => rs.metadata.annotations?.[REVISION_ANNOTATION]).sort(), ["1", "2"]);
  assert.equal(sets.find((rs) => rs.metadata.annotations?.[REVISION_ANNOTATION] === "1")?.spec?.replicas, 0);
});

Deno.test("DeploymentController with Recreate stops every old pod before starting new ones", async () => {
  await using cluster = await startTestCluster([new DeploymentController(), new ReplicaSetController()]);
  const { client } = cluster;
  const deployments = client.kind<Deployment>("apps/v1", "Deployment");
  const d = deployment(2, "busybox:1.35");
  d.spec!.strategy = { type: "Recreate" };
  await deployments.create(d);
  await waitFor("2 ready pods", async () => {
    await markPodsReady(client);
    return ready(await listOf<Pod>(client, "v1", "Pod")).length === 2;
  });
  await deployments.patch("web", {
    spec: { template: { spec: { containers: [{ name: "web", image: "busybox:1.36" }] } } },
  }, { namespace: "default", type: "strategic" });
  await waitFor("the rollout", async () => {
    const pods = active(await listOf<Pod>(client, "v1", "Pod"));
    const images = new Set(pods.map((p) => p.spec?.containers[0]?.image));
    assert.ok(images.size <= 1, `old and new pods ran together: ${[...images].join(", ")}`);
    const terminating = (await listOf<Pod>(client, "v1", "Pod")).filter((p) => p.metadata.deletionTimestamp);
    for (const pod of terminating) {
      await client.kind("v1", "Pod").delete(pod.metadata.name!, { namespace: "default", gracePeriodSeconds: 0 });
    }
    await markPodsReady(client);
    return pods.length === 2 && images.has("busybox:1.36");
  }, 20_000);
});

Deno.test("DeploymentController reuses the old ReplicaSet when kubectl rollout undo copies its template back", async () => {
  await using cluster = await startTestCluster([new DeploymentController(), new ReplicaSetController()]);
  const { client } = cluster;
  const deployments = client.kind<Deployment>("apps/v1", "Deployment");
  await deployments.create(deployment(1, "busybox:1.35"));
  const first = await waitFor("the first ReplicaSet", async () => {
    const sets = await listOf<ReplicaSet>(client, "apps/v1", "ReplicaSet");
    return sets.length === 1 && sets[0]!;
  });
  await deployments.patch("web", {
    spec: { template: { spec: { containers: [{ name: "web", image: "busybox:1.36" }] } } },
  }, { namespace: "default", type: "strategic" });
  await waitFor("a second ReplicaSet", async () => (await listOf(client, "apps/v1", "ReplicaSet")).length === 2);
  const template = structuredClone(first.spec!.template!);
  delete template.metadata!.labels!["pod-template-hash"];
  await deployments.patch("web", [{
    op: "replace",
    path: "/spec/template",
    value: { ...template, metadata: { ...template.metadata, creationTimestamp: null } },
  }], { namespace: "default", type: "json" });
  await waitFor("the first ReplicaSet scaled back up at revision 3", async () => {
    await markPodsReady(client);
    const rs = await client.kind<ReplicaSet>("apps/v1", "ReplicaSet").get(first.metadata.name!, {
      namespace: "default",
    });
    return rs.metadata.annotations?.[REVISION_ANNOTATION] === "3" && rs.spec?.replicas === 1;
  }, 20_000);
  assert.equal((await listOf(client, "apps/v1", "ReplicaSet")).length, 2);
});
