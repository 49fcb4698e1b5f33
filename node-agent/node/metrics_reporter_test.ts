import assert from "node:assert/strict";
import type { NodeMetrics, Pod, PodMetrics } from "@skiff/api";
import { findKubectl, findProgram } from "../../test/support/mod.ts";
import { HardwareMonitor } from "../hardware/mod.ts";
import { eventually, machineFixture, startTestPlane } from "./_testing.ts";
import { MetricsReporter, nodeMetricsPath, podMetricsPath } from "./metrics_reporter.ts";
import { nodeAddresses } from "./node_address.ts";
import { nodeObject } from "./node_status.ts";
import { registerNode } from "./registration.ts";

async function setup() {
  const t = await startTestPlane();
  const fixture = machineFixture("minipc");
  const monitor = new HardwareMonitor({ dataDir: t.dir, clock: t.clock, onError: () => {}, ...fixture.hardware });
  const readings = await monitor.start();
  const client = t.clientWithToken(await t.nodeToken("mini"));
  await registerNode(
    client,
    nodeObject(readings, {
      name: "mini",
      now: t.clock.now(),
      addresses: nodeAddresses("192.168.1.10", "mini"),
      containerRuntimeVersion: "fake://0.1.0",
    }),
  );
  const pods = t.admin.kind<Pod>("v1", "Pod");
  for (const [name, nodeName] of [["web", "mini"], ["elsewhere", "other"]]) {
    await pods.create({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: "default" },
      spec: { nodeName, containers: [{ name: "app", image: "busybox" }] },
    });
  }
  return {
    t,
    fixture,
    monitor,
    client,
    async [Symbol.asyncDispose]() {
      monitor.stop();
      await fixture[Symbol.asyncDispose]();
      await t[Symbol.asyncDispose]();
    },
  };
}

function podMetrics(name: string, cpu: string): PodMetrics {
  return {
    metadata: { name, namespace: "default" },
    timestamp: "2026-01-01T00:00:00Z",
    window: "15s",
    containers: [{ name: "app", usage: { cpu, memory: "4Mi" } }],
  };
}

Deno.test("MetricsReporter puts NodeMetrics and the PodMetrics of pods on the node, which the API serves", async () => {
  await using s = await setup();
  let cpu = "1m";
  await s.fixture.busyCpu(200);
  await s.t.clock.advance(5_000);
  // The CPU reading the advance started reads /proc: on a loaded machine it may end after advance() returns.
  await eventually("a CPU usage reading", () => s.monitor.readings.cpu.usage !== null);
  const sampled = s.monitor.readings;
  const reporter = new MetricsReporter({
    client: s.client,
    nodeName: "mini",
    readings: () => sampled,
    podMetrics: () => Promise.resolve([podMetrics("web", cpu), podMetrics("elsewhere", "5m")]),
    clock: s.t.clock,
    log: (line) => assert.fail(`Unexpected problem: ${line}`),
  });
  reporter.start();
  try {
    await reporter.stop();
    assert.deepEqual(reporter.stats, { nodeReports: 1, podReports: 1 });
    const node = await s.t.admin.json<NodeMetrics>("GET", nodeMetricsPath("mini"));
    assert.equal(node.kind, "NodeMetrics");
    assert.equal(node.window, "5s");
    assert.equal(node.usage.cpu, "4", "the fixture counted only busy time: all 4 cores");
    assert.match(node.usage.memory ?? "", /^\d+Ki$/);
    const pod = await s.t.admin.json<PodMetrics>("GET", podMetricsPath("default", "web"));
    assert.equal(pod.containers[0]?.usage.cpu, "1m");

    cpu = "2m";
    reporter.start();
    await eventually("the first report", () => reporter.stats.podReports === 2);
    await s.t.clock.advance(15_000);
    await eventually("the report 15 s later", () => reporter.stats.podReports === 3);
    await reporter.stop();
    assert.deepEqual(reporter.stats, { nodeReports: 3, podReports: 3 });
    const again = await s.t.admin.json<PodMetrics>("GET", podMetricsPath("default", "web"));
    assert.equal(again.containers[0]?.usage.cpu, "2m");
  } finally {
    await reporter.stop();
  }
});

const hasKubectl = findProgram("kubectl") !== undefined || findProgram("apt-get") !== undefined;

Deno.test({
  name: "MetricsReporter's NodeMetrics show in kubectl top nodes",
  ignore: !hasKubectl,
  fn: async () => {
    await using s = await setup();
    const reporter = new MetricsReporter({
      client: s.client,
      nodeName: "mini",
      readings: () => s.monitor.readings,
      clock: s.t.clock,
      log: (line) => assert.fail(`Unexpected problem: ${line}`),
    });
    await s.fixture.busyCpu(200);
    await s.t.clock.advance(5_000);
    await eventually("a CPU usage reading", () => s.monitor.readings.cpu.usage !== null);
    await reporter.report();
    const kubectl = await findKubectl();
    const output = await new Deno.Command(kubectl, {
      args: ["--kubeconfig", s.t.plane.kubeconfigPath, "top", "nodes", "--no-headers"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, stderr);
    const line = new TextDecoder().decode(output.stdout).trim();
    assert.match(line, /^mini\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%$/);
  },
});
