import assert from "node:assert/strict";
import { type Event, ManualClock, type Node, type NodeMetrics, type Pod, type ReplicaSet } from "@skiff/api";
import type { ApiClient } from "@skiff/client";
import { runSimulatedNodes, type SimulatedNodes, type SimulatedNodesOptions } from "../../node-agent/sim/mod.ts";
import { ReplicaSetController } from "../controllers/replicaset.ts";
import { startTestCluster, waitFor } from "../controllers/_testing.ts";
import { ANNOTATION_TEMPERATURE_CELSIUS } from "@skiff/api";
import { Scheduler } from "./scheduler.ts";

type SimOptions = Omit<SimulatedNodesOptions, "client" | "clock">;

/** A control plane running the scheduler (and more controllers), with simulated nodes. */
async function start(sims: SimOptions[], options: { replicaSets?: boolean; metricsIntervalMs?: number } = {}) {
  const clock = new ManualClock(Date.now());
  const scheduler = new Scheduler({ clock, metricsIntervalMs: options.metricsIntervalMs ?? 0 });
  const controllers = options.replicaSets ? [scheduler, new ReplicaSetController()] : [scheduler];
  const cluster = await startTestCluster(controllers);
  const nodes: SimulatedNodes[] = [];
  for (const sim of sims) nodes.push(await runSimulatedNodes({ client: cluster.client, clock, log: () => {}, ...sim }));
  return {
    clock,
    scheduler,
    client: cluster.client,
    sim: nodes[0]!,
    sims: nodes,
    async [Symbol.asyncDispose]() {
      for (const sim of nodes) await sim.stop();
      await cluster[Symbol.asyncDispose]();
    },
  };
}

function bare(
  name: string,
  extra: Partial<Pod["spec"] & object> = {},
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> },
): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default" },
    spec: {
      containers: [{ name: "c", image: "busybox", ...(resources ? { resources } : {}) }],
      ...extra,
    },
  };
}

async function createPods(client: ApiClient, pods: Pod[]): Promise<void> {
  for (const p of pods) await client.kind<Pod>("v1", "Pod").create(p);
}

async function listPods(client: ApiClient): Promise<Pod[]> {
  return (await client.kind<Pod>("v1", "Pod").list({ namespace: "default" })).items;
}

async function boundPods(client: ApiClient, count: number): Promise<Pod[]> {
  return await waitFor(`${count} bound pods`, async () => {
    const pods = (await listPods(client)).filter((p) => p.spec?.nodeName);
    return pods.length >= count && pods;
  });
}

async function getPod(client: ApiClient, name: string): Promise<Pod> {
  return await client.kind<Pod>("v1", "Pod").get(name, { namespace: "default" });
}

async function unschedulableMessage(client: ApiClient, name: string): Promise<string> {
  return await waitFor(`pod ${name} marked unschedulable`, async () => {
    const c = (await getPod(client, name)).status?.conditions?.find((c) => c.type === "PodScheduled");
    return c?.status === "False" && c.reason === "Unschedulable" && c.message;
  });
}

async function eventsAbout(client: ApiClient, name: string, reason: string): Promise<Event[]> {
  return await waitFor(`a ${reason} event about ${name}`, async () => {
    const events = (await client.kind<Event>("v1", "Event").list({ namespace: "default" })).items
      .filter((e) => e.involvedObject.name === name && e.reason === reason);
    return events.length > 0 && events;
  });
}

Deno.test("Scheduler gives a node reporting 85°C no new pods; the others run them", async () => {
  await using c = await start([{ nodes: 3 }]);
  await c.sim.setTemperature("sim-node-0", 85);
  await waitFor(
    "the scheduler to see the temperature",
    () => c.scheduler.snapshot.node("sim-node-0")?.node.metadata.annotations?.[ANNOTATION_TEMPERATURE_CELSIUS] === "85",
  );
  await createPods(c.client, Array.from({ length: 9 }, (_, i) => bare(`p${i}`)));
  const pods = await boundPods(c.client, 9);
  assert.deepEqual(pods.filter((p) => p.spec!.nodeName === "sim-node-0").map((p) => p.metadata.name), []);
  await waitFor("9 running pods", () => c.sim.stats.running === 9);
  const running = await getPod(c.client, "p0");
  assert.equal(running.status?.phase, "Running");
  assert.ok(running.status?.podIP);
  const [scheduled] = await eventsAbout(c.client, "p0", "Scheduled");
  assert.equal(scheduled!.message, `Successfully assigned default/p0 to ${running.spec!.nodeName}`);
  assert.equal(scheduled!.source?.component, "default-scheduler");
});

