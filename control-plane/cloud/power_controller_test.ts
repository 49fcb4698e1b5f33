import assert from "node:assert/strict";
import {
  ANNOTATION_POWER_MAC,
  ANNOTATION_POWER_SLEEP_MODE,
  ANNOTATION_POWER_SLEEP_REQUEST,
  ANNOTATION_POWER_STATE,
  LABEL_WAKE_ON_LAN,
  type Lease,
  ManualClock,
  type Node,
  NODE_LEASE_NAMESPACE,
  nodeStatus,
  type Pod,
} from "@skiff/api";
import { type ApiClient, EventRecorder, SharedInformers } from "@skiff/client";
import type { ControllerContext } from "../controllers/mod.ts";
import { cloudControllers } from "./cloud_controllers.ts";
import { HomelabProvider } from "./homelab_provider.ts";
import { PowerController } from "./power_controller.ts";
import type { CloudProvider } from "./provider.ts";
import { eventsAbout, startCloudTestCluster, waitFor } from "./_testing.ts";

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1);
const MAC = { "pi-1": "dc:a6:32:00:00:01", "pi-2": "dc:a6:32:00:00:02", "pi-3": "dc:a6:32:00:00:03" };

/** A Lease's renewTime (MicroTime). */
const microTime = (ms: number) => new Date(ms).toISOString().replace("Z", "000Z");

/** A simulated node as its agent registers it: Ready, 4 CPUs and 8 GiB, its MAC reported. */
function simulatedNode(name: keyof typeof MAC, options: { wakeOnLan: boolean }): Node {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      labels: { "kubernetes.io/hostname": name, ...(options.wakeOnLan ? { [LABEL_WAKE_ON_LAN]: "true" } : {}) },
      annotations: { [ANNOTATION_POWER_MAC]: MAC[name] },
    },
    spec: {},
    status: {
      capacity: { cpu: "4", memory: "8Gi", pods: "110" },
      allocatable: { cpu: "4", memory: "8Gi", pods: "110" },
      conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", message: "agent is posting ready status" }],
      addresses: [{ type: "InternalIP", address: `192.168.1.${40 + Number(name.slice(3))}` }, {
        type: "Hostname",
        address: name,
      }],
    },
  };
}

/** Creates or renews the node Lease of `name` at `ms`, as the node's agent does. */
async function heartbeat(client: ApiClient, name: string, ms: number): Promise<void> {
  const leases = client.kind<Lease>("coordination.k8s.io/v1", "Lease");
  const spec = { holderIdentity: name, leaseDurationSeconds: 40, renewTime: microTime(ms) };
  try {
    const lease = await leases.get(name, { namespace: NODE_LEASE_NAMESPACE });
    await leases.update({ ...lease, spec: { ...lease.spec, ...spec } });
  } catch {
    await leases.create({
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name, namespace: NODE_LEASE_NAMESPACE },
      spec,
    });
  }
}

/** Creates a pod in `default` with `status`; on `node` when given; owned by a DaemonSet when `daemonSet`. */
async function createPod(
  client: ApiClient,
  name: string,
  options: { node?: string; memory?: string; daemonSet?: boolean; nodeSelector?: Record<string, string> },
  status: Pod["status"],
): Promise<void> {
  const pods = client.kind<Pod>("v1", "Pod");
  await pods.create({
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: "default",
      ...(options.daemonSet
        ? {
          ownerReferences: [{
            apiVersion: "apps/v1",
            kind: "DaemonSet",
            name: "agent",
            uid: "ds-uid",
            controller: true,
          }],
        }
        : {}),
    },
    spec: {
      ...(options.node ? { nodeName: options.node } : {}),
      ...(options.nodeSelector ? { nodeSelector: options.nodeSelector } : {}),
      containers: [{
        name: "main",
        image: "busybox",
        resources: { requests: { cpu: "100m", memory: options.memory ?? "64Mi" } },
      }],
    },
  });
  await pods.patch(name, { status }, { namespace: "default", subresource: "status" });
}

/** The status the scheduler writes on a pod it found no node for. */
const unschedulable: Pod["status"] = {
  phase: "Pending",
  conditions: [{
    type: "PodScheduled",
    status: "False",
    reason: "Unschedulable",
    message: "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient memory",
  }],
};

