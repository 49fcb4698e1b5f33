/**
 * The status a simulated node reports for a pod, built from what its fake
 * runtime says about the pod's containers, as the kubelet builds it: phase,
 * the four conditions, container statuses, addresses and start time.
 *
 * @module
 */

import type { Condition, ContainerState, ContainerStatus, Pod, PodPhase, PodStatus } from "@skiff/api";
import type { ContainerInfo } from "../runtime/mod.ts";

/** One container of the pod and where it stands. */
export interface ContainerRun {
  /** Its name in the pod spec. */
  name: string;
  /** Its image reference. */
  image: string;
  /** How many times it restarted. */
  restartCount: number;
  /** The current container in the runtime, once created. */
  current?: ContainerInfo;
  /** The previous container, once it restarted. */
  previous?: ContainerInfo;
  /** Why it is not running yet (`ContainerCreating`, `CrashLoopBackOff`, `ErrImagePull`). */
  waiting?: { reason: string; message?: string };
}

/** What else the status needs. */
export interface PodStatusInputs {
  /** Init containers, in order. */
  init: readonly ContainerRun[];
  /** Regular containers. */
  containers: readonly ContainerRun[];
  /** The pod's address. */
  podIP: string;
  /** The node's address. */
  hostIP: string;
  /** When the node took the pod (ms). */
  startTime: number;
  /** Now (ms). */
  now: number;
}

/** RFC 3339 with second precision, as Kubernetes writes times. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

function terminated(info: ContainerInfo): ContainerState {
  return {
    terminated: {
      exitCode: info.exitCode ?? 0,
      reason: info.reason ?? (info.exitCode === 0 ? "Completed" : "Error"),
      ...(info.startedAt !== undefined ? { startedAt: rfc3339(info.startedAt) } : {}),
      ...(info.finishedAt !== undefined ? { finishedAt: rfc3339(info.finishedAt) } : {}),
      containerID: `fake://${info.id}`,
    },
  };
}

function state(run: ContainerRun): ContainerState {
  if (run.waiting) return { waiting: { ...run.waiting } };
  const info = run.current;
  if (!info || info.state === "created") return { waiting: { reason: "ContainerCreating" } };
  if (info.state === "running") return { running: { startedAt: rfc3339(info.startedAt ?? 0) } };
  return terminated(info);
}

function containerStatus(run: ContainerRun): ContainerStatus {
  const info = run.current ?? run.previous;
  const s = state(run);
  return {
    name: run.name,
    state: s,
    lastState: run.previous ? terminated(run.previous) : {},
    ready: s.running !== undefined,
    restartCount: run.restartCount,
    image: run.image,
    imageID: info?.imageId ?? "",
    ...(info ? { containerID: `fake://${info.id}` } : {}),
    started: s.running !== undefined,
  };
}

function isDone(run: ContainerRun): boolean {
  return !run.waiting && run.current?.state === "exited";
}

function phaseOf(pod: Pod, inputs: PodStatusInputs): PodPhase {
  const initFailed = inputs.init.some((r) => isDone(r) && r.current!.exitCode !== 0 && !r.waiting);
  const restartPolicy = pod.spec?.restartPolicy ?? "Always";
  if (initFailed && restartPolicy === "Never") return "Failed";
  if (!inputs.init.every((r) => isDone(r) && r.current!.exitCode === 0)) return "Pending";
  const runs = inputs.containers;
  if (runs.some((r) => r.current?.state === "running")) return "Running";
  if (runs.length > 0 && runs.every(isDone)) {
    if (restartPolicy === "Always") return "Running";
    return runs.every((r) => r.current!.exitCode === 0) ? "Succeeded" : "Failed";
  }
  if (runs.some((r) => r.restartCount > 0 || r.previous)) return "Running";
  return "Pending";
}

/** The pod's status from its containers' states. */
export function simulatedPodStatus(pod: Pod, inputs: PodStatusInputs): PodStatus {
  const previous = pod.status?.conditions ?? [];
  const condition = (type: string, ok: boolean): Condition => {
    const status = ok ? "True" : "False";
    const before = previous.find((c) => c.type === type);
    const since = before?.status === status && before.lastTransitionTime
      ? before.lastTransitionTime
      : rfc3339(inputs.now);
    return { type, status, lastProbeTime: null, lastTransitionTime: since };
  };
  const phase = phaseOf(pod, inputs);
  const initialized = inputs.init.every((r) => isDone(r) && r.current!.exitCode === 0);
  const ready = phase === "Running" && inputs.containers.every((r) => !r.waiting && r.current?.state === "running");
  return {
    phase,
    conditions: [
      condition("PodScheduled", true),
      condition("Initialized", initialized),
      condition("ContainersReady", ready),
      condition("Ready", ready),
    ],
    hostIP: inputs.hostIP,
    hostIPs: [{ ip: inputs.hostIP }],
    podIP: inputs.podIP,
    podIPs: [{ ip: inputs.podIP }],
    startTime: rfc3339(inputs.startTime),
    ...(inputs.init.length > 0 ? { initContainerStatuses: inputs.init.map(containerStatus) } : {}),
    containerStatuses: inputs.containers.map(containerStatus),
  };
}
