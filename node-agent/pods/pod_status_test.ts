import assert from "node:assert/strict";
import type { Container, Pod } from "@skiff/api";
import { type ContainerInfo, containerLabels } from "../runtime/mod.ts";
import { computePodStatus, type PodStatusInput, rfc3339, runsOf } from "./pod_status.ts";

const UID = "0c5d8e5f-8c1a-4a43-9d39-1f2a0c3b4d5e";
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

function pod(spec: Partial<Pod["spec"]> & { containers?: Container[] } = {}, status: Pod["status"] = {}): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "web", namespace: "default", uid: UID },
    spec: { containers: [{ name: "app", image: "busybox" }], restartPolicy: "Always", ...spec },
    status,
  };
}

function run(name: string, restartCount: number, fields: Partial<ContainerInfo>): ContainerInfo {
  return {
    id: `${UID}_${name}_${restartCount}`,
    image: "docker.io/library/busybox:latest",
    imageId: "sha256:abc",
    labels: containerLabels({
      podUid: UID,
      podNamespace: "default",
      podName: "web",
      containerName: name,
      restartCount,
    }),
    state: "running",
    createdAt: T0 + restartCount,
    startedAt: T0 + 1000,
    oomKilled: false,
    ...fields,
  };
}

function exited(name: string, restartCount: number, exitCode: number, extra: Partial<ContainerInfo> = {}) {
  return run(name, restartCount, {
    state: "exited",
    exitCode,
    reason: exitCode === 0 ? "Completed" : "Error",
    finishedAt: T0 + 5000,
    ...extra,
  });
}

function input(p: Pod, fields: Partial<PodStatusInput> = {}): PodStatusInput {
  return {
    pod: p,
    containers: [],
    podIPs: ["10.42.0.7"],
    hostIPs: ["192.168.1.10"],
    startTime: T0,
    now: T0 + 10_000,
    runtimeName: "containerd",
    ...fields,
  };
}

const condition = (status: ReturnType<typeof computePodStatus>, type: string) =>
  status.conditions?.find((c) => c.type === type);

Deno.test("computePodStatus() of a pod with nothing created yet: Pending, ContainerCreating, not ready", () => {
  const status = computePodStatus(input(pod(), { podIPs: [] }));
  assert.equal(status.phase, "Pending");
  assert.deepEqual(status.containerStatuses, [{
    name: "app",
    state: { waiting: { reason: "ContainerCreating" } },
    lastState: {},
    ready: false,
    restartCount: 0,
    image: "busybox",
    imageID: "",
    started: false,
  }]);
  assert.equal(status.podIP, undefined);
  assert.equal(status.hostIP, "192.168.1.10");
  assert.deepEqual(status.hostIPs, [{ ip: "192.168.1.10" }]);
  assert.equal(status.startTime, rfc3339(T0));
  assert.equal(status.qosClass, "BestEffort");
  assert.deepEqual(condition(status, "PodScheduled")?.status, "True");
  assert.deepEqual(condition(status, "Initialized")?.status, "True");
  assert.deepEqual(condition(status, "ContainersReady"), {
    type: "ContainersReady",
    status: "False",
    lastProbeTime: null,
    lastTransitionTime: rfc3339(T0 + 10_000),
    reason: "ContainersNotReady",
    message: "containers with unready status: [app]",
  });
});

Deno.test("computePodStatus() of a running container without probes: Running and Ready, with ids and addresses", () => {
  const status = computePodStatus(input(pod(), { containers: [run("app", 0, {})] }));
  assert.equal(status.phase, "Running");
  assert.deepEqual(status.containerStatuses?.[0], {
    name: "app",
    state: { running: { startedAt: rfc3339(T0 + 1000) } },
    lastState: {},
    ready: true,
    restartCount: 0,
    image: "docker.io/library/busybox:latest",
    imageID: "sha256:abc",
    containerID: `containerd://${UID}_app_0`,
    started: true,
  });
  assert.equal(status.podIP, "10.42.0.7");
  assert.deepEqual(status.podIPs, [{ ip: "10.42.0.7" }]);
  assert.equal(condition(status, "Ready")?.status, "True");
  assert.equal(condition(status, "ContainersReady")?.status, "True");
});

