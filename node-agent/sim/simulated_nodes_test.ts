import assert from "node:assert/strict";
import { type Lease, ManualClock, type Node, type Pod } from "@skiff/api";
import { ApiClient } from "@skiff/client";
import { startControlPlane, SYSTEM_USER } from "../../control-plane/mod.ts";
import { runSimulatedNodes, type SimulatedNodes, type SimulatedNodesOptions } from "./simulated_nodes.ts";

async function start(options: Omit<SimulatedNodesOptions, "client" | "clock">) {
  const dir = await Deno.makeTempDir({ prefix: "skiff-sim-" });
  const plane = await startControlPlane({ dataDir: dir, port: 0, bind: "127.0.0.1", log: () => {} });
  const client = new ApiClient({ server: "https://in-process", transport: plane.handler.as(SYSTEM_USER) });
  const clock = new ManualClock(Date.now());
  const sim = await runSimulatedNodes({ client, clock, log: () => {}, ...options });
  return {
    client,
    clock,
    sim,
    nodes: client.kind<Node>("v1", "Node"),
    pods: client.kind<Pod>("v1", "Pod"),
    leases: client.kind<Lease>("coordination.k8s.io/v1", "Lease"),
    async [Symbol.asyncDispose]() {
      await sim.stop();
      await plane.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Moves the clock one heartbeat tick (1 s) at a time, waiting after each
 * until the nodes' requests have finished: a renewal still in flight at
 * the next tick would be put off, and the counts would depend on timing.
 */
async function advanceSettled(c: { clock: ManualClock; sim: SimulatedNodes }, ms: number): Promise<void> {
  for (let done = 0; done < ms; done += 1000) {
    await c.clock.advance(Math.min(1000, ms - done));
    await eventually("the simulated nodes' requests", () => Promise.resolve(c.sim.inFlight === 0));
  }
}

const pod = (name: string, annotations: Record<string, string> = {}, restartPolicy = "Always"): Pod => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace: "default", annotations },
  spec: { containers: [{ name: "app", image: "busybox" }], restartPolicy: restartPolicy as "Always" },
});

