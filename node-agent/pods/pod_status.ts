/**
 * A pod's status as the kubelet computes it, as one pure function of the
 * pod, what the runtime says about its containers, what the pod worker
 * decided (why a container waits) and what the probes found:
 * {@linkcode computePodStatus}. No I/O, no clock: everything comes in.
 *
 * @module
 */

import {
  type Condition,
  type Container,
  type ContainerState,
  type ContainerStatus,
  type Pod,
  type PodPhase,
  podQOSClass,
  type PodStatus,
} from "@skiff/api";
import { containerIdentity, type ContainerInfo } from "../runtime/mod.ts";

/** Why a container is not running, as the pod worker decided. */
export interface ContainerWaiting {
  /** `ContainerCreating`, `ErrImagePull`, `ImagePullBackOff`, `CrashLoopBackOff`, `CreateContainerConfigError`, … */
  reason: string;
  /** Details, e.g. `back-off 20s restarting failed container=web pod=web-0_default(…)`. */
  message?: string;
}

/** Everything {@linkcode computePodStatus} needs. */
export interface PodStatusInput {
  /** The pod: its spec, and the status last reported (for transition times, start time, QoS class). */
  pod: Pod;
  /** The pod's containers in the runtime (every run of every container). */
  containers: readonly ContainerInfo[];
  /** By container name: why it waits; overrides what the runtime says of its latest run when that is not running. */
  waiting?: ReadonlyMap<string, ContainerWaiting>;
  /** By container id: the readiness probe's result (containers with a readiness probe and no result are not ready). */
  ready?: ReadonlyMap<string, boolean>;
  /** By container id: whether the startup probe has succeeded (containers with one and no result have not started). */
  started?: ReadonlyMap<string, boolean>;
  /** By container id: the termination message of an exited container. */
  messages?: ReadonlyMap<string, string>;
  /** The pod's addresses (the node's for host-network pods); empty until its sandbox is up. */
  podIPs: readonly string[];
  /** The node's addresses. */
  hostIPs: readonly string[];
  /** When the agent accepted the pod (ms). */
  startTime: number;
  /** Now (ms), for condition transition times. */
  now: number;
  /** The runtime's name, the scheme of container ids (`containerd://<id>`). */
  runtimeName: string;
  /**
   * The pod is being stopped for good (deleted, or failed by the agent):
   * once no container runs, its phase is Succeeded or Failed whatever the
   * restart policy.
   */
  terminal?: boolean;
  /** The agent failed the pod, e.g. `{ reason: "DeadlineExceeded", message: "…" }`: its phase is Failed. */
  failure?: { reason: string; message: string };
}

/** RFC 3339 with second precision, as Kubernetes writes times. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/** The runs of one container in the runtime, latest first. */
export function runsOf(containers: readonly ContainerInfo[], name: string): ContainerInfo[] {
  const runs: { info: ContainerInfo; restartCount: number }[] = [];
  for (const info of containers) {
    const identity = containerIdentity(info.labels);
    if (identity?.containerName === name) runs.push({ info, restartCount: identity.restartCount });
  }
  runs.sort((a, b) => b.restartCount - a.restartCount || b.info.createdAt - a.info.createdAt);
  return runs.map((r) => r.info);
}

/** The restart count a container run carries in its labels. */
export function restartCountOf(info: ContainerInfo): number {
  return containerIdentity(info.labels)?.restartCount ?? 0;
}

/** Whether an init container is a sidecar (`restartPolicy: Always`). */
export function isSidecar(container: Container): boolean {
  return container.restartPolicy === "Always";
}

const TERMINAL: ReadonlySet<string> = new Set(["Succeeded", "Failed"]);

function terminatedState(info: ContainerInfo, input: PodStatusInput): ContainerState {
  const message = input.messages?.get(info.id);
  return {
    terminated: {
      exitCode: info.exitCode ?? 0,
      reason: info.reason ?? (info.oomKilled ? "OOMKilled" : info.exitCode === 0 ? "Completed" : "Error"),
      ...(message ? { message } : {}),
      ...(info.startedAt !== undefined ? { startedAt: rfc3339(info.startedAt) } : {}),
      ...(info.finishedAt !== undefined ? { finishedAt: rfc3339(info.finishedAt) } : {}),
      containerID: `${input.runtimeName}://${info.id}`,
    },
  };
}

