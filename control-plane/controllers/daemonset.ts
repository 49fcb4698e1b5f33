/**
 * The DaemonSet controller: one pod per eligible node (node selector,
 * required node affinity, taints and tolerations), following nodes as they
 * come and go. Pods are pinned to their node with required node affinity on
 * `metadata.name` and bound by the scheduler. Updates roll out with
 * RollingUpdate (maxUnavailable, or maxSurge) or OnDelete, telling
 * templates apart by the `controller-revision-hash` label.
 *
 * @module
 */

import {
  type DaemonSet,
  type DaemonSetStatus,
  ForbiddenError,
  type Node,
  NotFoundError,
  type Pod,
  podMatchesNodeAffinity,
  selectorFromLabelSelector,
  TAINT_NODE_DISK_PRESSURE,
  TAINT_NODE_MEMORY_PRESSURE,
  TAINT_NODE_NOT_READY,
  TAINT_NODE_THERMAL_PRESSURE,
  TAINT_NODE_UNREACHABLE,
  TAINT_NODE_UNSCHEDULABLE,
  type Toleration,
  untoleratedTaints,
} from "@skiff/api";
import type { Informer } from "@skiff/client";
import {
  type ControllerContext,
  controllerKey,
  controllerOf,
  isPodAvailable,
  isPodReady,
  objectKey,
  QueueController,
} from "./controller.ts";
import { Expectations } from "./_expectations.ts";
import { resolveIntOrPercent, templateHash } from "./deployment.ts";
import { podFromTemplate } from "./replicaset.ts";
import { claimPods, messageOf, oldestFirst, REVISION_HASH_LABEL, stableJson } from "./_workload.ts";

export { REVISION_HASH_LABEL };

const TAINT_NODE_PID_PRESSURE = "node.kubernetes.io/pid-pressure";
const TAINT_NODE_NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable";
const MAX_BATCH = 500;

/**
 * The tolerations Kubernetes gives every DaemonSet pod on top of its
 * template's: NoExecute not-ready and unreachable (forever), NoSchedule
 * disk-, memory- and pid-pressure and unschedulable, and network-unavailable
 * for host-network pods. A template toleration of the same key, operator,
 * value and effect is replaced.
 */
export function daemonPodTolerations(tolerations: readonly Toleration[] = [], hostNetwork = false): Toleration[] {
  const added: Toleration[] = [
    { key: TAINT_NODE_NOT_READY, operator: "Exists", effect: "NoExecute" },
    { key: TAINT_NODE_UNREACHABLE, operator: "Exists", effect: "NoExecute" },
    { key: TAINT_NODE_DISK_PRESSURE, operator: "Exists", effect: "NoSchedule" },
    { key: TAINT_NODE_MEMORY_PRESSURE, operator: "Exists", effect: "NoSchedule" },
    { key: TAINT_NODE_PID_PRESSURE, operator: "Exists", effect: "NoSchedule" },
    { key: TAINT_NODE_UNSCHEDULABLE, operator: "Exists", effect: "NoSchedule" },
    { key: TAINT_NODE_THERMAL_PRESSURE, operator: "Exists", effect: "NoSchedule" },
  ];
  if (hostNetwork) added.push({ key: TAINT_NODE_NETWORK_UNAVAILABLE, operator: "Exists", effect: "NoSchedule" });
  const same = (a: Toleration, b: Toleration) =>
    (a.key ?? "") === (b.key ?? "") && (a.operator ?? "Equal") === (b.operator ?? "Equal") &&
    (a.value ?? "") === (b.value ?? "") && (a.effect ?? "") === (b.effect ?? "");
  return [...tolerations.filter((t) => !added.some((a) => same(a, t))), ...added];
}

/** Whether a DaemonSet should start its pod on a node, and whether a pod already there may stay. */
export interface DaemonPlacement {
  /** A pod should run there: selector, affinity and every NoSchedule and NoExecute taint allow it. */
  shouldRun: boolean;
  /** A pod already there may stay: only NoSchedule taints are in the way, if anything. */
  shouldContinueRunning: boolean;
}

