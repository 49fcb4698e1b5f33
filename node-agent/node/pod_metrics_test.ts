import assert from "node:assert/strict";
import { podMetrics } from "./pod_metrics.ts";

const at = Date.UTC(2026, 0, 1, 12, 0, 0, 400);

Deno.test("podMetrics() reports containers with a CPU window as metrics-server does", () => {
  const metrics = podMetrics({
    namespace: "default",
    name: "web",
    containers: [
      { name: "app", timestamp: at, cpuMillicores: 12.5, windowMs: 15_000, memoryWorkingSetBytes: 4 * 1024 * 1024 },
      { name: "sidecar", timestamp: at, memoryWorkingSetBytes: 1024 },
    ],
  });
  assert.deepEqual(metrics, {
    apiVersion: "metrics.k8s.io/v1beta1",
    kind: "PodMetrics",
    metadata: { name: "web", namespace: "default", creationTimestamp: "2026-01-01T12:00:00Z" },
    timestamp: "2026-01-01T12:00:00Z",
    window: "15s",
    containers: [{ name: "app", usage: { cpu: "12500u", memory: "4Mi" } }],
  });
});

Deno.test("podMetrics() of a pod whose containers have no CPU window yet is null", () => {
  assert.equal(
    podMetrics({
      namespace: "default",
      name: "web",
      containers: [{ name: "app", timestamp: at, memoryWorkingSetBytes: 1 }],
    }),
    null,
  );
});
