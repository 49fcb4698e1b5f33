import assert from "node:assert/strict";
import type { ApiClient } from "@skiff/client";
import type { PersistentVolumeClaim, Pod, StatefulSet, StatefulSetSpec } from "@skiff/api";
import { POD_INDEX_LABEL, POD_NAME_LABEL, StatefulSetController } from "./statefulset.ts";
import { REVISION_HASH_LABEL } from "./_workload.ts";
import { forceDelete, listOf, retryOnConflict, runPod, startTestCluster, waitFor } from "./_testing.ts";

const statefulSet = (replicas: number, spec: Partial<StatefulSetSpec> = {}): StatefulSet => ({
  apiVersion: "apps/v1",
  kind: "StatefulSet",
  metadata: { name: "db", namespace: "default" },
  spec: {
    replicas,
    serviceName: "db",
    selector: { matchLabels: { app: "db" } },
    template: {
      metadata: { labels: { app: "db" } },
      spec: { containers: [{ name: "db", image: "busybox:1.35" }] },
    },
    ...spec,
  },
});

const claimTemplate: PersistentVolumeClaim = {
  metadata: { name: "data" },
  spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
};

const isReady = (pod: Pod) => pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
const pods = async (client: ApiClient) =>
  (await listOf<Pod>(client, "v1", "Pod")).sort((a, b) => a.metadata.name!.localeCompare(b.metadata.name!));
const names = (list: Pod[]) => list.map((p) => p.metadata.name);
const running = (list: Pod[]) => list.filter((p) => isReady(p) && !p.metadata.deletionTimestamp);

/**
 * Stands in for scheduler and agents: starts pending pods (not ready yet),
 * makes started pods ready on the next call, removes terminating ones.
 */
async function agents(client: ApiClient): Promise<void> {
  for (const pod of await pods(client)) {
    if (pod.metadata.deletionTimestamp) await forceDelete(client, pod);
    else if (pod.status?.phase !== "Running") await runPod(client, pod, { ready: false });
    else if (!isReady(pod)) await runPod(client, pod);
  }
}

/** Records every pod event from now on, in order. */
function watchPods(client: ApiClient): { events: { type: string; pod: Pod }[] } & Disposable {
  const abort = new AbortController();
  const events: { type: string; pod: Pod }[] = [];
  (async () => {
    for await (const event of client.kind<Pod>("v1", "Pod").watch({ namespace: "default", signal: abort.signal })) {
      events.push({ type: event.type, pod: event.object });
    }
  })().catch(() => {});
  return { events, [Symbol.dispose]: () => abort.abort() };
}

const getSet = (client: ApiClient) =>
  client.kind<StatefulSet>("apps/v1", "StatefulSet").get("db", { namespace: "default" });

Deno.test("StatefulSetController creates ordered pods with stable identities and claims, one ready pod at a time", async () => {
  await using cluster = await startTestCluster([new StatefulSetController()]);
  const { client } = cluster;
  using history = watchPods(client);
  await client.kind("apps/v1", "StatefulSet").create(statefulSet(3, { volumeClaimTemplates: [claimTemplate] }));

  const first = await waitFor("db-0", async () => (await pods(client)).find((p) => p.metadata.name === "db-0"));
  assert.equal(first.metadata.labels?.[POD_NAME_LABEL], "db-0");
  assert.equal(first.metadata.labels?.[POD_INDEX_LABEL], "0");
  assert.match(first.metadata.labels?.[REVISION_HASH_LABEL] ?? "", /^db-/);
  assert.equal(first.spec?.hostname, "db-0");
  assert.equal(first.spec?.subdomain, "db");
  assert.deepEqual(first.spec?.volumes?.find((v) => v.name === "data")?.persistentVolumeClaim, {
    claimName: "data-db-0",
  });
  const claim = await client.kind<PersistentVolumeClaim>("v1", "PersistentVolumeClaim").get("data-db-0", {
    namespace: "default",
  });
  assert.equal(claim.metadata.ownerReferences, undefined, "claims are owned by nobody and outlive their pods");
  assert.equal(claim.metadata.labels?.app, "db");

  await waitFor("3 running pods", async () => {
    await agents(client);
    return running(await pods(client)).length === 3;
  });
  const log = history.events.map(({ type, pod }) => `${type} ${pod.metadata.name}${isReady(pod) ? " ready" : ""}`);
  const at = (line: string) => log.indexOf(line);
  assert.ok(at("MODIFIED db-0 ready") >= 0 && at("MODIFIED db-0 ready") < at("ADDED db-1"), log.join("\n"));
  assert.ok(at("MODIFIED db-1 ready") >= 0 && at("MODIFIED db-1 ready") < at("ADDED db-2"), log.join("\n"));
  const claims = await listOf<PersistentVolumeClaim>(client, "v1", "PersistentVolumeClaim");
  assert.deepEqual(claims.map((c) => c.metadata.name).sort(), ["data-db-0", "data-db-1", "data-db-2"]);
  const set = await waitFor("ready status", async () => {
    const set = await getSet(client);
    return set.status?.readyReplicas === 3 && set;
  });
  assert.equal(set.status?.replicas, 3);
  assert.equal(set.status?.currentRevision, set.status?.updateRevision);
  assert.equal(set.status?.updatedReplicas, 3);
});

