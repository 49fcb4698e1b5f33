import assert from "node:assert/strict";
import type { ApiClient } from "@skiff/client";
import { type Event, type Lease, ManualClock, type Node, type Pod, type ReplicaSet, type Toleration } from "@skiff/api";
import { conditionTaints, NODE_STATUS_UNKNOWN_MESSAGE, NodeLifecycleController } from "./node_lifecycle.ts";
import { ReplicaSetController } from "./replicaset.ts";
import { createNode, listOf, runPod, startTestCluster, waitFor } from "./_testing.ts";

const micro = (ms: number) => new Date(ms).toISOString().replace("Z", "000Z");
const seconds = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");

/** A cluster whose node lifecycle controller runs on a manual clock, with helpers to play the node agents. */
async function lifecycleCluster(extra: ReplicaSetController[] = []) {
  const clock = new ManualClock(Date.now());
  const lifecycle = new NodeLifecycleController();
  const cluster = await startTestCluster([lifecycle, ...extra], { clock });
  const { client } = cluster;
  const leases = client.kind<Lease>("coordination.k8s.io/v1", "Lease");
  const nodes = client.kind<Node>("v1", "Node");
  const live = new Set<string>();

  const heartbeat = async (name: string) => {
    const renewTime = micro(clock.now());
    await leases.patch(name, { spec: { renewTime } }, { namespace: "kube-node-lease" });
    await waitFor(`the controller to see ${name}'s heartbeat`, () => lifecycle.lastHeartbeat(name) === clock.now());
  };
  return {
    cluster,
    client,
    clock,
    lifecycle,
    nodes,
    /** Registers a node with a lease; it heartbeats while `live`. */
    async addNode(name: string, alive = true) {
      await createNode(client, name);
      await leases.create({
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name, namespace: "kube-node-lease" },
        spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: micro(clock.now()) },
      });
      await waitFor(`the controller to see ${name}`, () => lifecycle.lastHeartbeat(name) !== undefined);
      if (alive) live.add(name);
    },
    /** Moves time on in steps of at most 10 s; live nodes heartbeat before each step. */
    async advance(ms: number) {
      for (let left = ms; left > 0; left -= 10_000) {
        for (const name of live) await heartbeat(name);
        await clock.advance(Math.min(left, 10_000));
      }
    },
    /** The agent posts a Ready condition with a fresh heartbeat and renews its lease. */
    async report(name: string, ready: "True" | "False") {
      const node = await nodes.get(name);
      const time = seconds(clock.now());
      const conditions = [{ type: "Ready", status: ready, reason: "KubeletReady", lastHeartbeatTime: time }];
      await nodes.updateStatus({ ...node, status: { ...node.status, conditions } });
      await heartbeat(name);
    },
  };
}

const readyOf = (node: Node) => node.status?.conditions?.find((c) => c.type === "Ready");
const taintsOf = (node: Node) => (node.spec?.taints ?? []).map((t) => `${t.key}:${t.effect}`).sort();
const eventsFor = async (client: ApiClient, name: string) =>
  (await client.kind<Event>("v1", "Event").list()).items.filter((e) => e.involvedObject.name === name);

async function boundPod(client: ApiClient, name: string, node: string, tolerations?: Toleration[]): Promise<Pod> {
  const pod = await client.kind<Pod>("v1", "Pod").create({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default" },
    spec: { containers: [{ name: "c", image: "busybox:1.36" }], ...(tolerations ? { tolerations } : {}) },
  });
  return await runPod(client, pod, { node });
}

const getPod = (client: ApiClient, name: string) => client.kind<Pod>("v1", "Pod").get(name, { namespace: "default" });

Deno.test("NodeLifecycleController marks a silent node Unknown after 40 s, taints it, and untaints it when it returns", async () => {
  const t = await lifecycleCluster();
  await using _ = t.cluster;
  await t.addNode("pi-1", false);
  await t.addNode("pi-2");

  await t.advance(40_000);
  assert.equal(readyOf(await t.nodes.get("pi-1"))?.status, "True", "40 s of silence is still within the grace period");

  await t.advance(1_000);
  const silent = await waitFor("pi-1 Unknown and tainted", async () => {
    const node = await t.nodes.get("pi-1");
    return readyOf(node)?.status === "Unknown" && taintsOf(node).length === 2 && node;
  });
  const ready = readyOf(silent)!;
  assert.equal(ready.reason, "NodeStatusUnknown");
  assert.equal(ready.message, NODE_STATUS_UNKNOWN_MESSAGE);
  assert.equal(silent.status?.conditions?.find((c) => c.type === "MemoryPressure")?.status, "Unknown");
  assert.deepEqual(taintsOf(silent), [
    "node.kubernetes.io/unreachable:NoExecute",
    "node.kubernetes.io/unreachable:NoSchedule",
  ]);
  assert.ok(silent.spec?.taints?.find((t) => t.effect === "NoExecute")?.timeAdded);
  await waitFor(
    "a NodeNotReady event",
    async () => (await eventsFor(t.client, "pi-1")).some((e) => e.reason === "NodeNotReady"),
  );
  const healthy = await t.nodes.get("pi-2");
  assert.equal(readyOf(healthy)?.status, "True");
  assert.deepEqual(taintsOf(healthy), []);

  await t.report("pi-1", "True");
  await waitFor("pi-1 untainted", async () => taintsOf(await t.nodes.get("pi-1")).length === 0);
  await waitFor(
    "a NodeReady event",
    async () => (await eventsFor(t.client, "pi-1")).some((e) => e.reason === "NodeReady"),
  );

  await t.report("pi-1", "False");
  await waitFor("pi-1 tainted not-ready", async () =>
    taintsOf(await t.nodes.get("pi-1")).join() ===
      "node.kubernetes.io/not-ready:NoExecute,node.kubernetes.io/not-ready:NoSchedule");
});

