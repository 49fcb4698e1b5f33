import assert from "node:assert/strict";
import { join } from "node:path";
import { type Lease, ManualClock, type NodeMetrics, type Pod, type PodMetrics } from "@skiff/api";
import { type Agent, type AgentOptions, runAgent } from "./agent.ts";
import {
  condition,
  eventually,
  type Machine,
  type MachineFixture,
  machineFixture,
  startTestPlane,
  type TestPlane,
} from "./node/_testing.ts";
import { credentialsPath, loadCredentials, nodeMetricsPath, podMetricsPath } from "./node/mod.ts";
import { FakeRuntime } from "./runtime/mod.ts";

/** Node names of this file's tests, unique on the machine: the pod network cleans up namespaces by node name. */
const suffix = crypto.randomUUID().slice(0, 6);
const PI = `pi-4-${suffix}`;
const MINI = `mini-${suffix}`;

interface Started extends AsyncDisposable {
  agent: Agent;
  fixture: MachineFixture;
  logs: string[];
  runtime: FakeRuntime;
  dataDir: string;
  /** Starts the agent again on the same data directory with `options`. */
  restart(options?: Partial<AgentOptions>): Promise<Agent>;
}

async function start(t: TestPlane, machine: Machine, options: Partial<AgentOptions> = {}): Promise<Started> {
  const fixture = machineFixture(machine);
  const dataDir = await Deno.makeTempDir({ prefix: "skiff-agent-" });
  const runtime = new FakeRuntime({ clock: t.clock, images: ["busybox"] });
  const logs: string[] = [];
  const common = (): AgentOptions => ({
    dataDir,
    runtime,
    // These agents share the test's own network namespace: no routes, nftables table or DNS server there.
    clusterNetwork: false,
    hardware: fixture.hardware,
    clock: t.clock,
    log: (line) => logs.push(line),
    transport: (req) => t.plane.handler(req),
  });
  let agent = await runAgent({ ...common(), ...options });
  return {
    get agent() {
      return agent;
    },
    fixture,
    logs,
    runtime,
    dataDir,
    async restart(again = {}) {
      agent = await runAgent({ ...common(), ...again });
      return agent;
    },
    async [Symbol.asyncDispose]() {
      await agent.stop();
      await fixture[Symbol.asyncDispose]();
      await Deno.remove(dataDir, { recursive: true });
    },
  };
}

Deno.test("runAgent() registers the node with its labels, capacity and pod CIDR, and reports it Ready", async () => {
  await using t = await startTestPlane();
  const token = await t.nodeToken(PI);
  await using s = await start(t, "pi4", {
    server: t.plane.url,
    token,
    caPem: t.plane.pki.caPem,
    nodeName: PI,
    labels: { "node-role.kubernetes.io/control-plane": "" },
  });
  assert.equal(s.agent.nodeName, PI);
  const node = await t.node(PI);
  const labels = node.metadata.labels ?? {};
  assert.equal(labels["kubernetes.io/arch"], "arm64");
  assert.equal(labels["kubernetes.io/hostname"], PI);
  assert.equal(labels["hardware.skiff.dev/board"], "raspberry-pi-4-model-b");
  assert.equal(labels["node-role.kubernetes.io/control-plane"], "");
  assert.equal(node.status?.capacity?.cpu, "4");
  assert.equal(node.status?.allocatable?.cpu, "3900m");
  assert.equal(node.status?.capacity?.["devices.skiff.dev/serial"], "1");
  assert.match(node.spec?.podCIDR ?? "", /^10\.42\.\d+\.0\/24$/);
  assert.equal(s.agent.node.spec?.podCIDR, node.spec?.podCIDR);
  assert.deepEqual(node.status?.addresses, [
    { type: "InternalIP", address: "192.168.1.41" },
    { type: "Hostname", address: Deno.hostname().toLowerCase() },
  ]);
  assert.equal(node.status?.nodeInfo?.containerRuntimeVersion, "fake://0.1.0");
  assert.equal(node.status?.daemonEndpoints?.kubeletEndpoint?.Port, 10250);
  assert.equal(condition(node, "Ready")?.status, "True");
  const thermal = condition(node, "ThermalPressure");
  assert.equal(thermal?.status, "True");
  assert.equal(thermal?.reason, "TemperatureHigh");
  assert.match(thermal?.message ?? "", /81\.5°C/);
  const lease = await t.admin.kind<Lease>("coordination.k8s.io/v1", "Lease").get(PI, {
    namespace: "kube-node-lease",
  });
  assert.equal(lease.spec?.holderIdentity, PI);

  const stored = await loadCredentials(s.dataDir);
  assert.deepEqual(stored, { server: t.plane.url, token, caPem: t.plane.pki.caPem, nodeName: PI });
  assert.equal(((await Deno.stat(credentialsPath(s.dataDir))).mode ?? 0) & 0o777, 0o600);
  for (
    const step of ["Node identity", "Container runtime", "Hardware", "Registered node", "Pod network", "Volume plugins"]
  ) {
    assert.ok(s.logs.some((line) => line.startsWith(step)), `a line about "${step}" in:\n${s.logs.join("\n")}`);
  }
  assert.equal(s.logs.at(-1), `Node "${PI}" is Ready: pods bound to it run here`);
});