/**
 * A PowerController set up on its own informers and an injected clock, not
 * run: each test drives `pass()` itself, so no timer decides anything.
 */
async function powerController(client: ApiClient, clock: ManualClock, provider: CloudProvider) {
  const controller = new PowerController({ provider, idleMs: 30 * MIN, wakeTimeoutMs: 5 * MIN });
  const informers = new SharedInformers(client, { clock });
  const recorder = new EventRecorder(client, { component: "skiff-controller-manager", clock });
  const logs: string[] = [];
  const ctx: ControllerContext = { client, informers, recorder, clock, log: (line) => logs.push(line) };
  controller.setup(ctx);
  const nodes = informers.for<Node>("v1", "Node");
  const pods = informers.for<Pod>("v1", "Pod");
  const leases = informers.for<Lease>("coordination.k8s.io/v1", "Lease", { namespace: NODE_LEASE_NAMESPACE });
  await informers.start();
  return {
    controller,
    logs,
    /** Waits until the controller's caches show what `ready` looks for. */
    seen: (what: string, ready: (view: { nodes: Node[]; pods: Pod[]; leases: Lease[] }) => boolean) =>
      waitFor(
        `the informers to see ${what}`,
        () => ready({ nodes: nodes.list(), pods: pods.list(), leases: leases.list() }),
      ),
    /** One pass; resolves once its Events are written. */
    async pass() {
      const decisions = await controller.pass();
      await recorder.flush();
      return decisions.map((d) => `${d.action} ${d.node.metadata.name} ${d.reason}`);
    },
    async [Symbol.asyncDispose]() {
      informers.stop();
      await recorder.flush();
    },
  };
}

const stateOf = (node: Node | undefined) => node?.metadata.annotations?.[ANNOTATION_POWER_STATE];

