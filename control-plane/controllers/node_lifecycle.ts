/**
 * The node lifecycle controller: watches node heartbeats (Lease renewals in
 * `kube-node-lease` and the Ready condition's lastHeartbeatTime), marks a
 * silent node's conditions Unknown after {@linkcode NODE_NOT_READY_SECONDS},
 * keeps the condition taints (`unreachable`, `not-ready`, pressure,
 * unschedulable) in step with the node's state, and evicts pods from nodes
 * with NoExecute taints they do not tolerate: at once, or once their
 * `tolerationSeconds` have run out (300 s by default), so their owners
 * recreate them elsewhere.
 *
 * Every timing decision uses the injected clock, and heartbeats are timed
 * when this controller observes them, as Kubernetes does, so clock skew
 * between nodes and the control plane does not matter.
 *
 * @module
 */

import {
  type Condition,
  CONDITION_THERMAL_PRESSURE,
  ConflictError,
  type Lease,
  type Node,
  NODE_LEASE_NAMESPACE,
  NODE_NOT_READY_SECONDS,
  noExecuteEvictionSeconds,
  NotFoundError,
  type Pod,
  type Taint,
  TAINT_NODE_DISK_PRESSURE,
  TAINT_NODE_MEMORY_PRESSURE,
  TAINT_NODE_NOT_READY,
  TAINT_NODE_THERMAL_PRESSURE,
  TAINT_NODE_UNREACHABLE,
  TAINT_NODE_UNSCHEDULABLE,
} from "@skiff/api";
import type { Informer } from "@skiff/client";
import { type ControllerContext, isPodReady, objectKey, QueueController } from "./controller.ts";
import { ignoreNotFound, rfc3339, stableJson } from "./_workload.ts";

/** The message of conditions this controller marks Unknown. */
export const NODE_STATUS_UNKNOWN_MESSAGE = "Kubelet stopped posting node status.";
const NEVER_UPDATED_MESSAGE = "Kubelet never posted node status.";
const TAINT_NODE_PID_PRESSURE = "node.kubernetes.io/pid-pressure";
const TAINT_NODE_NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable";
const PRESSURE_CONDITIONS = ["MemoryPressure", "DiskPressure", "PIDPressure"] as const;

/** Taints this controller owns: every other taint is left as it is. */
const MANAGED_TAINTS = new Set([
  TAINT_NODE_NOT_READY,
  TAINT_NODE_UNREACHABLE,
  TAINT_NODE_MEMORY_PRESSURE,
  TAINT_NODE_DISK_PRESSURE,
  TAINT_NODE_PID_PRESSURE,
  TAINT_NODE_NETWORK_UNAVAILABLE,
  TAINT_NODE_UNSCHEDULABLE,
  TAINT_NODE_THERMAL_PRESSURE,
]);

/** Options of {@linkcode NodeLifecycleController}. */
export interface NodeLifecycleOptions {
  /** Seconds without a heartbeat before a node's conditions become Unknown (default 40). */
  gracePeriodSeconds?: number;
}

/** The status of a node's Ready condition (`Unknown` when it has none). */
export function nodeReadyStatus(node: Node): Condition["status"] {
  return node.status?.conditions?.find((c) => c.type === "Ready")?.status ?? "Unknown";
}

/**
 * The taints a node should carry for its state: `unreachable` (NoSchedule
 * and NoExecute) while Ready is Unknown, `not-ready` while it is False, a
 * NoSchedule taint per pressure condition that is True, network-unavailable,
 * and unschedulable when cordoned. Taints already present keep their
 * timeAdded; new NoExecute taints get `now`.
 */
