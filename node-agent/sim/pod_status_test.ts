import assert from "node:assert/strict";
import type { Pod } from "@skiff/api";
import type { ContainerInfo } from "../runtime/mod.ts";
import { type ContainerRun, simulatedPodStatus } from "./pod_status.ts";

const T0 = Date.UTC(2026, 0, 1);
const pod = (restartPolicy: "Always" | "Never" = "Always", conditions: Pod["status"] = {}): Pod => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "p", namespace: "default" },
  spec: { containers: [{ name: "app", image: "busybox" }], restartPolicy },
  status: conditions,
});
const info = (state: ContainerInfo["state"], exitCode?: number): ContainerInfo => ({
  id: `c-${state}-${exitCode}`,
  image: "docker.io/library/busybox:latest",
  imageId: "sha256:abc",
  labels: {},
  state,
  createdAt: T0,
  startedAt: T0,
  ...(state === "exited" ? { finishedAt: T0 + 5000, exitCode, reason: exitCode === 0 ? "Completed" : "Error" } : {}),
  oomKilled: false,
});
const run = (extra: Partial<ContainerRun>): ContainerRun => ({
  name: "app",
  image: "busybox",
  restartCount: 0,
  ...extra,
});
const inputs = (containers: ContainerRun[], init: ContainerRun[] = []) => ({
  init,
  containers,
  podIP: "10.42.0.5",
  hostIP: "172.16.0.1",
  startTime: T0,
  now: T0 + 10_000,
});
const conditions = (p: { conditions?: { type: string; status: string }[] }) =>
  Object.fromEntries(p.conditions!.map((c) => [c.type, c.status]));

Deno.test("simulatedPodStatus() reports running containers as a Running, Ready pod", () => {
  const s = simulatedPodStatus(pod(), inputs([run({ current: info("running") })]));
  assert.equal(s.phase, "Running");
  assert.deepEqual(conditions(s), {
    PodScheduled: "True",
    Initialized: "True",
    ContainersReady: "True",
    Ready: "True",
  });
  assert.deepEqual(s.podIPs, [{ ip: "10.42.0.5" }]);
  assert.equal(s.containerStatuses![0]!.state!.running!.startedAt, "2026-01-01T00:00:00Z");
  assert.equal(s.containerStatuses![0]!.containerID, "fake://c-running-undefined");
});

Deno.test("simulatedPodStatus() reports a pod whose containers are being created as Pending", () => {
  const s = simulatedPodStatus(pod(), inputs([run({})]));
  assert.equal(s.phase, "Pending");
  assert.equal(s.containerStatuses![0]!.state!.waiting!.reason, "ContainerCreating");
  assert.equal(conditions(s).Ready, "False");
});

Deno.test("simulatedPodStatus() gives Succeeded or Failed once every container of a Never pod exited", () => {
  assert.equal(simulatedPodStatus(pod("Never"), inputs([run({ current: info("exited", 0) })])).phase, "Succeeded");
  const failed = simulatedPodStatus(pod("Never"), inputs([run({ current: info("exited", 2) })]));
  assert.equal(failed.phase, "Failed");
  assert.equal(failed.containerStatuses![0]!.state!.terminated!.exitCode, 2);
});

Deno.test("simulatedPodStatus() shows a crash-looping container waiting with its last exit", () => {
  const exited = info("exited", 1);
  const s = simulatedPodStatus(
    pod(),
    inputs([run({ current: exited, previous: exited, waiting: { reason: "CrashLoopBackOff" }, restartCount: 0 })]),
  );
  assert.equal(s.phase, "Running");
  assert.equal(s.containerStatuses![0]!.state!.waiting!.reason, "CrashLoopBackOff");
  assert.equal(s.containerStatuses![0]!.lastState!.terminated!.exitCode, 1);
  assert.equal(conditions(s).Ready, "False");
});

Deno.test("simulatedPodStatus() keeps a pod Pending until its init containers complete", () => {
  const s = simulatedPodStatus(pod(), inputs([run({})], [run({ name: "init", current: info("running") })]));
  assert.equal(s.phase, "Pending");
  assert.equal(conditions(s).Initialized, "False");
  assert.equal(s.initContainerStatuses!.length, 1);
});

Deno.test("simulatedPodStatus() keeps a condition's transition time while its status holds", () => {
  const before = pod("Always", {
    conditions: [{ type: "Ready", status: "True", lastTransitionTime: "2025-12-31T00:00:00Z" }],
  });
  const s = simulatedPodStatus(before, inputs([run({ current: info("running") })]));
  assert.equal(s.conditions!.find((c) => c.type === "Ready")!.lastTransitionTime, "2025-12-31T00:00:00Z");
  assert.equal(s.conditions!.find((c) => c.type === "Initialized")!.lastTransitionTime, "2026-01-01T00:00:10Z");
});
