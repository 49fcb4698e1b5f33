import assert from "node:assert/strict";
import type { ApiClient } from "@skiff/client";
import type { DaemonSet, DaemonSetSpec, Node, Pod } from "@skiff/api";
import { daemonPodNodeName, daemonPodTolerations, DaemonSetController, REVISION_HASH_LABEL } from "./daemonset.ts";
import { createNode, forceDelete, listOf, retryOnConflict, runPod, startTestCluster, waitFor } from "./_testing.ts";

const daemonSet = (image: string, strategy?: Partial<DaemonSetSpec>): DaemonSet => ({
  apiVersion: "apps/v1",
  kind: "DaemonSet",
  metadata: { name: "agent", namespace: "default" },
  spec: {
    selector: { matchLabels: { app: "agent" } },
    template: {
      metadata: { labels: { app: "agent" } },
      spec: { nodeSelector: { disk: "ssd" }, containers: [{ name: "agent", image }] },
    },
    ...strategy,
  },
});

const live = async (client: ApiClient) =>
  (await listOf<Pod>(client, "v1", "Pod")).filter((p) => !p.metadata.deletionTimestamp);

const podNodes = (pods: Pod[]) => pods.map((p) => daemonPodNodeName(p)).sort();

const updateImage = (client: ApiClient, image: string) =>
  retryOnConflict(() =>
    client.kind<DaemonSet>("apps/v1", "DaemonSet").patch("agent", {
      spec: { template: { spec: { containers: [{ name: "agent", image }] } } },
    }, { namespace: "default", type: "strategic" })
  );

/** Binds every pending daemon pod to its node and reports it running and ready, as scheduler and agent would. */
async function runDaemonPods(client: ApiClient): Promise<void> {
  for (const pod of await live(client)) {
    if (pod.status?.phase === "Running") continue;
    await runPod(client, pod, { node: daemonPodNodeName(pod)! });
  }
}

/** Stands in for the agents: terminating pods go away. */
async function finishTerminating(client: ApiClient): Promise<void> {
  for (const pod of await listOf<Pod>(client, "v1", "Pod")) {
    if (pod.metadata.deletionTimestamp) await forceDelete(client, pod);
  }
}

Deno.test("daemonPodTolerations() adds the Kubernetes daemon tolerations and replaces identical ones", () => {
  const tolerations = daemonPodTolerations([
    { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 10 },
    { key: "gpu", operator: "Exists" },
  ]);
  assert.deepEqual(tolerations.map((t) => `${t.key}:${t.effect ?? ""}`), [
    "gpu:",
    "node.kubernetes.io/not-ready:NoExecute",
    "node.kubernetes.io/unreachable:NoExecute",
    "node.kubernetes.io/disk-pressure:NoSchedule",
    "node.kubernetes.io/memory-pressure:NoSchedule",
    "node.kubernetes.io/pid-pressure:NoSchedule",
    "node.kubernetes.io/unschedulable:NoSchedule",
    "node.skiff.dev/thermal-pressure:NoSchedule",
  ]);
  assert.equal(tolerations[1]!.tolerationSeconds, undefined);
});

Deno.test("DaemonSetController runs one pinned pod per eligible node and follows nodes as they come and go", async () => {
  await using cluster = await startTestCluster([new DaemonSetController()]);
  const { client } = cluster;
  await createNode(client, "pi-1", { labels: { disk: "ssd" } });
  await createNode(client, "pi-2", { labels: { disk: "ssd" } });
  await createNode(client, "pi-3", { labels: { disk: "hdd" } });
  await createNode(client, "pi-4", {
    labels: { disk: "ssd" },
    taints: [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }],
  });
  await createNode(client, "pi-5", {
    labels: { disk: "ssd" },
    ready: "False",
    taints: [{ key: "node.kubernetes.io/not-ready", effect: "NoExecute" }],
  });
  await client.kind("apps/v1", "DaemonSet").create(daemonSet("busybox:1.36"));

  const pods = await waitFor("pods on pi-1, pi-2 and pi-5", async () => {
    const pods = await live(client);
    return pods.length === 3 && pods;
  });
  assert.deepEqual(podNodes(pods), ["pi-1", "pi-2", "pi-5"]);
  for (const pod of pods) {
    assert.equal(pod.spec?.nodeName, undefined, "the scheduler binds daemon pods");
    assert.deepEqual(pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution, {
      nodeSelectorTerms: [{
        matchFields: [{ key: "metadata.name", operator: "In", values: [daemonPodNodeName(pod)] }],
      }],
    });
    assert.ok(pod.metadata.labels?.[REVISION_HASH_LABEL]);
    assert.ok(pod.spec?.tolerations?.some((t) => t.key === "node.kubernetes.io/unreachable" && !t.tolerationSeconds));
  }

  const nodes = client.kind<Node>("v1", "Node");
  await createNode(client, "pi-6", { labels: { disk: "ssd" } });
  await waitFor("a pod on the new node pi-6", async () => podNodes(await live(client)).includes("pi-6"));

  await nodes.delete("pi-2");
  await waitFor("the pod of the removed node pi-2 deleted", async () => !podNodes(await live(client)).includes("pi-2"));

  await nodes.patch("pi-3", { metadata: { labels: { disk: "ssd" } } });
  await waitFor("a pod on relabelled pi-3", async () => podNodes(await live(client)).includes("pi-3"));

  await nodes.patch("pi-1", { spec: { taints: [{ key: "maintenance", effect: "NoSchedule" }] } });
  await nodes.patch("pi-6", { spec: { taints: [{ key: "maintenance", effect: "NoExecute" }] } });
  await waitFor("the pod of pi-6 evicted by a NoExecute taint", async () => {
    const nodesWithPods = podNodes(await live(client));
    return !nodesWithPods.includes("pi-6") && nodesWithPods;
  });
  assert.ok(podNodes(await live(client)).includes("pi-1"), "a NoSchedule taint does not evict a running daemon pod");

  await runDaemonPods(client);
  const ds = await waitFor("status with every pod ready", async () => {
    const ds = await client.kind<DaemonSet>("apps/v1", "DaemonSet").get("agent", { namespace: "default" });
    return ds.status?.numberReady === 2 && ds;
  });
  assert.deepEqual(
    {
      desired: ds.status?.desiredNumberScheduled,
      current: ds.status?.currentNumberScheduled,
      ready: ds.status?.numberReady,
      available: ds.status?.numberAvailable,
      updated: ds.status?.updatedNumberScheduled,
      misscheduled: ds.status?.numberMisscheduled,
      generation: ds.status?.observedGeneration,
    },
    { desired: 2, current: 2, ready: 2, available: 2, updated: 2, misscheduled: 1, generation: 1 },
  );
});

