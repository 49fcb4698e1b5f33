import assert from "node:assert/strict";
import {
  type Event,
  ManualClock,
  type Node,
  type PersistentVolume,
  type PersistentVolumeClaim,
  type Pod,
  type StorageClass,
} from "@skiff/api";
import type { ApiClient } from "@skiff/client";
import { runSimulatedNodes, type SimulatedNodes } from "../../node-agent/sim/mod.ts";
import { PersistentVolumeController } from "../controllers/persistent_volume.ts";
import { startTestCluster, waitFor } from "../controllers/_testing.ts";
import { Scheduler } from "./scheduler.ts";

/** A control plane running the scheduler and the PersistentVolume controller, with three simulated nodes. */
async function start(options: { volumeBindTimeoutMs?: number } = {}) {
  const clock = new ManualClock(Date.now());
  const scheduler = new Scheduler({ clock, metricsIntervalMs: 0, ...options });
  const cluster = await startTestCluster([scheduler, new PersistentVolumeController()]);
  const sim: SimulatedNodes = await runSimulatedNodes({ client: cluster.client, clock, log: () => {}, nodes: 3 });
  await waitFor("the scheduler to see 3 nodes", () => scheduler.snapshot.nodes.length === 3);
  return {
    clock,
    scheduler,
    client: cluster.client,
    async [Symbol.asyncDispose]() {
      await sim.stop();
      await cluster[Symbol.asyncDispose]();
    },
  };
}

const pvs = (client: ApiClient) => client.kind<PersistentVolume>("v1", "PersistentVolume");
const pvcs = (client: ApiClient) => client.kind<PersistentVolumeClaim>("v1", "PersistentVolumeClaim");
const pods = (client: ApiClient) => client.kind<Pod>("v1", "Pod");

async function manualClass(client: ApiClient, mode: "Immediate" | "WaitForFirstConsumer"): Promise<void> {
  await client.kind<StorageClass>("storage.k8s.io/v1", "StorageClass").create({
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: { name: "manual" },
    provisioner: "kubernetes.io/no-provisioner",
    volumeBindingMode: mode,
  });
}

async function localVolume(client: ApiClient, name: string, node: string): Promise<void> {
  await pvs(client).create({
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name },
    spec: {
      capacity: { storage: "1Gi" },
      accessModes: ["ReadWriteOnce"],
      storageClassName: "manual",
      local: { path: `/mnt/${name}` },
      nodeAffinity: {
        required: {
          nodeSelectorTerms: [{
            matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [node] }],
          }],
        },
      },
    },
  });
}

async function claim(client: ApiClient, name: string, storageClassName: string): Promise<void> {
  await pvcs(client).create({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name, namespace: "default" },
    spec: { accessModes: ["ReadWriteOnce"], storageClassName, resources: { requests: { storage: "1Gi" } } },
  });
}

async function podUsing(client: ApiClient, name: string, claimName: string): Promise<void> {
  await pods(client).create({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default" },
    spec: {
      containers: [{ name: "c", image: "busybox" }],
      volumes: [{ name: "data", persistentVolumeClaim: { claimName } }],
    },
  });
}

async function nodeOf(client: ApiClient, name: string): Promise<string> {
  return await waitFor(
    `pod ${name} bound`,
    async () => (await pods(client).get(name, { namespace: "default" })).spec?.nodeName,
  );
}

async function failedScheduling(client: ApiClient, name: string, pattern: RegExp): Promise<Event> {
  return await waitFor(`a FailedScheduling event about ${name} matching ${pattern}`, async () => {
    const events = (await client.kind<Event>("v1", "Event").list({ namespace: "default" })).items;
    return events.find((e) =>
      e.involvedObject.name === name && e.reason === "FailedScheduling" && pattern.test(e.message ?? "")
    );
  });
}