Deno.test("computePodStatus() makes readiness wait for the readiness probe and started for the startup probe", () => {
  const probed = pod({
    containers: [{
      name: "app",
      image: "busybox",
      readinessProbe: { exec: { command: ["true"] } },
      startupProbe: { exec: { command: ["true"] } },
    }],
  });
  const id = `${UID}_app_0`;
  const containers = [run("app", 0, {})];
  let s = computePodStatus(input(probed, { containers }));
  assert.deepEqual([s.containerStatuses?.[0]?.started, s.containerStatuses?.[0]?.ready], [false, false]);
  s = computePodStatus(input(probed, { containers, started: new Map([[id, true]]) }));
  assert.deepEqual([s.containerStatuses?.[0]?.started, s.containerStatuses?.[0]?.ready], [true, false]);
  s = computePodStatus(input(probed, { containers, started: new Map([[id, true]]), ready: new Map([[id, true]]) }));
  assert.deepEqual([s.containerStatuses?.[0]?.started, s.containerStatuses?.[0]?.ready], [true, true]);
  assert.equal(condition(s, "Ready")?.status, "True");
  assert.equal(s.phase, "Running");
});

Deno.test("computePodStatus() shows a crash loop: waiting CrashLoopBackOff, the crash in lastState, Running phase", () => {
  const message = `back-off 20s restarting failed container=app pod=web_default(${UID})`;
  const status = computePodStatus(input(pod(), {
    containers: [exited("app", 1, 1), exited("app", 2, 1, { finishedAt: T0 + 8000 })],
    waiting: new Map([["app", { reason: "CrashLoopBackOff", message }]]),
  }));
  assert.equal(status.phase, "Running");
  const s = status.containerStatuses![0]!;
  assert.deepEqual(s.state, { waiting: { reason: "CrashLoopBackOff", message } });
  assert.deepEqual(s.lastState, {
    terminated: {
      exitCode: 1,
      reason: "Error",
      startedAt: rfc3339(T0 + 1000),
      finishedAt: rfc3339(T0 + 8000),
      containerID: `containerd://${UID}_app_2`,
    },
  });
  assert.equal(s.restartCount, 2);
  assert.equal(s.containerID, `containerd://${UID}_app_2`);
  assert.equal(s.ready, false);
});

Deno.test("computePodStatus() after a restart shows the new run and the previous one in lastState", () => {
  const status = computePodStatus(input(pod(), {
    containers: [exited("app", 0, 137, { reason: "OOMKilled", oomKilled: true }), run("app", 1, {})],
  }));
  const s = status.containerStatuses![0]!;
  assert.ok(s.state?.running);
  assert.equal(s.lastState?.terminated?.reason, "OOMKilled");
  assert.equal(s.lastState?.terminated?.exitCode, 137);
  assert.equal(s.restartCount, 1);
});

Deno.test("computePodStatus() with restartPolicy Never or OnFailure ends Succeeded or Failed", () => {
  const never = pod({ restartPolicy: "Never" });
  const ok = computePodStatus(input(never, { containers: [exited("app", 0, 0)] }));
  assert.equal(ok.phase, "Succeeded");
  assert.deepEqual(ok.containerStatuses?.[0]?.state?.terminated?.reason, "Completed");
  assert.deepEqual([condition(ok, "Ready")?.status, condition(ok, "Ready")?.reason], ["False", "PodCompleted"]);
  assert.deepEqual([condition(ok, "Initialized")?.status, condition(ok, "Initialized")?.reason], [
    "True",
    "PodCompleted",
  ]);
  assert.equal(computePodStatus(input(never, { containers: [exited("app", 0, 2)] })).phase, "Failed");
  const onFailure = pod({ restartPolicy: "OnFailure" });
  assert.equal(computePodStatus(input(onFailure, { containers: [exited("app", 0, 0)] })).phase, "Succeeded");
  assert.equal(
    computePodStatus(input(onFailure, {
      containers: [exited("app", 0, 3)],
      waiting: new Map([["app", { reason: "CrashLoopBackOff" }]]),
    })).phase,
    "Running",
  );
});

Deno.test("computePodStatus() with init containers: Pending and PodInitializing until they all exit 0", () => {
  const p = pod({
    initContainers: [{ name: "fetch", image: "busybox" }, { name: "migrate", image: "busybox" }],
  });
  let status = computePodStatus(input(p, { containers: [run("fetch", 0, {})] }));
  assert.equal(status.phase, "Pending");
  assert.deepEqual(condition(status, "Initialized")?.message, "containers with incomplete status: [fetch migrate]");
  assert.deepEqual(status.initContainerStatuses?.map((s) => Object.keys(s.state ?? {})[0]), ["running", "waiting"]);
  assert.deepEqual(status.initContainerStatuses?.[1]?.state, { waiting: { reason: "PodInitializing" } });
  assert.deepEqual(status.containerStatuses?.[0]?.state, { waiting: { reason: "PodInitializing" } });

  status = computePodStatus(input(p, { containers: [exited("fetch", 0, 0), exited("migrate", 0, 0)] }));
  assert.equal(condition(status, "Initialized")?.status, "True");
  assert.deepEqual(status.containerStatuses?.[0]?.state, { waiting: { reason: "ContainerCreating" } });
  assert.equal(status.phase, "Pending");

  status = computePodStatus(
    input(p, { containers: [exited("fetch", 0, 0), exited("migrate", 0, 0), run("app", 0, {})] }),
  );
  assert.equal(status.phase, "Running");
  assert.equal(status.initContainerStatuses?.[1]?.state?.terminated?.reason, "Completed");
});