Deno.test("Scheduler puts a pod asking for devices.skiff.dev/serial only on the node that has one", async () => {
  await using c = await start([{ nodes: 3 }]);
  await c.sim.setDevices("sim-node-2", { serial: 1 });
  await waitFor(
    "the scheduler to see the device",
    () =>
      c.client.kind<Node>("v1", "Node").get("sim-node-2").then((n) =>
        n.status?.allocatable?.["devices.skiff.dev/serial"] === "1"
      ),
  );
  const serial = { limits: { "devices.skiff.dev/serial": "1" } };
  await createPods(c.client, [bare("reader", {}, serial)]);
  const [reader] = await boundPods(c.client, 1);
  assert.equal(reader!.spec!.nodeName, "sim-node-2");
  await createPods(c.client, [bare("second", {}, serial)]);
  assert.equal(
    await unschedulableMessage(c.client, "second"),
    "0/3 nodes are available: 1 node(s) had no free serial device, 2 node(s) had no serial device.",
  );
  assert.equal((await getPod(c.client, "second")).status?.phase, "Pending");
});

Deno.test("Scheduler leaves a device pod Pending with a clear event until a node reports the device", async () => {
  await using c = await start([{ nodes: 3 }]);
  await createPods(c.client, [bare("reader", {}, { limits: { "devices.skiff.dev/serial": "1" } })]);
  const message = "0/3 nodes are available: 3 node(s) had no serial device.";
  assert.equal(await unschedulableMessage(c.client, "reader"), message);
  const [event] = await eventsAbout(c.client, "reader", "FailedScheduling");
  assert.equal(event!.message, message);
  assert.equal(event!.type, "Warning");
  await c.sim.setDevices("sim-node-1", { serial: 1 });
  await waitFor("the pod to wait out its backoff", () => c.scheduler.stats.queue.backoff === 1);
  await c.clock.advance(10_000);
  const [reader] = await boundPods(c.client, 1);
  assert.equal(reader!.spec!.nodeName, "sim-node-1");
});

Deno.test("Scheduler prefers the node whose NodeMetrics show it idle", async () => {
  await using c = await start([{ nodes: 2 }], { metricsIntervalMs: 15_000 });
  const metrics = c.client.kind<NodeMetrics>("metrics.k8s.io/v1beta1", "NodeMetrics");
  const reading = (name: string, cpu: string, memory: string): NodeMetrics => ({
    apiVersion: "metrics.k8s.io/v1beta1",
    kind: "NodeMetrics",
    metadata: { name },
    timestamp: new Date().toISOString(),
    window: "10s",
    usage: { cpu, memory },
  });
  await metrics.update(reading("sim-node-0", "3800m", "7Gi"));
  await metrics.update(reading("sim-node-1", "200m", "1Gi"));
  await c.clock.advance(15_000);
  await waitFor("the scheduler to read the metrics", () => c.scheduler.snapshot.node("sim-node-0")?.usage);
  await createPods(c.client, Array.from({ length: 3 }, (_, i) => bare(`p${i}`)));
  const pods = await boundPods(c.client, 3);
  assert.deepEqual(pods.map((p) => p.spec!.nodeName), ["sim-node-1", "sim-node-1", "sim-node-1"]);
});

Deno.test("Scheduler spreads a ReplicaSet's replicas across nodes", async () => {
  await using c = await start([{ nodes: 4 }], { replicaSets: true });
  await c.client.kind<ReplicaSet>("apps/v1", "ReplicaSet").create({
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: { name: "web", namespace: "default" },
    spec: {
      replicas: 4,
      selector: { matchLabels: { app: "web" } },
      template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "nginx" }] } },
    },
  });
  const pods = await boundPods(c.client, 4);
  assert.equal(new Set(pods.map((p) => p.spec!.nodeName)).size, 4);
});

