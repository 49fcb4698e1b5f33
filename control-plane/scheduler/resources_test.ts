import assert from "node:assert/strict";
import type { Pod } from "@skiff/api";
import { nodeAllocatable, podRequests } from "./resources.ts";

const pod = (spec: Partial<Pod["spec"] & object>): Pod => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "p" },
  spec: { containers: [], ...spec },
});
const ctr = (name: string, requests?: Record<string, string>, sidecar = false) => ({
  name,
  ...(requests ? { resources: { requests } } : {}),
  ...(sidecar ? { restartPolicy: "Always" as const } : {}),
});

Deno.test("podRequests() sums containers and takes the larger of that and the biggest init container", () => {
  const r = podRequests(pod({
    containers: [ctr("a", { cpu: "100m", memory: "64Mi" }), ctr("b", { cpu: "200m", memory: "64Mi" })],
    initContainers: [ctr("init", { cpu: "1", memory: "32Mi" })],
  }));
  assert.equal(r.requests.milliCpu, 1000);
  assert.equal(r.requests.memory, 128 * 1024 * 1024);
});

Deno.test("podRequests() adds sidecars to the containers and to every later init container", () => {
  const r = podRequests(pod({
    initContainers: [ctr("proxy", { cpu: "100m" }, true), ctr("migrate", { cpu: "500m" })],
    containers: [ctr("app", { cpu: "200m" })],
    overhead: { cpu: "10m" },
  }));
  assert.equal(r.requests.milliCpu, 610);
});

Deno.test("podRequests() counts containers without requests as 100m and 200Mi for scoring only", () => {
  const r = podRequests(pod({ containers: [ctr("a"), ctr("b", { "devices.skiff.dev/serial": "1" })] }));
  assert.equal(r.requests.milliCpu, 0);
  assert.equal(r.nonZeroMilliCpu, 200);
  assert.equal(r.nonZeroMemory, 400 * 1024 * 1024);
  assert.equal(r.requests.scalar?.get("devices.skiff.dev/serial"), 1);
});

Deno.test("nodeAllocatable() reads allocatable, falling back to capacity", () => {
  const a = nodeAllocatable({ capacity: { cpu: "2", memory: "1Gi", pods: "10", "devices.skiff.dev/gpio": "1" } });
  assert.deepEqual([a.resources.milliCpu, a.resources.memory, a.pods], [2000, 1024 ** 3, 10]);
  assert.equal(a.resources.scalar?.get("devices.skiff.dev/gpio"), 1);
  assert.equal(nodeAllocatable(undefined).pods, 0);
});
