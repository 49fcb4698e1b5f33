/**
 * Power on demand, the decisions: a pure function of the cluster as seen
 * at one moment, so every rule is tested with plain Node and Pod objects
 * and a number for the time.
 *
 * - A node may sleep when it opted in (label `power.skiff.dev/wake-on-lan=true`
 *   and a MAC address reported), is Ready, is not cordoned, does not run the control plane,
 *   and has run no pod but DaemonSet pods for the idle time; never while a
 *   pod waits unscheduled, never the last Ready node, one node per pass.
 * - A sleeping node is woken when a pod waits that the scheduler found no
 *   place for (`PodScheduled=False`, `Unschedulable`) and that would fit
 *   on it (node selector and affinity, taints other than those sleep put
 *   there, CPU and memory); one node at a time, and none while a node
 *   already waking would take the pod.
 * - A waking node is awake once its agent heartbeats after the wake; a
 *   node that does not within the wake timeout gets the packet again.
 * - A sleeping node whose agent heartbeats well after the sleep request
 *   (someone pressed its power button) is awake again.
 *
 * @module
 */

import {
  ANNOTATION_POWER_SLEEP_REQUEST,
  ANNOTATION_POWER_STATE,
  type Node,
  type Pod,
  podMatchesNodeAffinity,
  toBytes,
  toMillicores,
  untoleratedTaints,
} from "@skiff/api";

/** The label of nodes that run the control plane: they never sleep. */
const LABEL_CONTROL_PLANE = "node-role.kubernetes.io/control-plane";
/** Taints that sleeping puts on a node (cordon, heartbeats stopping). */
const SLEEP_TAINTS = new Set([
  "node.kubernetes.io/unschedulable",
  "node.kubernetes.io/unreachable",
  "node.kubernetes.io/not-ready",
]);
/** A heartbeat this long after the sleep request means the node is up again. */
const RETURN_GRACE_MS = 60_000;

/** The settings of power on demand. */
export interface PowerSettings {
  /** Milliseconds a node runs nothing but DaemonSet pods before it sleeps. */
  idleMs: number;
  /** Milliseconds a woken node has to heartbeat before the packet is sent again. */
  wakeTimeoutMs: number;
}

/** What the decision sees. */
export interface PowerSnapshot {
  /** The time, ms since the epoch. */
  now: number;
  /** Every Node. */
  nodes: readonly Node[];
  /** Every Pod. */
  pods: readonly Pod[];
  /** The last heartbeat of each node (its Lease's renewTime), ms. */
  heartbeats: ReadonlyMap<string, number>;
  /** Since when each node has been idle, ms (kept between passes; the decision updates it). */
  idleSince: Map<string, number>;
  /** When each waking node was woken, ms (kept between passes). */
  wokenAt: ReadonlyMap<string, number>;
  /** Whether a node opted in and can be woken. */
  canSleep: (node: Node) => boolean;
}

/** One decision: what to do to which node, and why (an Event reason and message). */
export interface PowerDecision {
  /** `sleep` (cordon, drain, then sleep), `wake` (send the packet), or `awake` (uncordon, clear the state). */
  action: "sleep" | "wake" | "awake";
  /** The node. */
  node: Node;
  /** Event reason. */
  reason: string;
  /** Event message. */
  message: string;
}