Deno.test("runSimulatedNodes() registers nodes with capacity, labels, hardware readings and a Lease", async () => {
  await using c = await start({
    nodes: 2,
    namePrefix: "pi-",
    arch: "arm64",
    capacity: { cpu: "4", memory: "4Gi", pods: 20 },
    labels: { rack: "shelf" },
    temperatureCelsius: 52,
    devices: { gpio: 1 },
  });
  assert.deepEqual(c.sim.names, ["pi-0", "pi-1"]);
  const node = await c.nodes.get("pi-1");
  assert.equal(node.metadata.labels?.["kubernetes.io/arch"], "arm64");
  assert.equal(node.metadata.labels?.["kubernetes.io/hostname"], "pi-1");
  assert.equal(node.metadata.labels?.["kubernetes.io/os"], "linux");
  assert.equal(node.metadata.labels?.rack, "shelf");
  assert.equal(node.metadata.labels?.["hardware.skiff.dev/simulated"], "true");
  assert.equal(node.metadata.annotations?.["hardware.skiff.dev/temperature-celsius"], "52");
  assert.deepEqual(node.status?.allocatable, {
    cpu: "4",
    memory: "4Gi",
    pods: "20",
    "ephemeral-storage": "64Gi",
    "devices.skiff.dev/gpio": "1",
  });
  const ready = node.status?.conditions?.find((cond) => cond.type === "Ready");
  assert.equal(ready?.status, "True");
  assert.ok(ready?.lastHeartbeatTime);
  assert.equal(node.status?.nodeInfo?.architecture, "arm64");
  const lease = await c.leases.get("pi-1", { namespace: "kube-node-lease" });
  assert.equal(lease.spec?.holderIdentity, "pi-1");
  assert.match(lease.spec!.renewTime!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
});

Deno.test("Simulated nodes renew their Leases every heartbeat until their heartbeats are stopped", async () => {
  await using c = await start({ nodes: 2, heartbeatSeconds: 10 });
  const renewTime = async (name: string) =>
    (await c.leases.get(name, { namespace: "kube-node-lease" })).spec!.renewTime!;
  const before = [await renewTime("sim-node-0"), await renewTime("sim-node-1")];
  c.sim.stopHeartbeats(["sim-node-1"]);
  await c.clock.advance(10_000);
  await eventually("a renewed lease", async () => (await renewTime("sim-node-0")) !== before[0]);
  assert.equal(await renewTime("sim-node-1"), before[1]);
  c.sim.resumeHeartbeats(["sim-node-1"]);
  await c.clock.advance(1000);
  await eventually("the resumed node's renewal", async () => (await renewTime("sim-node-1")) !== before[1]);
});

Deno.test("Simulated nodes report full status once per statusReportSeconds, Leases every heartbeat", async () => {
  await using c = await start({ nodes: 3, heartbeatSeconds: 10, statusReportSeconds: 60 });
  const { statusReports, leaseRenewals } = c.sim.stats;
  await advanceSettled(c, 60_000);
  assert.equal(c.sim.stats.statusReports, statusReports + 3, "a status report per node");
  assert.equal(c.sim.stats.leaseRenewals, leaseRenewals + 18, "six renewals per node");
  await advanceSettled(c, 60_000);
  assert.equal(c.sim.stats.statusReports, statusReports + 6, "a second status report per node");
  assert.equal(c.sim.stats.leaseRenewals, leaseRenewals + 36, "six more renewals per node");
});

Deno.test("A simulated node runs a pod bound to it and reports it Running and Ready", async () => {
  await using c = await start({ nodes: 2 });
  await c.pods.create(pod("web"));
  await c.pods.bind("web", "sim-node-1", { namespace: "default" });
  const running = await eventually("a running pod", async () => {
    const p = await c.pods.get("web", { namespace: "default" });
    return p.status?.phase === "Running" && p;
  });
  const status = running.status!;
  assert.deepEqual(status.conditions!.map((x) => [x.type, x.status]), [
    ["PodScheduled", "True"],
    ["Initialized", "True"],
    ["ContainersReady", "True"],
    ["Ready", "True"],
  ]);
  assert.match(status.podIP!, /^100\.64\.1\.\d+$/);
  assert.equal(status.hostIP, "172.16.0.2");
  assert.ok(status.startTime);
  const [container] = status.containerStatuses!;
  assert.equal(container!.ready, true);
  assert.ok(container!.state?.running?.startedAt);
  assert.match(container!.containerID!, /^fake:\/\//);
  assert.equal(c.sim.stats.running, 1);
  assert.equal((await c.sim.runtime("sim-node-1").listContainers({ states: ["running"] })).length, 1);
});

Deno.test("A simulated node takes pod addresses from the range the control plane assigned it", async () => {
  await using c = await start({ nodes: 1 });
  await c.nodes.patch("sim-node-0", { spec: { podCIDR: "10.42.7.0/24", podCIDRs: ["10.42.7.0/24"] } });
  // The check reads the Node; a pod handled before that read returns would take an address from 100.64.0.0/10.
  await advanceSettled(c, 2000);
  await c.pods.create(pod("web"));
  await c.pods.bind("web", "sim-node-0", { namespace: "default" });
  const running = await eventually("a running pod", async () => {
    const p = await c.pods.get("web", { namespace: "default" });
    return p.status?.phase === "Running" && p;
  });
  assert.match(running.status!.podIP!, /^10\.42\.7\.\d+$/);
});

Deno.test("A simulated node stops a deleted pod's containers and removes the pod", async () => {
  await using c = await start({ nodes: 1 });
  await c.pods.create(pod("web"));
  await c.pods.bind("web", "sim-node-0", { namespace: "default" });
  await eventually("a running pod", () => Promise.resolve(c.sim.stats.running === 1));
  await c.pods.delete("web", { namespace: "default" });
  await eventually("the pod gone", async () => (await c.pods.list({ namespace: "default" })).items.length === 0);
  await eventually("no containers", async () => (await c.sim.runtime("sim-node-0").listContainers()).length === 0);
  assert.equal(c.sim.stats.running, 0);
});

Deno.test("A simulated container exits as its pod's annotations say and the pod fails", async () => {
  await using c = await start({ nodes: 1 });
  await c.pods.create(pod("job", { "sim.skiff.dev/exit-after-seconds": "5", "sim.skiff.dev/exit-code": "3" }, "Never"));
  await c.pods.bind("job", "sim-node-0", { namespace: "default" });
  await eventually("a running pod", () => Promise.resolve(c.sim.stats.running === 1));
  await c.clock.advance(5000);
  const failed = await eventually("a failed pod", async () => {
    const p = await c.pods.get("job", { namespace: "default" });
    return p.status?.phase === "Failed" && p;
  });
  const terminated = failed.status!.containerStatuses![0]!.state!.terminated!;
  assert.deepEqual([terminated.exitCode, terminated.reason], [3, "Error"]);
});

Deno.test("A simulated OOM-killed container is restarted after the kubelet's back-off", async () => {
  await using c = await start({ nodes: 1 });
  await c.pods.create(pod("hog", { "sim.skiff.dev/oom-after-seconds": "1" }));
  await c.pods.bind("hog", "sim-node-0", { namespace: "default" });
  await eventually("a running pod", () => Promise.resolve(c.sim.stats.running === 1));
  await c.clock.advance(1000);
  const backingOff = await eventually("CrashLoopBackOff", async () => {
    const p = await c.pods.get("hog", { namespace: "default" });
    return p.status?.containerStatuses?.[0]?.state?.waiting?.reason === "CrashLoopBackOff" && p;
  });
  assert.equal(backingOff.status!.containerStatuses![0]!.lastState?.terminated?.reason, "OOMKilled");
  await c.clock.advance(10_000);
  const restarted = await eventually("a restarted container", async () => {
    const p = await c.pods.get("hog", { namespace: "default" });
    const s = p.status?.containerStatuses?.[0];
    return s?.restartCount === 1 && s.state?.running && p;
  });
  assert.equal(restarted.status!.conditions!.find((x) => x.type === "Ready")?.status, "True");
});

Deno.test("SimulatedNodes.setTemperature() and setDevices() change what a node reports", async () => {
  await using c = await start({ nodes: 1 });
  await c.sim.setTemperature("sim-node-0", 85, { throttled: true });
  await c.sim.setDevices("sim-node-0", { serial: 2 });
  const node = await c.nodes.get("sim-node-0");
  assert.equal(node.metadata.annotations?.["hardware.skiff.dev/temperature-celsius"], "85");
  assert.equal(node.metadata.annotations?.["hardware.skiff.dev/throttled"], "true");
  assert.equal(node.status?.conditions?.find((x) => x.type === "ThermalPressure")?.status, "True");
  assert.equal(node.status?.allocatable?.["devices.skiff.dev/serial"], "2");
  await c.sim.setDevices("sim-node-0", { serial: 0 });
  assert.equal((await c.nodes.get("sim-node-0")).status?.allocatable?.["devices.skiff.dev/serial"], undefined);
  assert.throws(() => c.sim.stopHeartbeats(["nope"]), /No simulated node is named "nope"/);
});