Deno.test("NodeLifecycleController evicts pods from an unreachable node after their toleration so owners recreate them", async () => {
  const t = await lifecycleCluster([new ReplicaSetController()]);
  await using _ = t.cluster;
  const { client } = t;
  await t.addNode("pi-1", false);
  await t.addNode("pi-2");
  await client.kind<ReplicaSet>("apps/v1", "ReplicaSet").create({
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: { name: "web", namespace: "default" },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: { containers: [{ name: "web", image: "busybox:1.36" }] },
      },
    },
  });
  const web = await waitFor("2 web pods", async () => {
    const pods = await listOf<Pod>(client, "v1", "Pod");
    return pods.length === 2 && pods;
  });
  for (const pod of web) await runPod(client, pod, { node: "pi-1" });
  const unreachable = { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute" } as const;
  await boundPod(client, "forever", "pi-1", [unreachable]);
  await boundPod(client, "brief", "pi-1", [{ ...unreachable, tolerationSeconds: 60 }]);

  await t.advance(41_000);
  await waitFor("pi-1 tainted unreachable", async () => taintsOf(await t.nodes.get("pi-1")).length === 2);
  const marked = await waitFor("pods on pi-1 marked not ready", async () => {
    const pod = await getPod(client, web[0]!.metadata.name!);
    return pod.status?.conditions?.find((c) => c.type === "Ready")?.status === "False" && pod;
  });
  assert.ok(marked);

  // pi-1 went Unknown at 40 s; its taint's timeAdded is that time in whole seconds, so up to 1 s earlier.
  await t.advance(57_000);
  assert.equal((await getPod(client, "brief")).metadata.deletionTimestamp, undefined, "58 s after the taint < 60 s");
  await t.advance(3_000);
  await waitFor("brief evicted after 60 s", async () => (await getPod(client, "brief")).metadata.deletionTimestamp);

  await t.advance(237_000);
  for (const pod of web) {
    assert.equal((await getPod(client, pod.metadata.name!)).metadata.deletionTimestamp, undefined, "298 s < 300 s");
  }
  await t.advance(3_000);
  await waitFor("the web pods evicted after 300 s", async () => {
    for (const pod of web) if (!(await getPod(client, pod.metadata.name!)).metadata.deletionTimestamp) return false;
    return true;
  });
  const replacements = await waitFor("2 replacement pods", async () => {
    const pods = (await listOf<Pod>(client, "v1", "Pod")).filter((p) =>
      p.metadata.labels?.app === "web" && !p.metadata.deletionTimestamp
    );
    return pods.length === 2 && pods;
  });
  assert.ok(replacements.every((p) => !web.some((w) => w.metadata.uid === p.metadata.uid)));
  assert.equal((await getPod(client, "forever")).metadata.deletionTimestamp, undefined);
  const evictions = (await client.kind<Event>("v1", "Event").list({ namespace: "default" })).items
    .filter((e) => e.reason === "TaintManagerEviction");
  assert.deepEqual(
    evictions.map((e) => e.involvedObject.name).sort(),
    ["brief", ...web.map((p) => p.metadata.name!)].sort(),
  );
});

Deno.test("NodeLifecycleController evicts intolerant pods at once and holds evictions while no node is Ready", async () => {
  const t = await lifecycleCluster();
  await using _ = t.cluster;
  const { client } = t;
  await t.addNode("pi-1", false);
  await boundPod(client, "plain", "pi-1");

  await t.advance(41_000);
  await waitFor("pi-1 tainted unreachable", async () => taintsOf(await t.nodes.get("pi-1")).length === 2);
  await t.advance(300_000);
  assert.equal((await getPod(client, "plain")).metadata.deletionTimestamp, undefined, "the only node is down");

  await t.addNode("pi-2");
  await waitFor(
    "plain evicted once another node is Ready",
    async () => (await getPod(client, "plain")).metadata.deletionTimestamp,
  );

  await boundPod(client, "other", "pi-2");
  await t.nodes.patch("pi-2", { spec: { taints: [{ key: "maintenance", value: "true", effect: "NoExecute" }] } });
  await waitFor(
    "other evicted at once by a taint it does not tolerate",
    async () => (await getPod(client, "other")).metadata.deletionTimestamp,
  );
  assert.deepEqual(taintsOf(await t.nodes.get("pi-2")), ["maintenance:NoExecute"], "other taints are left alone");
});

Deno.test("conditionTaints() taints a node under ThermalPressure so only tolerating pods are scheduled there", () => {
  const node: Node = {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: "pi" },
    status: {
      conditions: [
        { type: "Ready", status: "True" as const },
        { type: "ThermalPressure", status: "True" as const },
      ],
    },
  };
  assert.deepEqual(conditionTaints(node, 0).map((t) => `${t.key}:${t.effect}`), [
    "node.skiff.dev/thermal-pressure:NoSchedule",
  ]);
});