/** Where `ds` runs its pod, as Kubernetes' NodeShouldRunDaemonPod decides. */
export function daemonPlacement(ds: DaemonSet, node: Node): DaemonPlacement {
  const spec = ds.spec?.template?.spec;
  const none = { shouldRun: false, shouldContinueRunning: false };
  if (spec?.nodeName && spec.nodeName !== node.metadata.name) return none;
  if (!podMatchesNodeAffinity({ spec: spec ?? {} }, node)) return none;
  const tolerations = daemonPodTolerations(spec?.tolerations, spec?.hostNetwork);
  if (untoleratedTaints(tolerations, node.spec?.taints, ["NoExecute"]).length > 0) return none;
  const blocked = untoleratedTaints(tolerations, node.spec?.taints, ["NoSchedule"]).length > 0;
  return { shouldRun: !blocked, shouldContinueRunning: true };
}

/** The node a daemon pod is bound to, or pinned to by `matchFields metadata.name In [node]`. */
export function daemonPodNodeName(pod: Pod): string | undefined {
  if (pod.spec?.nodeName) return pod.spec.nodeName;
  const terms = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  for (const term of terms ?? []) {
    for (const field of term.matchFields ?? []) {
      if (field.key === "metadata.name" && field.operator === "In" && field.values?.length === 1) {
        return field.values[0];
      }
    }
  }
  return undefined;
}

/** The pod `ds` runs on `nodeName`: its template, the daemon tolerations, pinned to the node by affinity. */
export function newDaemonPod(ds: DaemonSet, nodeName: string, hash: string): Pod {
  const pod = podFromTemplate(ds, ds.spec?.template ?? {}, { [REVISION_HASH_LABEL]: hash });
  const spec = pod.spec!;
  spec.tolerations = daemonPodTolerations(spec.tolerations, spec.hostNetwork);
  spec.affinity = {
    ...spec.affinity,
    nodeAffinity: {
      ...spec.affinity?.nodeAffinity,
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: [nodeName] }] }],
      },
    },
  };
  return pod;
}

const isFinished = (pod: Pod) => pod.status?.phase === "Failed" || pod.status?.phase === "Succeeded";
const hashOf = (pod: Pod) => pod.metadata.labels?.[REVISION_HASH_LABEL];

/** What one pass decides: nodes to start a pod on, pods to delete. */
interface Plan {
  create: string[];
  remove: Pod[];
}

/** The DaemonSet controller. */
export class DaemonSetController extends QueueController {
  #sets!: Informer<DaemonSet>;
  #pods!: Informer<Pod>;
  #nodes!: Informer<Node>;
  #expectations!: Expectations;

  /** Creates the controller. */
  constructor() {
    super("daemonset-controller", 2);
  }