Deno.test("PowerController sleeps an idle opted-in node after the idle time and wakes it by Wake-on-LAN for a pod that fits nowhere else", async () => {
  await using c = await startCloudTestCluster(() => []);
  const clock = new ManualClock(T0);
  const nodes = c.client.kind<Node>("v1", "Node");
  const pods = c.client.kind<Pod>("v1", "Pod");
  for (
    const node of [
      simulatedNode("pi-1", { wakeOnLan: true }),
      simulatedNode("pi-2", { wakeOnLan: true }),
      simulatedNode("pi-3", { wakeOnLan: false }),
    ]
  ) {
    await nodes.create(node);
    await heartbeat(c.client, node.metadata.name!, T0);
  }
  // pi-1 runs only a DaemonSet pod and a finished one; pi-2 runs a workload; pi-3 never opted in.
  await createPod(c.client, "agent-pi-1", { node: "pi-1", daemonSet: true }, { phase: "Running" });
  await createPod(c.client, "backup-done", { node: "pi-1" }, { phase: "Succeeded" });
  await createPod(c.client, "web", { node: "pi-2", memory: "6Gi" }, { phase: "Running" });

  const sent: string[] = [];
  const provider = new HomelabProvider({
    client: c.client,
    clock,
    wakeOnLan: (mac) => {
      sent.push(mac);
      return Promise.resolve();
    },
  });
  await using power = await powerController(c.client, clock, provider);
  await power.seen("3 nodes and 3 pods", ({ nodes, pods }) => nodes.length === 3 && pods.length === 3);

  // Idle, but not for long enough.
  assert.deepEqual(await power.pass(), []);
  await clock.advance(29 * MIN);
  assert.deepEqual(await power.pass(), []);
  assert.equal(sent.length, 0);

  // Past the idle time: pi-1 alone is cordoned, drained and asked to sleep.
  await clock.advance(2 * MIN);
  const sleepAt = clock.now();
  assert.deepEqual(await power.pass(), ["sleep pi-1 NodeIdle"]);
  const asleep = await nodes.get("pi-1");
  assert.equal(asleep.spec?.unschedulable, true);
  assert.equal(stateOf(asleep), "Sleeping");
  assert.equal(asleep.metadata.annotations?.[ANNOTATION_POWER_SLEEP_MODE], "suspend");
  assert.equal(asleep.metadata.annotations?.[ANNOTATION_POWER_SLEEP_REQUEST], new Date(sleepAt).toISOString());
  assert.equal(nodeStatus(asleep), "Sleeping,SchedulingDisabled");
  const left = (await pods.list({ namespace: "default" })).items.map((p) => p.metadata.name).sort();
  assert.deepEqual(left, ["agent-pi-1", "web"], "drained: the finished pod is gone, the DaemonSet pod stays");
  const sleepEvents = await eventsAbout(c.client, "pi-1");
  assert.deepEqual(sleepEvents.map((e) => e.reason).sort(), ["NodeIdle", "Sleeping"]);
  assert.match(
    sleepEvents.find((e) => e.reason === "NodeIdle")!.message!,
    /^Node "pi-1" has run no pods but DaemonSet pods for 31 min: cordoning, draining and putting it to sleep$/,
  );
  assert.equal(sleepEvents.find((e) => e.reason === "Sleeping")!.message, 'Asked node "pi-1" to suspend');
  for (const name of ["pi-2", "pi-3"]) {
    const awake = await nodes.get(name);
    assert.equal(nodeStatus(awake), "Ready", `${name} is left alone`);
    assert.deepEqual(await eventsAbout(c.client, name), []);
  }

  // Hours later: the busy node and the node that never opted in still run.
  await power.seen("pi-1 asleep", ({ nodes }) => stateOf(nodes.find((n) => n.metadata.name === "pi-1")) === "Sleeping");
  await clock.advance(3 * 60 * MIN);
  assert.deepEqual(await power.pass(), []);
  assert.equal(nodeStatus(await nodes.get("pi-2")), "Ready");
  assert.equal(nodeStatus(await nodes.get("pi-3")), "Ready");

  // A pending pod that the sleeping node cannot take either wakes nothing.
  await createPod(c.client, "needs-gpu", { nodeSelector: { "hardware.skiff.dev/gpu": "true" } }, unschedulable);
  await power.seen("needs-gpu pending", ({ pods }) => pods.some((p) => p.status?.conditions?.length));
  assert.deepEqual(await power.pass(), []);
  assert.equal(sent.length, 0);

  // A pending pod that fits nowhere awake, but on pi-1: the magic packet goes to pi-1's MAC.
  await createPod(c.client, "big", { memory: "4Gi" }, unschedulable);
  await power.seen(
    "big pending",
    ({ pods }) => pods.some((p) => p.metadata.name === "big" && p.status?.conditions?.length),
  );
  assert.deepEqual(await power.pass(), ["wake pi-1 WakingForPods"]);
  assert.deepEqual(sent, [MAC["pi-1"]]);
  const waking = await nodes.get("pi-1");
  assert.equal(nodeStatus(waking), "Waking,SchedulingDisabled");
  const wakeEvent = (await eventsAbout(c.client, "pi-1")).find((e) => e.reason === "WakingForPods");
  assert.equal(
    wakeEvent?.message,
    'Waking node "pi-1" with Wake-on-LAN: 1 pending pod (default/big) fit nowhere else',
  );

  // While it wakes, no second packet; past the wake timeout without a heartbeat, the packet again.
  await power.seen("pi-1 waking", ({ nodes }) => stateOf(nodes.find((n) => n.metadata.name === "pi-1")) === "Waking");
  await clock.advance(MIN);
  assert.deepEqual(await power.pass(), []);
  assert.equal(sent.length, 1);
  await clock.advance(4 * MIN);
  assert.deepEqual(await power.pass(), ["wake pi-1 WakeTimedOut"]);
  assert.deepEqual(sent, [MAC["pi-1"], MAC["pi-1"]]);

  // Its agent heartbeats again: uncordoned, the power state cleared.
  await clock.advance(MIN);
  await heartbeat(c.client, "pi-1", clock.now());
  await power.seen(
    "pi-1's heartbeat",
    ({ leases }) => leases.some((l) => l.metadata.name === "pi-1" && Date.parse(l.spec!.renewTime!) === clock.now()),
  );
  assert.deepEqual(await power.pass(), ["awake pi-1 NodeAwake"]);
  const back = await nodes.get("pi-1");
  assert.equal(nodeStatus(back), "Ready");
  assert.equal(back.spec?.unschedulable, undefined);
  assert.equal(back.metadata.annotations?.[ANNOTATION_POWER_SLEEP_REQUEST], undefined);
  assert.equal(back.metadata.annotations?.[ANNOTATION_POWER_MAC], MAC["pi-1"], "the MAC the agent reported stays");
  assert.deepEqual(
    (await eventsAbout(c.client, "pi-1")).map((e) => e.reason).sort(),
    ["NodeAwake", "NodeIdle", "Sleeping", "WakeTimedOut", "WakingForPods"],
  );
  assert.ok(power.logs.some((line) => line.startsWith('power: Node "pi-1" is awake')), power.logs.join("\n"));
});

