import assert from "node:assert/strict";
import { fixtureReadings } from "./_testdata.ts";
import { nodeMetrics } from "./node_metrics.ts";

Deno.test("nodeMetrics() gives NodeMetrics with nanocores and the working set in Ki", async () => {
  const readings = await fixtureReadings("pi4");
  const sampledAt = Date.UTC(2026, 0, 1, 12, 0, 5, 250);
  const metrics = nodeMetrics({
    ...readings,
    cpu: { ...readings.cpu, sampledAt, usage: { percent: 3.0864, nanocores: 123_456_789, windowMs: 5_003 } },
  }, { nodeName: "pi-4" });
  assert.deepEqual(metrics, {
    apiVersion: "metrics.k8s.io/v1beta1",
    kind: "NodeMetrics",
    metadata: { name: "pi-4", creationTimestamp: "2026-01-01T12:00:05Z" },
    timestamp: "2026-01-01T12:00:05Z",
    window: "5.003s",
    usage: { cpu: "123456789n", memory: `${3885312 - 2967220}Ki` },
  });
});

Deno.test("nodeMetrics() prints whole millicores as Kubernetes does", async () => {
  const readings = await fixtureReadings("minipc");
  const metrics = nodeMetrics({
    ...readings,
    cpu: { ...readings.cpu, usage: { percent: 6.25, nanocores: 250_000_000, windowMs: 10_000 } },
  }, { nodeName: "nuc" });
  assert.equal(metrics?.usage.cpu, "250m");
  assert.equal(metrics?.window, "10s");
});

Deno.test("nodeMetrics() is null before CPU usage has a window and needs a node name", async () => {
  const readings = await fixtureReadings("pi4");
  assert.equal(nodeMetrics(readings, { nodeName: "pi-4" }), null);
  assert.throws(() => nodeMetrics(readings, { nodeName: "" }), /Invalid option "nodeName"/);
});