export function conditionTaints(node: Node, now: number): Taint[] {
  const want: { key: string; effect: Taint["effect"] }[] = [];
  const ready = nodeReadyStatus(node);
  if (ready !== "True") {
    const key = ready === "False" ? TAINT_NODE_NOT_READY : TAINT_NODE_UNREACHABLE;
    want.push({ key, effect: "NoSchedule" }, { key, effect: "NoExecute" });
  }
  const conditions = node.status?.conditions ?? [];
  const isTrue = (type: string) => conditions.some((c) => c.type === type && c.status === "True");
  if (isTrue("MemoryPressure")) want.push({ key: TAINT_NODE_MEMORY_PRESSURE, effect: "NoSchedule" });
  if (isTrue("DiskPressure")) want.push({ key: TAINT_NODE_DISK_PRESSURE, effect: "NoSchedule" });
  if (isTrue("PIDPressure")) want.push({ key: TAINT_NODE_PID_PRESSURE, effect: "NoSchedule" });
  if (isTrue("NetworkUnavailable")) want.push({ key: TAINT_NODE_NETWORK_UNAVAILABLE, effect: "NoSchedule" });
  if (isTrue(CONDITION_THERMAL_PRESSURE)) want.push({ key: TAINT_NODE_THERMAL_PRESSURE, effect: "NoSchedule" });
  if (node.spec?.unschedulable) want.push({ key: TAINT_NODE_UNSCHEDULABLE, effect: "NoSchedule" });
  const current = node.spec?.taints ?? [];
  return [
    ...current.filter((t) => !MANAGED_TAINTS.has(t.key)),
    ...want.map((w) =>
      current.find((t) => t.key === w.key && t.effect === w.effect) ??
        { ...w, ...(w.effect === "NoExecute" ? { timeAdded: rfc3339(now) } : {}) }
    ),
  ];
}

/**
 * When `pod` must leave a node with these NoExecute taints: `now`-relative
 * 0 means at once, Infinity never; otherwise the ms time at which its
 * shortest toleration runs out, counted from when the taint appeared (or
 * when the pod was bound, if later).
 */
export function evictionTime(pod: Pod, taints: readonly Taint[], now: number): number {
  const noExecute = taints.filter((t) => t.effect === "NoExecute");
  const seconds = noExecuteEvictionSeconds(pod.spec?.tolerations, noExecute);
  if (seconds === 0) return now;
  if (seconds === Infinity) return Infinity;
  const added = Math.min(...noExecute.map((t) => Date.parse(t.timeAdded ?? "") || now));
  const scheduled = Date.parse(
    pod.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "True")?.lastTransitionTime ?? "",
  ) || 0;
  return Math.max(added, scheduled) + seconds * 1000;
}

interface Health {
  /** When this controller last saw a heartbeat (its clock). */
  probe: number;
  /** The Ready condition's last heartbeat time, as posted. */
  heartbeat: string | undefined;
  /** The Lease's last renew time, as posted. */
  renew: string | undefined;
}

/** The node lifecycle controller. */
export class NodeLifecycleController extends QueueController {
  #nodes!: Informer<Node>;
  #leases!: Informer<Lease>;
  #pods!: Informer<Pod>;
  #health = new Map<string, Health>();
  #lastReady = new Map<string, Condition["status"]>();
  #podsByNode = new Map<string, Set<string>>();
  #written = new Map<string, number>();
  #graceMs: number;
  #holding = false;

  /** Creates the controller. */
  constructor(options: NodeLifecycleOptions = {}) {
    super("node-lifecycle-controller", 2);
    this.#graceMs = (options.gracePeriodSeconds ?? NODE_NOT_READY_SECONDS) * 1000;
  }

  /** When (controller clock, ms) the last heartbeat of `node` was observed; undefined for unknown nodes. */
  lastHeartbeat(node: string): number | undefined {
    return this.#health.get(node)?.probe;
  }

