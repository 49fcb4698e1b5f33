import assert from "node:assert/strict";
import type { Lease, Node } from "@skiff/api";
import { ApiClient } from "@skiff/client";
import { HardwareMonitor } from "../hardware/mod.ts";
import { condition, eventually, type Machine, machineFixture, startTestPlane, type TestPlane } from "./_testing.ts";
import { NodeHeartbeat, type NodeHeartbeatOptions } from "./heartbeat.ts";
import { nodeAddresses } from "./node_address.ts";
import { nodeObject } from "./node_status.ts";
import { registerNode, waitForPodCidr } from "./registration.ts";

const RUNTIME = "fake://0.1.0";

async function registered(t: TestPlane, name: string, machine: Machine, dataDir: string) {
  const fixture = machineFixture(machine);
  const monitor = new HardwareMonitor({ dataDir, clock: t.clock, onError: () => {}, ...fixture.hardware });
  const readings = await monitor.start();
  const client = t.clientWithToken(await t.nodeToken(name));
  const addresses = nodeAddresses("192.168.1.41", name);
  const { node, created } = await registerNode(
    client,
    nodeObject(readings, { name, now: t.clock.now(), addresses, containerRuntimeVersion: RUNTIME }),
  );
  const heartbeat = (options: Partial<NodeHeartbeatOptions> = {}) =>
    new NodeHeartbeat({
      client,
      node,
      monitor,
      addresses,
      containerRuntimeVersion: RUNTIME,
      clock: t.clock,
      log: () => {},
      ...options,
    });
  return {
    fixture,
    monitor,
    client,
    node,
    created,
    heartbeat,
    async [Symbol.asyncDispose]() {
      monitor.stop();
      await fixture[Symbol.asyncDispose]();
    },
  };
}

Deno.test("registerNode() creates the Node with hardware labels, capacity and conditions; the control plane gives it a pod CIDR", async () => {
  await using t = await startTestPlane();
  await using n = await registered(t, "pi-4", "pi4", t.dir);
  assert.equal(n.created, true);
  const labels = n.node.metadata.labels ?? {};
  assert.equal(labels["kubernetes.io/arch"], "arm64");
  assert.equal(labels["kubernetes.io/hostname"], "pi-4");
  assert.equal(labels["hardware.skiff.dev/board"], "raspberry-pi-4-model-b");
  assert.equal(n.node.status?.capacity?.cpu, "4");
  assert.equal(n.node.status?.capacity?.["devices.skiff.dev/serial"], "1");
  assert.equal(n.node.status?.nodeInfo?.containerRuntimeVersion, RUNTIME);
  assert.equal(n.node.status?.daemonEndpoints?.kubeletEndpoint?.Port, 10250);
  assert.equal(condition(n.node, "ThermalPressure")?.status, "True");
  assert.equal(n.node.metadata.annotations?.["hardware.skiff.dev/temperature-celsius"], "81.5");
  const withCidr = await waitForPodCidr(n.client, "pi-4", { clock: t.clock });
  assert.match(withCidr.spec?.podCIDR ?? "", /^10\.42\.\d+\.0\/24$/);
});

Deno.test("registerNode() of a node that exists keeps its uid and pod CIDR and brings labels up to date", async () => {
  await using t = await startTestPlane();
  await using first = await registered(t, "pi-4", "pi4", t.dir);
  const cidr = (await waitForPodCidr(first.client, "pi-4", { clock: t.clock })).spec?.podCIDR;
  await t.admin.kind<Node>("v1", "Node").patch("pi-4", { metadata: { labels: { rack: "top" } } });
  const readings = first.monitor.readings;
  const again = await registerNode(
    first.client,
    nodeObject(readings, {
      name: "pi-4",
      now: t.clock.now(),
      addresses: nodeAddresses("192.168.1.41", "pi-4"),
      containerRuntimeVersion: RUNTIME,
      labels: { "node-role.kubernetes.io/worker": "" },
      taints: [{ key: "dedicated", value: "radio", effect: "NoSchedule" }],
    }),
  );
  assert.equal(again.created, false);
  assert.equal(again.node.metadata.uid, first.node.metadata.uid);
  assert.equal(again.node.spec?.podCIDR, cidr);
  assert.equal(again.node.metadata.labels?.rack, "top");
  assert.equal(again.node.metadata.labels?.["node-role.kubernetes.io/worker"], "");
  assert.deepEqual(again.node.spec?.taints?.find((taint) => taint.key === "dedicated"), {
    key: "dedicated",
    value: "radio",
    effect: "NoSchedule",
  });
});