function containerStatus(
  container: Container,
  input: PodStatusInput,
  defaultWaiting: string,
): ContainerStatus {
  const [latest, previous] = runsOf(input.containers, container.name);
  const waiting = input.waiting?.get(container.name);
  let state: ContainerState;
  let lastState: ContainerState = {};
  if (latest?.state === "running") {
    state = { running: { ...(latest.startedAt !== undefined ? { startedAt: rfc3339(latest.startedAt) } : {}) } };
    if (previous) lastState = terminatedState(previous, input);
  } else if (latest?.state === "exited" && !waiting) {
    state = terminatedState(latest, input);
    if (previous) lastState = terminatedState(previous, input);
  } else if (latest?.state === "exited") {
    state = { waiting: { ...waiting! } };
    lastState = terminatedState(latest, input);
  } else {
    state = { waiting: waiting ? { ...waiting } : { reason: defaultWaiting } };
    if (previous) lastState = terminatedState(previous, input);
  }
  const running = state.running !== undefined;
  const started = running && (!container.startupProbe || input.started?.get(latest!.id) === true);
  const ready = started && (!container.readinessProbe || input.ready?.get(latest!.id) === true);
  return {
    name: container.name,
    state,
    lastState,
    ready,
    restartCount: latest ? restartCountOf(latest) : 0,
    image: latest?.image ?? container.image ?? "",
    imageID: latest?.imageId ?? "",
    ...(latest ? { containerID: `${input.runtimeName}://${latest.id}` } : {}),
    started,
  };
}

/** The kubelet's `getPhase`, from the container statuses. */
function phaseOf(
  pod: Pod,
  init: readonly ContainerStatus[],
  regular: readonly ContainerStatus[],
  input: PodStatusInput,
): PodPhase {
  const spec = pod.spec!;
  const restartPolicy = spec.restartPolicy ?? "Always";
  let pendingInit = 0;
  let pendingSidecars = 0;
  let failedInit = 0;
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  (spec.initContainers ?? []).forEach((container, i) => {
    const s = init[i]!;
    const neverRan = s.containerID === undefined;
    if (isSidecar(container)) {
      if (s.state?.running) {
        if (!s.started) pendingSidecars++;
        running++;
      } else if (s.state?.waiting && !s.lastState?.terminated) {
        pendingSidecars++;
      }
      return;
    }
    if (s.state?.running || neverRan) pendingInit++;
    else if (s.state?.terminated) {
      if (s.state.terminated.exitCode !== 0) failedInit++;
    } else if (s.lastState?.terminated) {
      if (s.lastState.terminated.exitCode !== 0) failedInit++;
    } else pendingInit++;
  });
  for (const s of regular) {
    if (s.state?.running) running++;
    else if (s.state?.terminated) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.lastState?.terminated) stopped++;
    else waiting++;
  }
  if (failedInit > 0 && restartPolicy === "Never") return "Failed";
  const wasInitialized = pod.status?.conditions?.some((c) => c.type === "Initialized" && c.status === "True") ?? false;
  if (pendingInit > 0 || (pendingSidecars > 0 && !wasInitialized)) return "Pending";
  if (waiting > 0) return "Pending";
  if (running > 0) return "Running";
  if (stopped > 0) {
    if (input.terminal) return stopped === succeeded ? "Succeeded" : "Failed";
    if (restartPolicy === "Always") return "Running";
    if (stopped === succeeded) return "Succeeded";
    if (restartPolicy === "Never") return "Failed";
    return "Running";
  }
  return "Pending";
}

function names(list: readonly string[]): string {
  return `[${list.join(" ")}]`;
}

/**
 * The pod's status from its containers: phase, the conditions PodScheduled,
 * Initialized, ContainersReady and Ready (a condition keeps its
 * `lastTransitionTime` while its status does not change), init and regular
 * container statuses (state, lastState, restartCount, ready, started,
 * image, imageID, containerID), addresses, start time and QoS class. A pod
 * already reported Succeeded or Failed stays so. Conditions of other types
 * (set by others) are kept.
 */