  protected register(ctx: ControllerContext): void {
    this.#nodes = ctx.informers.for<Node>("v1", "Node");
    this.#leases = ctx.informers.for<Lease>("coordination.k8s.io/v1", "Lease", { namespace: NODE_LEASE_NAMESPACE });
    this.#pods = ctx.informers.for<Pod>("v1", "Pod");
    const heartbeatOf = (node: Node) =>
      node.status?.conditions?.find((c) => c.type === "Ready")?.lastHeartbeatTime ?? undefined;
    this.#nodes.on({
      add: (node) => {
        this.#observe(node.metadata.name!, { heartbeat: heartbeatOf(node) });
        if (nodeReadyStatus(node) === "True") this.#enqueueTainted();
        this.enqueue(node.metadata.name!);
      },
      update: (old, node) => {
        this.#observe(node.metadata.name!, { heartbeat: heartbeatOf(node) });
        if (nodeReadyStatus(old) !== nodeReadyStatus(node)) this.#enqueueTainted();
        this.enqueue(node.metadata.name!);
      },
      delete: (node) => this.enqueue(node.metadata.name!),
    });
    const lease = (l: Lease) => {
      this.#observe(l.metadata.name!, { renew: l.spec?.renewTime ?? undefined });
      this.enqueue(l.metadata.name!);
    };
    this.#leases.on({ add: lease, update: (_, l) => lease(l) });
    this.#pods.on({
      add: (pod) => this.#track(undefined, pod),
      update: (old, pod) => this.#track(old, pod),
      delete: (pod) => this.#track(pod, undefined),
    });
  }

  /** Records a heartbeat if it is new; the first sight of a node counts as one. */
  #observe(name: string, seen: { heartbeat?: string | undefined; renew?: string | undefined }): void {
    const now = this.ctx.clock.now();
    const health = this.#health.get(name);
    if (!health) {
      this.#health.set(name, { probe: now, heartbeat: seen.heartbeat, renew: seen.renew });
      return;
    }
    if (seen.heartbeat !== undefined && seen.heartbeat !== health.heartbeat) {
      health.heartbeat = seen.heartbeat;
      health.probe = now;
    }
    if (seen.renew !== undefined && seen.renew !== health.renew) {
      health.renew = seen.renew;
      health.probe = now;
    }
  }

  #track(old: Pod | undefined, pod: Pod | undefined): void {
    const before = old?.spec?.nodeName;
    const after = pod?.spec?.nodeName;
    const key = objectKey((pod ?? old)!);
    if (before && before !== after) this.#podsByNode.get(before)?.delete(key);
    if (after) {
      let set = this.#podsByNode.get(after);
      if (!set) this.#podsByNode.set(after, set = new Set());
      set.add(key);
      const node = this.#nodes.get(after);
      if (node?.spec?.taints?.some((t) => t.effect === "NoExecute")) this.enqueue(after);
    }
  }

  #enqueueTainted(): void {
    for (const node of this.#nodes.list()) {
      if (node.spec?.taints?.some((t) => t.effect === "NoExecute")) this.enqueue(node.metadata.name!);
    }
  }

  async reconcile(name: string): Promise<void> {
    const written = this.#written.get(name);
    if (written !== undefined && (Number(this.#nodes.resourceVersion) || 0) < written) return;
    this.#written.delete(name);
    let node = this.#nodes.get(name);
    if (!node) {
      this.#health.delete(name);
      this.#lastReady.delete(name);
      return;
    }
    const now = this.ctx.clock.now();
    if (!this.#health.has(name)) this.#observe(name, {});
    const health = this.#health.get(name)!;
    const silentFor = now - health.probe;
    if (silentFor > this.#graceMs) node = await this.#markUnknown(node, now);
    else this.queue.addAfter(name, this.#graceMs - silentFor + 1);
    if (!node) return;

    const ready = nodeReadyStatus(node);
    const before = this.#lastReady.get(name);
    this.#lastReady.set(name, ready);
    if (before === "True" && ready !== "True") {
      this.ctx.recorder.event(node, "Normal", "NodeNotReady", `Node ${name} status is now: NodeNotReady`);
      await this.#markPodsNotReady(node);
    } else if (before !== undefined && before !== "True" && ready === "True") {
      this.ctx.recorder.event(node, "Normal", "NodeReady", `Node ${name} status is now: NodeReady`);
    }

    const taints = conditionTaints(node, now);
    if (stableJson(taints) !== stableJson(node.spec?.taints ?? [])) {
      node = await this.#write(() =>
        this.ctx.client.kind<Node>("v1", "Node").update({ ...node!, spec: { ...node!.spec, taints } })
      );
      if (!node) return;
    }
    await this.#evict(node, now);
  }

  /**
   * Writes a node and remembers the revision, so that the next pass waits
   * for the cache to catch up. Undefined when the node is gone or changed
   * meanwhile: the informer then brings the newer node, which queues it again.
   */
  async #write(write: () => Promise<Node>): Promise<Node | undefined> {
    try {
      const node = await write();
      this.#written.set(node.metadata.name!, Number(node.metadata.resourceVersion) || 0);
      return node;
    } catch (err) {
      if (err instanceof NotFoundError || err instanceof ConflictError) return undefined;
      throw err;
    }
  }

  /** Marks Ready and the pressure conditions Unknown, as Kubernetes does for a node that went silent. */
  async #markUnknown(node: Node, now: number): Promise<Node | undefined> {
    const time = rfc3339(now);
    const conditions = [...(node.status?.conditions ?? [])];
    let changed = false;
    for (const type of ["Ready", ...PRESSURE_CONDITIONS]) {
      const i = conditions.findIndex((c) => c.type === type);
      const current = conditions[i];
      if (!current) {
        conditions.push({
          type,
          status: "Unknown",
          reason: "NodeStatusNeverUpdated",
          message: NEVER_UPDATED_MESSAGE,
          lastHeartbeatTime: node.metadata.creationTimestamp ?? time,
          lastTransitionTime: time,
        });
        changed = true;
      } else if (current.status !== "Unknown") {
        conditions[i] = {
          ...current,
          status: "Unknown",
          reason: "NodeStatusUnknown",
          message: NODE_STATUS_UNKNOWN_MESSAGE,
          lastTransitionTime: time,
        };
        changed = true;
      }
    }
    if (!changed) return node;
    const updated = await this.#write(() =>
      this.ctx.client.kind<Node>("v1", "Node").updateStatus({ ...node, status: { ...node.status, conditions } })
    );
    if (updated) {
      this.ctx.log(
        `node-lifecycle-controller: node ${node.metadata.name} has posted no heartbeat for ${
          this.#graceMs / 1000
        } s: marked its status Unknown; check the node agent on it`,
      );
    }
    return updated;
  }

  /** Marks the pods of a node that stopped being Ready as not ready, so Services stop sending them traffic. */
  async #markPodsNotReady(node: Node): Promise<void> {
    const pods = this.ctx.client.kind<Pod>("v1", "Pod");
    const time = rfc3339(this.ctx.clock.now());
    for (const key of this.#podsByNode.get(node.metadata.name!) ?? []) {
      const pod = this.#pods.get(key);
      if (!pod || !isPodReady(pod)) continue;
      const conditions = (pod.status?.conditions ?? []).map((c) =>
        c.type === "Ready" ? { ...c, status: "False" as const, lastTransitionTime: time } : c
      );
      await ignoreNotFound(
        pods.patch(pod.metadata.name!, { status: { conditions } }, {
          namespace: pod.metadata.namespace!,
          subresource: "status",
        }),
      );
      this.ctx.recorder.event(pod, "Warning", "NodeNotReady", "Node is not ready");
    }
  }

  /** Deletes the pods whose toleration of the node's NoExecute taints has run out; requeues for the next one. */
  async #evict(node: Node, now: number): Promise<void> {
    const taints = (node.spec?.taints ?? []).filter((t) => t.effect === "NoExecute");
    if (taints.length === 0) return;
    const allDown = nodeReadyStatus(node) !== "True" &&
      this.#nodes.list().every((n) => n.metadata.name === node.metadata.name || nodeReadyStatus(n) !== "True");
    if (allDown) {
      if (!this.#holding) {
        this.ctx.log(
          "node-lifecycle-controller: no node is Ready: holding pod evictions, as the fault is more likely in the " +
            "control plane's network than in every node; check its network connection",
        );
      }
      this.#holding = true;
      return;
    }
    this.#holding = false;
    const client = this.ctx.client.kind<Pod>("v1", "Pod");
    let next = Infinity;
    for (const key of this.#podsByNode.get(node.metadata.name!) ?? []) {
      const pod = this.#pods.get(key);
      if (!pod || pod.metadata.deletionTimestamp || pod.spec?.nodeName !== node.metadata.name) continue;
      const at = evictionTime(pod, taints, now);
      if (at > now) {
        next = Math.min(next, at);
        continue;
      }
      this.ctx.recorder.event(
        pod,
        "Normal",
        "TaintManagerEviction",
        `Marking for deletion Pod ${pod.metadata.namespace}/${pod.metadata.name}`,
      );
      try {
        await client.delete(pod.metadata.name!, {
          namespace: pod.metadata.namespace!,
          preconditions: { uid: pod.metadata.uid! },
        });
      } catch (err) {
        if (!(err instanceof NotFoundError || err instanceof ConflictError)) throw err;
      }
    }
    if (next < Infinity) this.queue.addAfter(node.metadata.name!, next - now);
  }
}