Deno.test("PowerController never puts a node with pods, one not labelled, or the last Ready node to sleep", async () => {
  await using c = await startCloudTestCluster(() => []);
  const clock = new ManualClock(T0);
  const nodes = c.client.kind<Node>("v1", "Node");
  await nodes.create(simulatedNode("pi-1", { wakeOnLan: true }));
  await nodes.create(simulatedNode("pi-2", { wakeOnLan: false }));
  await createPod(c.client, "web", { node: "pi-1" }, { phase: "Running" });
  const provider = new HomelabProvider({ client: c.client, clock, wakeOnLan: () => Promise.reject(new Error("no")) });
  await using power = await powerController(c.client, clock, provider);
  await power.seen("2 nodes and the pod", ({ nodes, pods }) => nodes.length === 2 && pods.length === 1);

  assert.deepEqual(await power.pass(), []);
  await clock.advance(120 * MIN);
  assert.deepEqual(await power.pass(), [], "pi-1 runs a pod and pi-2 never opted in");

  // pi-1's pod is stopping, so pi-1 is idle; but pi-2 went NotReady, and the last Ready node stays up.
  await c.client.kind<Pod>("v1", "Pod").delete("web", { namespace: "default" });
  await nodes.patch("pi-2", {
    status: { conditions: [{ type: "Ready", status: "False", reason: "KubeletNotReady" }] },
  }, { subresource: "status" });
  await power.seen(
    "pi-1 idle and pi-2 NotReady",
    ({ nodes, pods }) =>
      pods.every((p) => p.metadata.deletionTimestamp) &&
      nodes.some((n) =>
        n.metadata.name === "pi-2" && n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "False")
      ),
  );
  assert.deepEqual(await power.pass(), []);
  await clock.advance(120 * MIN);
  assert.deepEqual(await power.pass(), []);
  for (const name of ["pi-1", "pi-2"]) {
    const node = await nodes.get(name);
    assert.equal(stateOf(node), undefined);
    assert.equal(node.spec?.unschedulable, undefined);
    assert.deepEqual(await eventsAbout(c.client, name), []);
  }
});

Deno.test("cloudControllers() leaves power management off by default: idle opted-in nodes keep running", async () => {
  const clock = new ManualClock(T0);
  let controllers: string[] = [];
  await using c = await startCloudTestCluster((client) => {
    const made = cloudControllers(client);
    controllers = made.map((controller) => controller.name);
    return made;
  }, { clock });
  assert.equal(controllers.includes("power"), false, `controllers: ${controllers.join(", ")}`);
  const nodes = c.client.kind<Node>("v1", "Node");
  for (const name of ["pi-1", "pi-2", "pi-3"] as const) {
    await nodes.create(simulatedNode(name, { wakeOnLan: true }));
    await heartbeat(c.client, name, T0);
  }
  for (let hour = 0; hour < 4; hour++) await clock.advance(60 * MIN);
  for (const name of ["pi-1", "pi-2", "pi-3"]) {
    const node = await nodes.get(name);
    assert.equal(nodeStatus(node), "Ready");
    assert.equal(stateOf(node), undefined);
    assert.deepEqual(await eventsAbout(c.client, name), []);
  }
});

Deno.test("PowerController refuses a provider that offers no power management", () => {
  const provider: CloudProvider = {
    name: "bare",
    loadBalancer: () => undefined,
    instances: () => ({
      instanceShutdown: () => false,
      instanceMetadata: () => ({ providerID: "", nodeAddresses: [] }),
    }),
    power: () => undefined,
  };
  assert.throws(() => new PowerController({ provider }), {
    name: "TypeError",
    message: 'Cloud provider "bare" offers no power management',
  });
});