Deno.test("registerNode() with a token of another node fails saying to use this node's token", async () => {
  await using t = await startTestPlane();
  await using n = await registered(t, "pi-4", "pi4", t.dir);
  const other = t.clientWithToken(await t.nodeToken("pi-5"));
  await assert.rejects(
    registerNode(other, { ...n.node, metadata: { name: "pi-4", labels: { x: "y" } } }),
    (error: Error) => error.name === "NodeCredentialsError" && /token made for this node name/.test(error.message),
  );
});

Deno.test("NodeHeartbeat renews the Lease every 10 s so the node stays Ready; stopped, the node goes Unknown after 40 s", async () => {
  await using t = await startTestPlane();
  await using n = await registered(t, "mini", "minipc", t.dir);
  const heartbeat = n.heartbeat();
  await heartbeat.start();
  const leases = t.admin.kind<Lease>("coordination.k8s.io/v1", "Lease");
  const first = await leases.get("mini", { namespace: "kube-node-lease" });
  assert.equal(first.spec?.holderIdentity, "mini");
  assert.equal(first.spec?.leaseDurationSeconds, 40);
  assert.match(first.spec?.renewTime ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  assert.equal(first.metadata.ownerReferences?.[0]?.uid, n.node.metadata.uid);

  for (let step = 1; step <= 9; step++) {
    await t.clock.advance(10_000);
    await eventually(`renewal ${step}`, () => heartbeat.stats.leaseRenewals >= step + 1);
    const lease = await leases.get("mini", { namespace: "kube-node-lease" });
    assert.equal(Date.parse(lease.spec!.renewTime!), t.clock.now());
  }
  assert.equal(condition(await t.node("mini"), "Ready")?.status, "True");

  await heartbeat.stop();
  const renewals = heartbeat.stats.leaseRenewals;
  for (let step = 0; step < 3; step++) await t.clock.advance(10_000);
  assert.equal(condition(await t.node("mini"), "Ready")?.status, "True");
  await t.clock.advance(15_000);
  const unknown = await eventually("Ready Unknown", async () => {
    const node = await t.node("mini");
    return condition(node, "Ready")?.status === "Unknown" ? node : undefined;
  });
  assert.equal(condition(unknown, "Ready")?.reason, "NodeStatusUnknown");
  assert.equal(heartbeat.stats.leaseRenewals, renewals);
});

Deno.test("NodeHeartbeat writes status every 60 s when only usage changes, and at once when a condition changes", async () => {
  await using t = await startTestPlane();
  await using n = await registered(t, "mini", "minipc", t.dir);
  const heartbeat = n.heartbeat();
  await heartbeat.start();
  try {
    assert.equal(heartbeat.stats.statusReports, 1);
    await t.clock.advance(5_000);
    await n.fixture.busyCpu(250);
    await t.clock.advance(45_000);
    assert.equal(heartbeat.stats.statusReports, 1, "no report before 60 s while nothing but usage changes");
    await n.fixture.busyCpu(100);
    await t.clock.advance(10_000);
    await eventually("the periodic report", () => heartbeat.stats.statusReports >= 2);
    const periodic = await t.node("mini");
    assert.equal(Date.parse(condition(periodic, "Ready")!.lastHeartbeatTime!), Math.floor(t.clock.now() / 1000) * 1000);
    assert.equal(condition(periodic, "ThermalPressure")?.status, "False");
    assert.notEqual(periodic.metadata.annotations?.["hardware.skiff.dev/cpu-usage-percent"], undefined);

    const reports = heartbeat.stats.statusReports;
    await n.fixture.setTemperature(81.5);
    await t.clock.advance(10_000);
    const hot = await eventually("the report of ThermalPressure", async () => {
      const node = await t.node("mini");
      return heartbeat.stats.statusReports > reports && condition(node, "ThermalPressure")?.status === "True" && node;
    });
    assert.equal(condition(hot, "ThermalPressure")?.status, "True");
    assert.equal(condition(hot, "ThermalPressure")?.reason, "TemperatureHigh");
    assert.equal(hot.metadata.annotations?.["hardware.skiff.dev/temperature-celsius"], "81.5");
    assert.equal(condition(hot, "Ready")?.status, "True");
  } finally {
    await heartbeat.stop();
  }
});

Deno.test("NodeHeartbeat.setNotReadyReasons() turns Ready False and back at once", async () => {
  await using t = await startTestPlane();
  await using n = await registered(t, "mini", "minipc", t.dir);
  const heartbeat = n.heartbeat({ notReadyReasons: ["pod network is not ready"] });
  await heartbeat.start();
  try {
    const notReady = condition(await t.node("mini"), "Ready");
    assert.equal(notReady?.status, "False");
    assert.equal(notReady?.message, "pod network is not ready");
    await heartbeat.setNotReadyReasons([]);
    const ready = condition(await t.node("mini"), "Ready");
    assert.equal(ready?.status, "True");
    assert.equal(ready?.reason, "KubeletReady");
  } finally {
    await heartbeat.stop();
  }
});

Deno.test("NodeHeartbeat reports the status as soon as the API server is back after an outage", async () => {
  await using t = await startTestPlane();
  await using n = await registered(t, "mini", "minipc", t.dir);
  const token = await t.nodeToken("mini");
  let down = false;
  const client = new ApiClient({
    server: t.plane.url,
    token,
    transport: (req) => down ? Promise.reject(new TypeError("Connection refused")) : t.plane.handler(req),
  });
  const logs: string[] = [];
  const heartbeat = n.heartbeat({ client, log: (line) => logs.push(line) });
  await heartbeat.start();
  try {
    down = true;
    for (let step = 0; step < 5; step++) await t.clock.advance(10_000);
    await eventually("Ready Unknown", async () => condition(await t.node("mini"), "Ready")?.status === "Unknown");
    assert.ok(logs.some((line) => /^Cannot renew the Lease of node "mini": Cannot reach the API server/.test(line)));
    const reports = heartbeat.stats.statusReports;
    down = false;
    await t.clock.advance(2_000);
    await eventually("the status report after the outage", () => heartbeat.stats.statusReports > reports);
    const ready = condition(await t.node("mini"), "Ready");
    assert.equal(ready?.status, "True");
    assert.equal(ready?.lastTransitionTime, ready?.lastHeartbeatTime, "Unknown to True is a transition");
    assert.ok(logs.includes(`Node "mini" reaches the API server again: reporting its status`));
  } finally {
    await heartbeat.stop();
  }
});

Deno.test("NodeHeartbeat asks its health check at each periodic report and turns Ready False while it complains", async () => {
  await using t = await startTestPlane();
  await using n = await registered(t, "mini", "minipc", t.dir);
  let problems: string[] = [];
  const heartbeat = n.heartbeat({ health: () => Promise.resolve(problems) });
  await heartbeat.start();
  try {
    assert.equal(condition(await t.node("mini"), "Ready")?.status, "True");
    problems = ["container runtime is down: connection refused"];
    await t.clock.advance(60_000);
    await eventually("Ready False", async () => condition(await t.node("mini"), "Ready")?.status === "False");
    assert.equal(condition(await t.node("mini"), "Ready")?.message, "container runtime is down: connection refused");
    problems = [];
    await heartbeat.report();
    assert.equal(condition(await t.node("mini"), "Ready")?.status, "True");
  } finally {
    await heartbeat.stop();
  }
});