Deno.test("computePodStatus() fails the pod when an init container fails and restartPolicy is Never", () => {
  const p = pod({ restartPolicy: "Never", initContainers: [{ name: "fetch", image: "busybox" }] });
  assert.equal(computePodStatus(input(p, { containers: [exited("fetch", 0, 1)] })).phase, "Failed");
  const always = pod({ initContainers: [{ name: "fetch", image: "busybox" }] });
  const status = computePodStatus(input(always, {
    containers: [exited("fetch", 0, 1)],
    waiting: new Map([["fetch", { reason: "CrashLoopBackOff" }]]),
  }));
  assert.equal(status.phase, "Pending");
});

Deno.test("computePodStatus() keeps lastTransitionTime while a condition holds and moves it when it flips", () => {
  const first = computePodStatus(input(pod(), { containers: [run("app", 0, {})], now: T0 }));
  const later = computePodStatus(input(pod({}, first), { containers: [run("app", 0, {})], now: T0 + 60_000 }));
  assert.equal(condition(later, "Ready")?.lastTransitionTime, rfc3339(T0));
  const flipped = computePodStatus(input(pod({}, later), { containers: [exited("app", 0, 1)], now: T0 + 90_000 }));
  assert.equal(condition(flipped, "Ready")?.status, "False");
  assert.equal(condition(flipped, "Ready")?.lastTransitionTime, rfc3339(T0 + 90_000));
  assert.equal(
    condition(flipped, "PodScheduled")?.lastTransitionTime,
    condition(first, "PodScheduled")?.lastTransitionTime,
  );
});

Deno.test("computePodStatus() never moves a pod out of Succeeded or Failed, and keeps others' conditions", () => {
  const other = { type: "DisruptionTarget", status: "True" as const, reason: "EvictionByEvictionAPI" };
  const status = computePodStatus(input(pod({}, { phase: "Failed", conditions: [other] }), {
    containers: [run("app", 0, {})],
  }));
  assert.equal(status.phase, "Failed");
  assert.deepEqual(condition(status, "DisruptionTarget"), other);
});

Deno.test("computePodStatus() of a pod being stopped for good ends Succeeded or Failed once nothing runs", () => {
  assert.equal(computePodStatus(input(pod(), { containers: [exited("app", 0, 143)], terminal: true })).phase, "Failed");
  assert.equal(
    computePodStatus(input(pod(), { containers: [exited("app", 0, 0)], terminal: true })).phase,
    "Succeeded",
  );
  assert.equal(computePodStatus(input(pod(), { containers: [], terminal: true })).phase, "Failed");
  assert.equal(computePodStatus(input(pod(), { containers: [run("app", 0, {})], terminal: true })).phase, "Running");
});

Deno.test("computePodStatus() with an agent failure is Failed with its reason and message", () => {
  const status = computePodStatus(input(pod(), {
    failure: { reason: "DeadlineExceeded", message: "Pod was active on the node longer than the specified deadline" },
  }));
  assert.equal(status.phase, "Failed");
  assert.equal(status.reason, "DeadlineExceeded");
});

Deno.test("computePodStatus() reports termination messages and the QoS class of the spec", () => {
  const p = pod({
    containers: [{ name: "app", image: "busybox", resources: { limits: { cpu: "1", memory: "64Mi" } } }],
  });
  const id = `${UID}_app_0`;
  const status = computePodStatus(input(p, {
    containers: [exited("app", 0, 1)],
    messages: new Map([[id, "config file missing"]]),
  }));
  assert.equal(status.containerStatuses?.[0]?.state?.terminated?.message, "config file missing");
  assert.equal(status.qosClass, "Burstable");
});

Deno.test("runsOf() orders a container's runs latest first", () => {
  const runs = runsOf([run("app", 0, {}), run("other", 5, {}), run("app", 2, {}), run("app", 1, {})], "app");
  assert.deepEqual(runs.map((r) => r.id), [`${UID}_app_2`, `${UID}_app_1`, `${UID}_app_0`]);
});