Deno.test("Scheduler honours required anti-affinity on the hostname and explains the replica that cannot fit", async () => {
  await using c = await start([{ nodes: 2 }]);
  const affinity = {
    podAntiAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: [{
        labelSelector: { matchLabels: { app: "db" } },
        topologyKey: "kubernetes.io/hostname",
      }],
    },
  };
  const db = (name: string) => ({
    ...bare(name, { affinity }),
    metadata: { name, namespace: "default", labels: { app: "db" } },
  });
  await createPods(c.client, [db("db-0"), db("db-1")]);
  const pods = await boundPods(c.client, 2);
  assert.equal(new Set(pods.map((p) => p.spec!.nodeName)).size, 2);
  await createPods(c.client, [db("db-2")]);
  assert.equal(
    await unschedulableMessage(c.client, "db-2"),
    "0/2 nodes are available: 2 node(s) didn't satisfy existing pods anti-affinity rules.",
  );
});

Deno.test("Scheduler puts nothing on a cordoned node except pods tolerating the cordon", async () => {
  await using c = await start([{ nodes: 3 }]);
  await c.client.kind<Node>("v1", "Node").patch("sim-node-1", { spec: { unschedulable: true } });
  await waitFor(
    "the scheduler to see the cordon",
    () => c.scheduler.snapshot.node("sim-node-1")?.node.spec?.unschedulable,
  );
  await createPods(c.client, Array.from({ length: 6 }, (_, i) => bare(`p${i}`)));
  const pods = await boundPods(c.client, 6);
  assert.equal(pods.some((p) => p.spec!.nodeName === "sim-node-1"), false);
  await createPods(c.client, [
    bare("ds", {
      tolerations: [{ key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" }],
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: ["sim-node-1"] }] }],
          },
        },
      },
    }),
  ]);
  await waitFor(
    "the tolerating pod on the cordoned node",
    async () => (await getPod(c.client, "ds")).spec?.nodeName === "sim-node-1",
  );
});

Deno.test("Scheduler summarises exactly why no node fits", async () => {
  await using c = await start([
    { nodes: 2, namePrefix: "small-", capacity: { memory: "1Gi" } },
    { nodes: 2, namePrefix: "big-", capacity: { memory: "8Gi" } },
  ]);
  await c.sims[1]!.setTemperature("big-0", 81);
  await c.client.kind<Node>("v1", "Node").patch("big-1", { spec: { unschedulable: true } });
  await waitFor(
    "the scheduler to see the heat and the cordon",
    () =>
      c.scheduler.snapshot.node("big-1")?.node.spec?.unschedulable &&
      c.scheduler.snapshot.node("big-0")?.node.metadata.annotations?.[ANNOTATION_TEMPERATURE_CELSIUS] === "81",
  );
  await createPods(c.client, [bare("hungry", {}, { requests: { memory: "4Gi" } })]);
  const message =
    "0/4 nodes are available: 1 node too hot (81°C > 75°C), 1 node(s) were unschedulable, 2 Insufficient memory.";
  assert.equal(await unschedulableMessage(c.client, "hungry"), message);
  const [event] = await eventsAbout(c.client, "hungry", "FailedScheduling");
  assert.equal(event!.message, message);
});

Deno.test("Scheduler leaves pods that name another scheduler alone", async () => {
  await using c = await start([{ nodes: 1 }]);
  await createPods(c.client, [bare("theirs", { schedulerName: "other-scheduler" }), bare("ours")]);
  await boundPods(c.client, 1);
  await waitFor("the queue to drain", () => c.scheduler.stats.attempts >= 1 && c.scheduler.stats.queue.active === 0);
  assert.equal((await getPod(c.client, "theirs")).spec?.nodeName, undefined);
  assert.equal(c.scheduler.stats.attempts, 1);
});