Deno.test("DaemonSetController rolls out a new template one node at a time with maxUnavailable 1", async () => {
  await using cluster = await startTestCluster([new DaemonSetController()]);
  const { client } = cluster;
  for (const name of ["pi-1", "pi-2", "pi-3", "pi-4"]) await createNode(client, name, { labels: { disk: "ssd" } });
  const sets = client.kind<DaemonSet>("apps/v1", "DaemonSet");
  await sets.create(daemonSet("busybox:1.35"));
  await waitFor("4 running pods", async () => {
    await runDaemonPods(client);
    return (await live(client)).filter((p) => p.status?.phase === "Running").length === 4;
  });
  await updateImage(client, "busybox:1.36");
  let mostDown = 0;
  await waitFor("every node running the new image", async () => {
    const all = await listOf<Pod>(client, "v1", "Pod");
    const up = new Set(
      all.filter((p) => !p.metadata.deletionTimestamp && p.status?.phase === "Running").map(daemonPodNodeName),
    );
    mostDown = Math.max(mostDown, 4 - up.size);
    await finishTerminating(client);
    await runDaemonPods(client);
    const pods = await live(client);
    return pods.length === 4 && pods.every((p) => p.spec?.containers[0]?.image === "busybox:1.36") &&
      pods.every((p) => p.status?.phase === "Running");
  }, 20_000);
  assert.equal(mostDown, 1, "exactly one node at a time was without a running pod");
  const ds = await waitFor("an updated status", async () => {
    const ds = await sets.get("agent", { namespace: "default" });
    return ds.status?.updatedNumberScheduled === 4 && ds.status.numberAvailable === 4 && ds;
  });
  assert.equal(ds.status?.observedGeneration, 2);
});

Deno.test("DaemonSetController with OnDelete replaces a pod only when it is deleted", async () => {
  await using cluster = await startTestCluster([new DaemonSetController()]);
  const { client } = cluster;
  for (const name of ["pi-1", "pi-2"]) await createNode(client, name, { labels: { disk: "ssd" } });
  const sets = client.kind<DaemonSet>("apps/v1", "DaemonSet");
  await sets.create(daemonSet("busybox:1.35", { updateStrategy: { type: "OnDelete" } }));
  await waitFor("2 running pods", async () => {
    await runDaemonPods(client);
    return (await live(client)).filter((p) => p.status?.phase === "Running").length === 2;
  });
  await updateImage(client, "busybox:1.36");
  await waitFor("the new generation observed", async () => {
    const ds = await sets.get("agent", { namespace: "default" });
    return ds.status?.observedGeneration === 2 && ds.status.updatedNumberScheduled === 0;
  });
  const before = await live(client);
  assert.ok(before.every((p) => p.spec?.containers[0]?.image === "busybox:1.35"));
  const victim = before.find((p) => daemonPodNodeName(p) === "pi-1")!;
  await forceDelete(client, victim);
  const replaced = await waitFor("a new pod on pi-1", async () => {
    const pods = await live(client);
    return pods.find((p) => daemonPodNodeName(p) === "pi-1" && p.metadata.uid !== victim.metadata.uid);
  });
  assert.equal(replaced.spec?.containers[0]?.image, "busybox:1.36");
  const other = (await live(client)).find((p) => daemonPodNodeName(p) === "pi-2")!;
  assert.equal(other.spec?.containers[0]?.image, "busybox:1.35");
  assert.notEqual(other.metadata.labels?.[REVISION_HASH_LABEL], replaced.metadata.labels?.[REVISION_HASH_LABEL]);
});

Deno.test("DaemonSetController with maxSurge starts the new pod before deleting the old one", async () => {
  await using cluster = await startTestCluster([new DaemonSetController()]);
  const { client } = cluster;
  await createNode(client, "pi-1", { labels: { disk: "ssd" } });
  const sets = client.kind<DaemonSet>("apps/v1", "DaemonSet");
  await sets.create(daemonSet("busybox:1.35", {
    updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
  }));
  await waitFor("a running pod", async () => {
    await runDaemonPods(client);
    return (await live(client)).filter((p) => p.status?.phase === "Running").length === 1;
  });
  await updateImage(client, "busybox:1.36");
  const both = await waitFor("old and new pod side by side", async () => {
    const pods = await live(client);
    return pods.length === 2 && pods;
  });
  assert.ok(both.some((p) => p.status?.phase === "Running" && p.spec?.containers[0]?.image === "busybox:1.35"));
  await runDaemonPods(client);
  await waitFor("only the new pod left", async () => {
    await finishTerminating(client);
    const pods = await live(client);
    return pods.length === 1 && pods[0]!.spec?.containers[0]?.image === "busybox:1.36";
  });
});