function isReady(node: Node): boolean {
  return node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

function stateOf(node: Node): string | undefined {
  return node.metadata.annotations?.[ANNOTATION_POWER_STATE];
}

function isDaemonSetPod(pod: Pod): boolean {
  return pod.metadata.ownerReferences?.some((r) => r.controller && r.kind === "DaemonSet") ?? false;
}

function isActive(pod: Pod): boolean {
  return !pod.metadata.deletionTimestamp && pod.status?.phase !== "Succeeded" && pod.status?.phase !== "Failed";
}

/** Pods the scheduler could not place anywhere. */
export function unschedulablePods(pods: readonly Pod[]): Pod[] {
  return pods.filter((pod) =>
    isActive(pod) && !pod.spec?.nodeName &&
    (pod.status?.conditions ?? []).some((c) =>
      c.type === "PodScheduled" && c.status === "False" && c.reason === "Unschedulable"
    )
  );
}

function requests(pod: Pod): { cpu: number; memory: number } {
  let cpu = 0;
  let memory = 0;
  for (const c of pod.spec?.containers ?? []) {
    const r = c.resources?.requests ?? {};
    if (r.cpu !== undefined) cpu += toMillicores(r.cpu);
    if (r.memory !== undefined) memory += toBytes(r.memory);
  }
  return { cpu, memory };
}

/** Whether `pod` would fit on `node` once it is awake and uncordoned. */
export function fitsWhenAwake(pod: Pod, node: Node, pods: readonly Pod[]): boolean {
  if (!podMatchesNodeAffinity(pod, node)) return false;
  const taints = (node.spec?.taints ?? []).filter((t) => !SLEEP_TAINTS.has(t.key));
  if (untoleratedTaints(pod.spec?.tolerations, taints, ["NoSchedule", "NoExecute"]).length > 0) return false;
  const allocatable = node.status?.allocatable ?? node.status?.capacity ?? {};
  const want = requests(pod);
  const used = pods
    .filter((p) => p.spec?.nodeName === node.metadata.name && isActive(p))
    .reduce((sum, p) => {
      const r = requests(p);
      return { cpu: sum.cpu + r.cpu, memory: sum.memory + r.memory };
    }, { cpu: 0, memory: 0 });
  if (allocatable.cpu !== undefined && used.cpu + want.cpu > toMillicores(allocatable.cpu)) return false;
  if (allocatable.memory !== undefined && used.memory + want.memory > toBytes(allocatable.memory)) return false;
  return true;
}

function minutes(ms: number): string {
  return ms >= 60_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`;
}

function names(pods: readonly Pod[]): string {
  const shown = pods.slice(0, 3).map((p) => `${p.metadata.namespace}/${p.metadata.name}`).join(", ");
  return pods.length > 3 ? `${shown} and ${pods.length - 3} more` : shown;
}

/** What to do now. Updates `snapshot.idleSince`. */
export function decidePower(snapshot: PowerSnapshot, settings: PowerSettings): PowerDecision[] {
  const { now, nodes, pods, heartbeats, idleSince, wokenAt, canSleep } = snapshot;
  const decisions: PowerDecision[] = [];
  const waiting = unschedulablePods(pods);

  // Waking and sleeping nodes that came back.
  for (const node of nodes) {
    const name = node.metadata.name!;
    const beat = heartbeats.get(name) ?? 0;
    const state = stateOf(node);
    if (state === "Waking") {
      const since = wokenAt.get(name) ?? now;
      if (isReady(node) && beat > since) {
        decisions.push({
          action: "awake",
          node,
          reason: "NodeAwake",
          message: `Node "${name}" is awake ${minutes(beat - since)} after Wake-on-LAN: uncordoned`,
        });
      } else if (now - since >= settings.wakeTimeoutMs) {
        decisions.push({
          action: "wake",
          node,
          reason: "WakeTimedOut",
          message: `Node "${name}" did not heartbeat within ${
            minutes(settings.wakeTimeoutMs)
          } of Wake-on-LAN: sending the packet again; check that wake-on-LAN is on in its firmware and network card (ethtool -s <iface> wol g)`,
        });
      }
    } else if (state === "Sleeping") {
      const requested = Date.parse(node.metadata.annotations?.[ANNOTATION_POWER_SLEEP_REQUEST] ?? "") || 0;
      if (isReady(node) && beat > requested + RETURN_GRACE_MS) {
        decisions.push({
          action: "awake",
          node,
          reason: "NodeReturned",
          message: `Node "${name}" heartbeats again though it was asleep (woken by hand?): uncordoned`,
        });
      }
    }
  }

  // Wake: pods that fit nowhere awake, and would fit on a sleeping node.
  const waking = nodes.filter((n) => stateOf(n) === "Waking");
  const stillWaiting = waiting.filter((pod) => !waking.some((n) => fitsWhenAwake(pod, n, pods)));
  if (stillWaiting.length > 0) {
    const sleeping = nodes
      .filter((n) => stateOf(n) === "Sleeping" && canSleep(n))
      .sort((a, b) => a.metadata.name!.localeCompare(b.metadata.name!));
    for (const node of sleeping) {
      const fitting = stillWaiting.filter((pod) => fitsWhenAwake(pod, node, pods));
      if (fitting.length === 0) continue;
      decisions.push({
        action: "wake",
        node,
        reason: "WakingForPods",
        message: `Waking node "${node.metadata.name}" with Wake-on-LAN: ${fitting.length} pending pod${
          fitting.length === 1 ? "" : "s"
        } (${names(fitting)}) fit nowhere else`,
      });
      break;
    }
  }

  // Sleep: idle nodes, one per pass, never the last Ready one, never while pods wait.
  const awake = nodes.filter((n) => !stateOf(n) && isReady(n));
  let candidate: { node: Node; since: number } | undefined;
  for (const node of nodes) {
    const name = node.metadata.name!;
    const eligible = !stateOf(node) && isReady(node) && canSleep(node) && !node.spec?.unschedulable &&
      node.metadata.labels?.[LABEL_CONTROL_PLANE] === undefined;
    const busy = pods.some((p) => p.spec?.nodeName === name && isActive(p) && !isDaemonSetPod(p));
    if (!eligible || busy) {
      idleSince.delete(name);
      continue;
    }
    const since = idleSince.get(name) ?? now;
    idleSince.set(name, since);
    if (now - since >= settings.idleMs && (!candidate || since < candidate.since)) candidate = { node, since };
  }
  if (candidate && waiting.length === 0 && awake.length > 1) {
    decisions.push({
      action: "sleep",
      node: candidate.node,
      reason: "NodeIdle",
      message: `Node "${candidate.node.metadata.name}" has run no pods but DaemonSet pods for ${
        minutes(now - candidate.since)
      }: cordoning, draining and putting it to sleep`,
    });
  }
  return decisions;
}