Deno.test("Scheduler keeps a pod whose volume is pinned to a cordoned node Pending, saying why, and places it there once uncordoned", async () => {
  await using c = await start();
  await manualClass(c.client, "Immediate");
  await localVolume(c.client, "disk-1", "sim-node-1");
  await claim(c.client, "data", "manual");
  await waitFor(
    "the claim to be bound",
    async () => (await pvcs(c.client).get("data", { namespace: "default" })).status?.phase === "Bound",
  );
  await c.client.kind<Node>("v1", "Node").patch("sim-node-1", { spec: { unschedulable: true } });
  await waitFor(
    "the scheduler to see the cordon",
    () => c.scheduler.snapshot.node("sim-node-1")?.node.spec?.unschedulable,
  );
  await podUsing(c.client, "db", "data");
  const message = "0/3 nodes are available: 1 node(s) were unschedulable, 2 node(s) had volume node affinity conflict.";
  const event = await failedScheduling(c.client, "db", /volume node affinity conflict/);
  assert.equal(event.message, message);
  // The Event and the status patch are written concurrently: wait for the condition too.
  const pending = await waitFor("the PodScheduled condition", async () => {
    const pod = await pods(c.client).get("db", { namespace: "default" });
    return pod.status?.conditions?.find((x) => x.type === "PodScheduled")?.message === message && pod;
  });
  assert.equal(pending.spec?.nodeName, undefined);
  await c.client.kind<Node>("v1", "Node").patch("sim-node-1", { spec: { unschedulable: null } });
  await waitFor(
    "the scheduler to see the uncordon",
    () => !c.scheduler.snapshot.node("sim-node-1")?.node.spec?.unschedulable,
  );
  await c.clock.advance(2_000);
  assert.equal(await nodeOf(c.client, "db"), "sim-node-1");
});

Deno.test("Scheduler selects the node of a fitting volume for a WaitForFirstConsumer claim and binds the pod once the claim is bound", async () => {
  await using c = await start();
  await manualClass(c.client, "WaitForFirstConsumer");
  await localVolume(c.client, "disk-2", "sim-node-2");
  await claim(c.client, "data", "manual");
  await podUsing(c.client, "db", "data");
  assert.equal(await nodeOf(c.client, "db"), "sim-node-2");
  const bound = await pvcs(c.client).get("data", { namespace: "default" });
  assert.equal(bound.metadata.annotations?.["volume.kubernetes.io/selected-node"], "sim-node-2");
  assert.equal(bound.spec?.volumeName, "disk-2");
  assert.equal(bound.status?.phase, "Bound");
});

Deno.test("Scheduler says no node has the CSI driver when no agent provisions the default class", async () => {
  await using c = await start();
  await claim(c.client, "data", "local");
  await podUsing(c.client, "db", "data");
  const event = await failedScheduling(c.client, "db", /CSI driver/);
  assert.equal(
    event.message,
    "0/3 nodes are available: 3 node(s) did not have CSI driver local.csi.skiff.dev to provision volumes.",
  );
});

Deno.test("Scheduler tries again when a claim's provisioner gives the node back, and when the claim is not bound in time", async () => {
  await using c = await start({ volumeBindTimeoutMs: 30_000 });
  for (const name of ["sim-node-0", "sim-node-1", "sim-node-2"]) {
    await c.client.kind<Node>("v1", "Node").patch(name, {
      metadata: { labels: { "csi.skiff.dev/local.csi.skiff.dev": "true" } },
    });
  }
  await waitFor(
    "the scheduler to see the driver labels",
    () => c.scheduler.snapshot.nodes.every((n) => n.labels["csi.skiff.dev/local.csi.skiff.dev"] === "true"),
  );
  await claim(c.client, "data", "local");
  await podUsing(c.client, "db", "data");
  const selected = await waitFor("a node to be selected for the claim", async () => {
    const current = await pvcs(c.client).get("data", { namespace: "default" });
    return current.metadata.annotations?.["volume.kubernetes.io/selected-node"];
  });
  assert.equal((await pods(c.client).get("db", { namespace: "default" })).spec?.nodeName, undefined);
  await pvcs(c.client).patch("data", { metadata: { annotations: { "volume.kubernetes.io/selected-node": null } } }, {
    namespace: "default",
  });
  const gaveBack = await failedScheduling(c.client, "db", /could not be provisioned/);
  assert.equal(
    gaveBack.message,
    `binding volumes: persistentvolumeclaim "data" could not be provisioned on node "${selected}" (see the claim's events); trying another node`,
  );
  await c.clock.advance(2_000);
  await waitFor("a node to be selected again", async () => {
    const current = await pvcs(c.client).get("data", { namespace: "default" });
    return current.metadata.annotations?.["volume.kubernetes.io/selected-node"];
  });
  await c.clock.advance(30_000);
  const timedOut = await failedScheduling(c.client, "db", /timed out/);
  assert.match(timedOut.message ?? "", /timed out after 30 s waiting for persistentvolumeclaim\(s\) "default\/data"/);
  assert.equal((await pods(c.client).get("db", { namespace: "default" })).spec?.nodeName, undefined);
});