Deno.test("runAgent() heartbeats keep the node Ready; once stopped, the node turns Unknown after 40 s", async () => {
  await using t = await startTestPlane();
  await using s = await start(t, "minipc", {
    server: t.plane.url,
    token: await t.nodeToken(MINI),
    nodeName: MINI,
  });
  const leases = t.admin.kind<Lease>("coordination.k8s.io/v1", "Lease");
  for (let step = 1; step <= 12; step++) {
    await t.clock.advance(10_000);
    const now = t.clock.now();
    await eventually(`lease renewal ${step}`, async () => {
      const lease = await leases.get(MINI, { namespace: "kube-node-lease" });
      return Date.parse(lease.spec?.renewTime ?? "") === now;
    });
  }
  const ready = condition(await t.node(MINI), "Ready");
  assert.equal(ready?.status, "True");
  assert.ok(Date.parse(ready!.lastHeartbeatTime!) >= t.clock.now() - 60_000, "status reported within the last minute");

  await s.agent.stop();
  for (let step = 0; step < 3; step++) await t.clock.advance(10_000);
  assert.equal(condition(await t.node(MINI), "Ready")?.status, "True", "still Ready 30 s after the last heartbeat");
  await t.clock.advance(15_000);
  await eventually("Ready Unknown", async () => condition(await t.node(MINI), "Ready")?.status === "Unknown");
});

Deno.test("runAgent() started again with no flags reuses the stored credentials and the same Node", async () => {
  await using t = await startTestPlane();
  await using s = await start(t, "minipc", {
    server: t.plane.url,
    token: await t.nodeToken(MINI),
    nodeName: MINI,
  });
  const before = await t.node(MINI);
  await s.agent.stop();
  const again = await s.restart();
  assert.equal(again.nodeName, MINI);
  const after = await t.node(MINI);
  assert.equal(after.metadata.uid, before.metadata.uid);
  assert.equal(after.spec?.podCIDR, before.spec?.podCIDR);
  assert.ok(s.logs.some((line) => line.startsWith(`Node "${MINI}" was registered before`)), s.logs.join("\n"));
  assert.equal(condition(after, "Ready")?.status, "True");
});

Deno.test("runAgent() runs the pods bound to its node and reports NodeMetrics and PodMetrics", async () => {
  await using t = await startTestPlane();
  await using s = await start(t, "minipc", {
    server: t.plane.url,
    token: await t.nodeToken(MINI),
    nodeName: MINI,
  });
  const pods = t.admin.kind<Pod>("v1", "Pod");
  await pods.create({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "web", namespace: "default" },
    spec: { nodeName: MINI, hostNetwork: true, containers: [{ name: "app", image: "busybox" }] },
  });
  await eventually(
    "the pod Running",
    async () => (await pods.get("web", { namespace: "default" })).status?.phase === "Running",
  );
  assert.equal(s.runtime.size, 1);

  for (let step = 0; step < 9; step++) {
    await s.fixture.busyCpu(50);
    await t.clock.advance(5_000);
  }
  const node = await eventually(
    "NodeMetrics",
    () => t.admin.json<NodeMetrics>("GET", nodeMetricsPath(MINI)).catch(() => undefined),
  );
  assert.equal(node.metadata.name, MINI);
  const pod = await eventually(
    "PodMetrics",
    () => t.admin.json<PodMetrics>("GET", podMetricsPath("default", "web")).catch(() => undefined),
  );
  assert.equal(pod.containers[0]?.name, "app");
  assert.equal(pod.containers[0]?.usage.memory, "4Mi");
});

Deno.test("runAgent() without a server or token says which flags to pass", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "skiff-agent-" });
  try {
    await assert.rejects(
      runAgent({ dataDir, runtime: new FakeRuntime(), log: () => {} }),
      (error: Error) => {
        assert.equal(error.name, "AgentStartError");
        assert.match(error.message, /pass --server URL and --token TOKEN the first time/);
        assert.ok(error.message.includes(join(dataDir, "agent", "credentials.json")));
        return true;
      },
    );
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("runAgent() with a token the server does not know fails, stores nothing and leaves nothing running", async () => {
  await using t = await startTestPlane();
  const fixture = machineFixture("minipc");
  const dataDir = await Deno.makeTempDir({ prefix: "skiff-agent-" });
  try {
    const clock = new ManualClock();
    await assert.rejects(
      runAgent({
        server: t.plane.url,
        token: "abcdef.0123456789abcdef",
        nodeName: MINI,
        dataDir,
        runtime: new FakeRuntime(),
        hardware: fixture.hardware,
        clock,
        log: () => {},
        transport: (req) => t.plane.handler(req),
      }),
      /refused the node's token.*pass it with --token/,
    );
    assert.equal(await loadCredentials(dataDir), undefined);
    assert.equal(clock.pending, 0, "no timer of the agent is left");
  } finally {
    await fixture[Symbol.asyncDispose]();
    await Deno.remove(dataDir, { recursive: true });
  }
});
