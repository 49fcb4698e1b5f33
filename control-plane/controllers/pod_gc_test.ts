import assert from "node:assert/strict";
import type { ApiClient } from "@skiff/client";
import type { Event, Pod } from "@skiff/api";
import { PodGarbageCollector } from "./pod_gc.ts";
import { createNode, listOf, runPod, startTestCluster, waitFor } from "./_testing.ts";

async function startPod(client: ApiClient, name: string, node: string, phase: "Running" | "Succeeded" | "Failed") {
  const pod = await client.kind<Pod>("v1", "Pod").create({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default" },
    spec: { containers: [{ name: "c", image: "busybox:1.36" }], restartPolicy: "Never" },
  });
  return await runPod(client, pod, { node, phase });
}

const podNames = async (client: ApiClient) =>
  (await listOf<Pod>(client, "v1", "Pod")).map((p) => p.metadata.name).sort();

Deno.test("PodGarbageCollector force-deletes pods bound to a node that no longer exists", async () => {
  await using cluster = await startTestCluster([new PodGarbageCollector()]);
  const { client } = cluster;
  await createNode(client, "pi-1");
  await createNode(client, "pi-2");
  await startPod(client, "on-1", "pi-1", "Running");
  await startPod(client, "leaving-1", "pi-1", "Running");
  await startPod(client, "on-2", "pi-2", "Running");
  await client.kind("v1", "Pod").delete("leaving-1", { namespace: "default" });
  assert.ok(
    (await client.kind<Pod>("v1", "Pod").get("leaving-1", { namespace: "default" })).metadata.deletionTimestamp,
  );

  await client.kind("v1", "Node").delete("pi-1");
  await waitFor("the pods of pi-1 gone", async () => (await podNames(client)).join() === "on-2");
  const events = await waitFor("an event about on-1", async () => {
    const events = (await listOf<Event>(client, "v1", "Event")).filter((e) => e.involvedObject.name === "on-1");
    return events.length > 0 && events;
  });
  assert.equal(events[0]!.reason, "PodGarbageCollected");
  assert.match(events[0]!.message ?? "", /node "pi-1", which no longer exists/);
});

Deno.test("PodGarbageCollector deletes the oldest terminated pods beyond its threshold", async () => {
  await using cluster = await startTestCluster([new PodGarbageCollector({ terminatedPodThreshold: 2 })]);
  const { client } = cluster;
  await createNode(client, "pi-1");
  await startPod(client, "a-running", "pi-1", "Running");
  await startPod(client, "done-1", "pi-1", "Succeeded");
  await startPod(client, "done-2", "pi-1", "Failed");
  await waitFor("2 terminated pods kept", async () => (await podNames(client)).length === 3);
  await startPod(client, "done-3", "pi-1", "Succeeded");
  await startPod(client, "done-4", "pi-1", "Failed");
  await waitFor(
    "the two oldest terminated pods deleted",
    async () => (await podNames(client)).join() === "a-running,done-3,done-4",
  );
});

Deno.test("PodGarbageCollector refuses a negative threshold", () => {
  assert.throws(() => new PodGarbageCollector({ terminatedPodThreshold: -1 }), RangeError);
});