Deno.test("StatefulSetController scales down from the highest ordinal, one pod at a time, keeping claims", async () => {
  await using cluster = await startTestCluster([new StatefulSetController()]);
  const { client } = cluster;
  await client.kind("apps/v1", "StatefulSet").create(statefulSet(3, { volumeClaimTemplates: [claimTemplate] }));
  await waitFor("3 running pods", async () => {
    await agents(client);
    return running(await pods(client)).length === 3;
  });
  using history = watchPods(client);
  await retryOnConflict(() =>
    client.kind("apps/v1", "StatefulSet").patch("db", { spec: { replicas: 1 } }, { namespace: "default" })
  );
  await waitFor("only db-0 left", async () => {
    await agents(client);
    return names(await pods(client)).join() === "db-0";
  });
  const deletions = history.events
    .filter(({ type, pod }) => type === "DELETED" || pod.metadata.deletionTimestamp)
    .map(({ type, pod }) => `${type === "DELETED" ? "gone" : "terminating"} ${pod.metadata.name}`);
  assert.deepEqual(deletions, ["terminating db-2", "gone db-2", "terminating db-1", "gone db-1"]);
  const claims = await listOf<PersistentVolumeClaim>(client, "v1", "PersistentVolumeClaim");
  assert.equal(claims.length, 3, "claims stay after scale-down");
});

Deno.test("StatefulSetController with Parallel creates every pod at once", async () => {
  await using cluster = await startTestCluster([new StatefulSetController()]);
  const { client } = cluster;
  await client.kind("apps/v1", "StatefulSet").create(statefulSet(3, { podManagementPolicy: "Parallel" }));
  await waitFor("3 pods without any running", async () => (await pods(client)).length === 3);
  assert.equal(running(await pods(client)).length, 0);
});

Deno.test("StatefulSetController rolls out in reverse ordinal order and honours the partition", async () => {
  await using cluster = await startTestCluster([new StatefulSetController()]);
  const { client } = cluster;
  const sets = client.kind<StatefulSet>("apps/v1", "StatefulSet");
  await sets.create(statefulSet(3));
  await waitFor("3 running pods", async () => {
    await agents(client);
    return running(await pods(client)).length === 3;
  });
  const before = await getSet(client);
  await retryOnConflict(() =>
    sets.patch("db", {
      spec: {
        updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 1 } },
        template: { spec: { containers: [{ name: "db", image: "busybox:1.36" }] } },
      },
    }, { namespace: "default", type: "strategic" })
  );
  const updated: string[] = [];
  const image = (p: Pod) => p.spec?.containers[0]?.image;
  const partial = await waitFor("db-2 and db-1 updated", async () => {
    const list = await pods(client);
    for (const pod of list) {
      if (image(pod) === "busybox:1.36" && !updated.includes(pod.metadata.name!)) updated.push(pod.metadata.name!);
    }
    await agents(client);
    const set = await getSet(client);
    return running(list).length === 3 && set.status?.updatedReplicas === 2 && set.status.readyReplicas === 3 && set;
  });
  assert.deepEqual(updated, ["db-2", "db-1"]);
  assert.equal(image((await pods(client))[0]!), "busybox:1.35", "db-0 is below the partition");
  assert.equal(partial.status?.currentRevision, before.status?.currentRevision);
  assert.notEqual(partial.status?.updateRevision, before.status?.updateRevision);

  const db0 = (await pods(client))[0]!;
  await forceDelete(client, db0);
  const recreated = await waitFor("db-0 recreated", async () => {
    const pod = (await pods(client))[0];
    return pod?.metadata.name === "db-0" && pod.metadata.uid !== db0.metadata.uid && pod;
  });
  assert.equal(image(recreated), "busybox:1.35", "a pod below the partition comes back at the current revision");
  assert.equal(recreated.metadata.labels?.[REVISION_HASH_LABEL], before.status?.currentRevision);

  await retryOnConflict(() =>
    sets.patch("db", { spec: { updateStrategy: { rollingUpdate: { partition: 0 } } } }, { namespace: "default" })
  );
  const done = await waitFor("every pod updated", async () => {
    await agents(client);
    const set = await getSet(client);
    return set.status?.updatedReplicas === 3 && set.status.readyReplicas === 3 && set;
  });
  assert.ok((await pods(client)).every((p) => image(p) === "busybox:1.36"));
  assert.equal(done.status?.currentRevision, done.status?.updateRevision);
});