export function computePodStatus(input: PodStatusInput): PodStatus {
  const { pod } = input;
  const spec = pod.spec ?? { containers: [] };
  const old = pod.status ?? {};
  const initContainers = spec.initContainers ?? [];
  const initStatuses = initContainers.map((c) => containerStatus(c, input, "PodInitializing"));

  const initDone = initContainers.every((c, i) => {
    const s = initStatuses[i]!;
    return isSidecar(c) ? s.started === true : s.state?.terminated?.exitCode === 0;
  });
  const wasInitialized = old.conditions?.some((c) => c.type === "Initialized" && c.status === "True") ?? false;
  const regularRan = spec.containers.some((c) => runsOf(input.containers, c.name).length > 0);
  const initialized = initDone || (wasInitialized && regularRan);
  const statuses = spec.containers.map((c) =>
    containerStatus(c, input, initialized ? "ContainerCreating" : "PodInitializing")
  );

  let phase: PodPhase = input.failure ? "Failed" : phaseOf({ ...pod, spec }, initStatuses, statuses, input);
  const anyRunning = [...initStatuses, ...statuses].some((s) => s.state?.running);
  if (input.terminal && !anyRunning && !TERMINAL.has(phase)) phase = "Failed";
  if (old.phase && TERMINAL.has(old.phase)) phase = old.phase;

  const completed = phase === "Succeeded";
  const unready = [
    ...initContainers.filter((c, i) => isSidecar(c) && !initStatuses[i]!.ready).map((c) => c.name),
    ...statuses.filter((s) => !s.ready).map((s) => s.name),
  ];
  const incomplete = initContainers.filter((c, i) => {
    const s = initStatuses[i]!;
    return isSidecar(c) ? !s.started : s.state?.terminated?.exitCode !== 0;
  }).map((c) => c.name);

  const before = new Map((old.conditions ?? []).map((c) => [c.type, c]));
  const condition = (type: string, ok: boolean, reason?: string, message?: string): Condition => {
    const status = ok ? "True" : "False";
    const previous = before.get(type);
    const since = previous?.status === status && previous.lastTransitionTime
      ? previous.lastTransitionTime
      : rfc3339(input.now);
    return {
      type,
      status,
      lastProbeTime: null,
      lastTransitionTime: since,
      ...(reason ? { reason } : {}),
      ...(message ? { message } : {}),
    };
  };
  const initializedCondition = completed
    ? condition("Initialized", true, "PodCompleted")
    : initialized
    ? condition("Initialized", true)
    : condition(
      "Initialized",
      false,
      "ContainersNotInitialized",
      `containers with incomplete status: ${names(incomplete)}`,
    );
  const readyArgs: [boolean, string?, string?] = completed
    ? [false, "PodCompleted"]
    : unready.length === 0
    ? [true]
    : [false, "ContainersNotReady", `containers with unready status: ${names(unready)}`];
  const own = new Set(["PodScheduled", "Initialized", "ContainersReady", "Ready"]);
  const conditions: Condition[] = [
    before.get("PodScheduled") ?? condition("PodScheduled", true),
    initializedCondition,
    condition("ContainersReady", ...readyArgs),
    condition("Ready", ...readyArgs),
    ...(old.conditions ?? []).filter((c) => !own.has(c.type)),
  ];

  const status: PodStatus = {
    phase,
    conditions,
    ...(input.failure
      ? { reason: input.failure.reason, message: input.failure.message }
      : { ...(old.reason ? { reason: old.reason } : {}), ...(old.message ? { message: old.message } : {}) }),
    ...(input.hostIPs.length > 0 ? { hostIP: input.hostIPs[0], hostIPs: input.hostIPs.map((ip) => ({ ip })) } : {}),
    ...(input.podIPs.length > 0 ? { podIP: input.podIPs[0], podIPs: input.podIPs.map((ip) => ({ ip })) } : {}),
    startTime: old.startTime ?? rfc3339(input.startTime),
    ...(initContainers.length > 0 ? { initContainerStatuses: initStatuses } : {}),
    containerStatuses: statuses,
    qosClass: old.qosClass ?? podQOSClass(spec),
  };
  if (old.nominatedNodeName) status.nominatedNodeName = old.nominatedNodeName;
  return status;
}