  protected register(ctx: ControllerContext): void {
    this.#expectations = new Expectations(ctx.clock);
    this.#sets = ctx.informers.for<DaemonSet>("apps/v1", "DaemonSet");
    this.#pods = ctx.informers.for<Pod>("v1", "Pod");
    this.#nodes = ctx.informers.for<Node>("v1", "Node");
    this.#sets.on({
      add: (ds) => this.enqueue(objectKey(ds)),
      update: (_, ds) => this.enqueue(objectKey(ds)),
      delete: (ds) => {
        this.#expectations.forget(objectKey(ds));
        this.enqueue(objectKey(ds));
      },
    });
    this.#pods.on({
      add: (pod) => {
        const key = controllerKey(pod, "DaemonSet");
        if (key) {
          this.#expectations.observeAdd(key);
          this.enqueue(key);
        } else if (!controllerOf(pod)) this.#enqueueMatching(pod);
      },
      update: (old, pod) => {
        const key = controllerKey(pod, "DaemonSet");
        if (key && pod.metadata.deletionTimestamp && !old.metadata.deletionTimestamp) {
          this.#expectations.observeDelete(key, pod.metadata.uid!);
        }
        const oldKey = controllerKey(old, "DaemonSet");
        if (oldKey && oldKey !== key) this.enqueue(oldKey);
        if (key) this.enqueue(key);
        else if (!controllerOf(pod)) this.#enqueueMatching(pod);
      },
      delete: (pod) => {
        const key = controllerKey(pod, "DaemonSet");
        if (!key) return;
        this.#expectations.observeDelete(key, pod.metadata.uid!);
        this.enqueue(key);
      },
    });
    const placementOf = (node: Node) => stableJson([node.metadata.labels, node.spec?.taints]);
    this.#nodes.on({
      add: () => this.#enqueueAll(),
      update: (old, node) => {
        if (old === node || placementOf(old) !== placementOf(node)) this.#enqueueAll();
      },
      delete: () => this.#enqueueAll(),
    });
  }

  #enqueueAll(): void {
    for (const ds of this.#sets.list()) this.enqueue(objectKey(ds));
  }

  #enqueueMatching(pod: Pod): void {
    for (const ds of this.#sets.list()) {
      if (
        ds.metadata.namespace === pod.metadata.namespace &&
        selectorFromLabelSelector(ds.spec?.selector).matches(pod.metadata.labels)
      ) this.enqueue(objectKey(ds));
    }
  }

  async reconcile(key: string): Promise<void> {
    const ds = this.#sets.get(key);
    if (!ds) {
      this.#expectations.forget(key);
      return;
    }
    if (ds.metadata.deletionTimestamp) return;
    const pods = await claimPods(this.ctx, ds, this.#pods.list(), {
      selector: selectorFromLabelSelector(ds.spec?.selector),
    });
    const byNode = new Map<string, Pod[]>();
    for (const pod of pods) {
      const node = daemonPodNodeName(pod);
      if (node === undefined) continue;
      let list = byNode.get(node);
      if (!list) byNode.set(node, list = []);
      list.push(pod);
    }
    for (const list of byNode.values()) list.sort(oldestFirst);
    const nodes = this.#nodes.list().sort((a, b) => a.metadata.name!.localeCompare(b.metadata.name!));
    const hash = templateHash(ds.spec?.template);
    if (this.#expectations.satisfied(key)) {
      const plan = this.#plan(ds, nodes, byNode, hash);
      const settled = plan.create.length === 0 && plan.remove.length === 0;
      const rolling = ds.spec?.updateStrategy?.type !== "OnDelete";
      await this.#sync(ds, key, settled && rolling ? this.#rollingUpdate(ds, nodes, byNode, hash) : plan, hash);
    }
    await this.#updateStatus(ds, nodes, byNode, hash);
  }

  /** Pods to create and delete so that every eligible node runs exactly one pod. */
  #plan(ds: DaemonSet, nodes: Node[], byNode: Map<string, Pod[]>, hash: string): Plan {
    const plan: Plan = { create: [], remove: [] };
    const surge = this.#maxSurge(ds, nodes) > 0;
    const now = this.ctx.clock.now();
    const minReady = ds.spec?.minReadySeconds ?? 0;
    for (const node of nodes) {
      const name = node.metadata.name!;
      const pods = byNode.get(name) ?? [];
      const live = pods.filter((p) => !p.metadata.deletionTimestamp);
      const { shouldRun, shouldContinueRunning } = daemonPlacement(ds, node);
      if (shouldRun) {
        if (pods.length === 0) {
          plan.create.push(name);
          continue;
        }
        const failed = live.filter(isFinished);
        for (const pod of failed) {
          this.ctx.recorder.event(
            ds,
            "Warning",
            "FailedDaemonPod",
            `Found failed daemon pod ${pod.metadata.namespace}/${pod.metadata.name} on node ${name}, will try to kill it`,
          );
          plan.remove.push(pod);
        }
        const running = live.filter((p) => !isFinished(p));
        if (running.length <= 1) continue;
        if (!surge) {
          plan.remove.push(...running.slice(1));
          continue;
        }
        const newest = running.find((p) => hashOf(p) === hash);
        const oldest = running.find((p) => hashOf(p) !== hash);
        const keep = new Set<Pod>();
        if (newest && oldest && !isPodAvailable(newest, minReady, now) && isPodAvailable(oldest, minReady, now)) {
          keep.add(newest).add(oldest);
        } else keep.add(newest ?? running[0]!);
        plan.remove.push(...running.filter((p) => !keep.has(p)));
      } else if (!shouldContinueRunning) {
        plan.remove.push(...live);
      }
    }
    const known = new Set(nodes.map((n) => n.metadata.name!));
    for (const [name, pods] of byNode) {
      if (known.has(name)) continue;
      plan.remove.push(...pods.filter((p) => !p.spec?.nodeName && !p.metadata.deletionTimestamp));
    }
    return plan;
  }

  #maxSurge(ds: DaemonSet, nodes: Node[]): number {
    if (ds.spec?.updateStrategy?.type === "OnDelete") return 0;
    const desired = nodes.filter((n) => daemonPlacement(ds, n).shouldRun).length;
    return resolveIntOrPercent(ds.spec?.updateStrategy?.rollingUpdate?.maxSurge, { total: desired, roundUp: true });
  }

  /**
   * RollingUpdate, as Kubernetes': without surge, deletes old pods (the
   * unavailable ones first) while no more than maxUnavailable nodes lack an
   * available pod; with surge, starts new pods next to old ones on up to
   * maxSurge nodes and deletes each old pod once its successor is available.
   */
  #rollingUpdate(ds: DaemonSet, nodes: Node[], byNode: Map<string, Pod[]>, hash: string): Plan {
    const desired = nodes.filter((n) => daemonPlacement(ds, n).shouldRun).length;
    const maxSurge = this.#maxSurge(ds, nodes);
    let maxUnavailable = resolveIntOrPercent(ds.spec?.updateStrategy?.rollingUpdate?.maxUnavailable, {
      total: desired,
      roundUp: true,
      fallback: maxSurge > 0 ? 0 : 1,
    });
    if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
    const now = this.ctx.clock.now();
    const available = (pod: Pod) => isPodAvailable(pod, ds.spec?.minReadySeconds ?? 0, now);
    const plan: Plan = { create: [], remove: [] };
    const candidates: Pod[] = [];
    const surgeNodes: string[] = [];
    let unavailable = 0;
    let surged = 0;
    for (const node of nodes) {
      const name = node.metadata.name!;
      const all = byNode.get(name) ?? [];
      if (all.length === 0 && !daemonPlacement(ds, node).shouldRun) continue;
      const pods = all.filter((p) => !p.metadata.deletionTimestamp && !isFinished(p));
      const fresh = pods.filter((p) => hashOf(p) === hash);
      const old = pods.filter((p) => hashOf(p) !== hash);
      if (fresh.length > 1 || old.length > 1) {
        unavailable++;
        surged++;
        continue;
      }
      const [newPod] = fresh;
      const [oldPod] = old;
      if (maxSurge === 0) {
        if ((!newPod && !oldPod) || (newPod && oldPod)) unavailable++;
        else if (newPod) {
          if (!available(newPod)) unavailable++;
        } else if (!available(oldPod!)) plan.remove.push(oldPod!);
        else if (unavailable < maxUnavailable) candidates.push(oldPod!);
        continue;
      }
      if (!oldPod) continue;
      if (!newPod) {
        if (!available(oldPod)) plan.create.push(name);
        else if (surged < maxSurge) surgeNodes.push(name);
      } else if (!available(newPod)) surged++;
      else plan.remove.push(oldPod);
    }
    if (maxSurge === 0) {
      plan.remove.push(...candidates.slice(0, Math.max(0, maxUnavailable - unavailable)));
    } else {
      plan.create.push(...surgeNodes.slice(0, Math.max(0, maxSurge - surged)));
    }
    return plan;
  }

  /** Carries out a plan: deletes, then creates in slow-start batches, recording what it did. */
  async #sync(ds: DaemonSet, key: string, plan: Plan, hash: string): Promise<void> {
    const pods = this.ctx.client.kind<Pod>("v1", "Pod");
    let failure: unknown;
    if (plan.remove.length > 0) {
      this.#expectations.expectDeletes(key, plan.remove.map((p) => p.metadata.uid!));
      const results = await Promise.allSettled(
        plan.remove.map((p) =>
          pods.delete(p.metadata.name!, { namespace: p.metadata.namespace!, preconditions: { uid: p.metadata.uid! } })
        ),
      );
      results.forEach((r, i) => {
        const pod = plan.remove[i]!;
        if (r.status === "fulfilled") {
          this.ctx.recorder.event(ds, "Normal", "SuccessfulDelete", `Deleted pod: ${pod.metadata.name}`);
          return;
        }
        this.#expectations.observeDelete(key, pod.metadata.uid!);
        if (r.reason instanceof NotFoundError) return;
        this.ctx.recorder.event(ds, "Warning", "FailedDelete", `Error deleting: ${messageOf(r.reason)}`);
        failure ??= r.reason;
      });
    }
    const nodes = plan.create.slice(0, MAX_BATCH);
    if (nodes.length > 0) {
      this.#expectations.expectAdds(key, nodes.length);
      let next = 0;
      for (let batch = 1; next < nodes.length; batch *= 2) {
        const chunk = nodes.slice(next, next + batch);
        next += chunk.length;
        const results = await Promise.allSettled(chunk.map((node) => pods.create(newDaemonPod(ds, node, hash))));
        let batchFailed = false;
        for (const r of results) {
          if (r.status === "fulfilled") {
            this.ctx.recorder.event(ds, "Normal", "SuccessfulCreate", `Created pod: ${r.value.metadata.name}`);
            continue;
          }
          batchFailed = true;
          this.#expectations.observeAdd(key);
          if (r.reason instanceof ForbiddenError) continue; // the namespace is being deleted
          this.ctx.recorder.event(ds, "Warning", "FailedCreate", `Error creating: ${messageOf(r.reason)}`);
          failure ??= r.reason;
        }
        if (batchFailed) break;
      }
      for (let i = next; i < nodes.length; i++) this.#expectations.observeAdd(key);
    }
    if (failure !== undefined) throw failure;
  }

  async #updateStatus(ds: DaemonSet, nodes: Node[], byNode: Map<string, Pod[]>, hash: string): Promise<void> {
    const now = this.ctx.clock.now();
    const minReady = ds.spec?.minReadySeconds ?? 0;
    const status: DaemonSetStatus = {
      desiredNumberScheduled: 0,
      currentNumberScheduled: 0,
      numberMisscheduled: 0,
      numberReady: 0,
      numberAvailable: 0,
      updatedNumberScheduled: 0,
      numberUnavailable: 0,
      observedGeneration: ds.metadata.generation ?? 1,
    };
    for (const node of nodes) {
      const pods = (byNode.get(node.metadata.name!) ?? []).filter((p) => !p.metadata.deletionTimestamp);
      const { shouldRun } = daemonPlacement(ds, node);
      if (!shouldRun) {
        if (pods.length > 0) status.numberMisscheduled++;
        continue;
      }
      status.desiredNumberScheduled++;
      const pod = pods[0];
      if (!pod) continue;
      status.currentNumberScheduled++;
      if (isPodReady(pod)) status.numberReady++;
      if (isPodAvailable(pod, minReady, now)) status.numberAvailable!++;
      if (hashOf(pod) === hash) status.updatedNumberScheduled!++;
    }
    status.numberUnavailable = status.desiredNumberScheduled - status.numberAvailable!;
    const current = (ds.status ?? {}) as unknown as Record<string, unknown>;
    const same = Object.entries(status).every(([k, v]) => (current[k] ?? 0) === v);
    if (!same) {
      try {
        await this.ctx.client.kind<DaemonSet>("apps/v1", "DaemonSet").patch(ds.metadata.name!, { status }, {
          namespace: ds.metadata.namespace!,
          subresource: "status",
        });
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
      }
    }
    if (minReady > 0 && status.numberReady > status.numberAvailable!) {
      this.queue.addAfter(objectKey(ds), minReady * 1000);
    }
  }
}
