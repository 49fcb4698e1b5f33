/**
 * The ReplicaSet controller: keeps `spec.replicas` active pods matching the
 * selector, adopting orphans, creating from the template (in slow-start
 * batches), deleting the least useful first, and reporting status.
 *
 * @module
 */

import {
  ConflictError,
  type KubeObject,
  NotFoundError,
  type Pod,
  type PodTemplateSpec,
  type ReplicaSet,
  type Selector,
  selectorFromLabelSelector,
} from "@skiff/api";
import type { Informer } from "@skiff/client";
import {
  type ControllerContext,
  controllerKey,
  controllerOf,
  controllerRef,
  isActivePod,
  isControlledBy,
  isPodAvailable,
  isPodReady,
  objectKey,
  QueueController,
} from "./controller.ts";
import { Expectations } from "./_expectations.ts";

const MAX_BATCH = 500;

/** Ranks pods for deletion: lower deletes first (unscheduled, pending, not ready, newest). */
export function deletionRank(pod: Pod): [number, number, number, number] {
  const scheduled = pod.spec?.nodeName ? 1 : 0;
  const phase = pod.status?.phase;
  const running = phase === "Running" ? 2 : phase === "Pending" ? 0 : 1;
  const ready = isPodReady(pod) ? 1 : 0;
  const created = Date.parse(pod.metadata.creationTimestamp ?? "") || 0;
  return [scheduled, running, ready, -created];
}

function compareRank(a: Pod, b: Pod): number {
  const ra = deletionRank(a);
  const rb = deletionRank(b);
  for (let i = 0; i < ra.length; i++) if (ra[i] !== rb[i]) return ra[i]! - rb[i]!;
  return 0;
}

/** Pods created from a template, owned by `owner`. */
export function podFromTemplate(
  owner: KubeObject,
  template: PodTemplateSpec,
  extraLabels: Record<string, string> = {},
): Pod {
  const meta = template.metadata ?? {};
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      generateName: `${owner.metadata.name}-`,
      namespace: owner.metadata.namespace!,
      labels: { ...(meta.labels ?? {}), ...extraLabels },
      ...(meta.annotations ? { annotations: { ...meta.annotations } } : {}),
      ...(meta.finalizers ? { finalizers: [...meta.finalizers] } : {}),
      ownerReferences: [controllerRef(owner)],
    },
    spec: structuredClone(template.spec ?? { containers: [] }),
  };
}

/** The ReplicaSet controller. */
export class ReplicaSetController extends QueueController {
  #sets!: Informer<ReplicaSet>;
  #pods!: Informer<Pod>;
  #expectations!: Expectations;
  #selectors = new WeakMap<ReplicaSet, Selector>();

  /** Creates the controller. */
  constructor() {
    super("replicaset-controller", 4);
  }

  protected register(ctx: ControllerContext): void {
    this.#expectations = new Expectations(ctx.clock);
    this.#sets = ctx.informers.for<ReplicaSet>("apps/v1", "ReplicaSet");
    this.#pods = ctx.informers.for<Pod>("v1", "Pod");
    this.#sets.on({
      add: (rs) => this.enqueue(objectKey(rs)),
      update: (_, rs) => this.enqueue(objectKey(rs)),
      delete: (rs) => {
        this.#expectations.forget(objectKey(rs));
        this.enqueue(objectKey(rs));
      },
    });
    this.#pods.on({
      add: (pod) => {
        const key = controllerKey(pod, "ReplicaSet");
        if (key) {
          this.#expectations.observeAdd(key);
          this.enqueue(key);
        } else if (!controllerOf(pod)) this.#enqueueMatching(pod);
      },
      update: (old, pod) => {
        const key = controllerKey(pod, "ReplicaSet");
        if (pod.metadata.deletionTimestamp && !old.metadata.deletionTimestamp && key) {
          this.#expectations.observeDelete(key, pod.metadata.uid!);
        }
        const oldKey = controllerKey(old, "ReplicaSet");
        if (oldKey && oldKey !== key) this.enqueue(oldKey);
        if (key) this.enqueue(key);
        else if (!controllerOf(pod)) this.#enqueueMatching(pod);
      },
      delete: (pod) => {
        const key = controllerKey(pod, "ReplicaSet");
        if (!key) return;
        this.#expectations.observeDelete(key, pod.metadata.uid!);
        this.enqueue(key);
      },
    });
  }

  #selector(rs: ReplicaSet): Selector {
    let s = this.#selectors.get(rs);
    if (!s) this.#selectors.set(rs, s = selectorFromLabelSelector(rs.spec?.selector));
    return s;
  }

  #enqueueMatching(pod: Pod): void {
    for (const rs of this.#sets.list()) {
      if (rs.metadata.namespace === pod.metadata.namespace && this.#selector(rs).matches(pod.metadata.labels)) {
        this.enqueue(objectKey(rs));
      }
    }
  }

  async reconcile(key: string): Promise<void> {
    const rs = this.#sets.get(key);
    if (!rs) {
      this.#expectations.forget(key);
      return;
    }
    const selector = this.#selector(rs);
    const owned: Pod[] = [];
    for (const pod of this.#pods.list()) {
      if (pod.metadata.namespace !== rs.metadata.namespace) continue;
      if (isControlledBy(pod, rs)) {
        if (selector.matches(pod.metadata.labels)) owned.push(pod);
        else await this.#release(rs, pod);
      } else if (!controllerOf(pod) && selector.matches(pod.metadata.labels) && !rs.metadata.deletionTimestamp) {
        const adopted = await this.#adopt(rs, pod);
        if (adopted) owned.push(adopted);
      }
    }
    const active = owned.filter(isActivePod);
    if (!rs.metadata.deletionTimestamp && this.#expectations.satisfied(key)) {
      await this.#manage(rs, key, active);
    }
    await this.#updateStatus(rs, active);
  }

  async #manage(rs: ReplicaSet, key: string, active: Pod[]): Promise<void> {
    const want = rs.spec?.replicas ?? 1;
    const diff = want - active.length;
    const pods = this.ctx.client.kind<Pod>("v1", "Pod");
    if (diff > 0) {
      const total = Math.min(diff, MAX_BATCH);
      this.#expectations.expectAdds(key, total);
      let created = 0;
      let attempted = 0;
      let failure: unknown;
      for (let batch = 1; attempted < total && failure === undefined; batch *= 2) {
        const size = Math.min(batch, total - attempted);
        attempted += size;
        const results = await Promise.allSettled(
          Array.from({ length: size }, () => pods.create(podFromTemplate(rs, rs.spec?.template ?? {}))),
        );
        for (const r of results) {
          if (r.status === "fulfilled") created++;
          else {
            failure ??= r.reason;
            this.#expectations.observeAdd(key);
          }
        }
      }
      for (let i = attempted; i < total; i++) this.#expectations.observeAdd(key);
      if (failure !== undefined) {
        this.ctx.recorder.event(rs, "Warning", "FailedCreate", `Error creating: ${messageOf(failure)}`);
        throw failure;
      }
      this.ctx.recorder.event(rs, "Normal", "SuccessfulCreate", `Created ${created} pod(s)`);
    } else if (diff < 0) {
      const victims = [...active].sort(compareRank).slice(0, -diff);
      this.#expectations.expectDeletes(key, victims.map((p) => p.metadata.uid!));
      const results = await Promise.allSettled(
        victims.map((p) => pods.delete(p.metadata.name!, { namespace: p.metadata.namespace! })),
      );
      results.forEach((r, i) => {
        if (r.status === "rejected") {
          this.#expectations.observeDelete(key, victims[i]!.metadata.uid!);
          if (r.reason instanceof NotFoundError) return;
          this.ctx.recorder.event(rs, "Warning", "FailedDelete", `Error deleting: ${messageOf(r.reason)}`);
        }
      });
      const names = victims.map((p) => p.metadata.name).join(", ");
      this.ctx.recorder.event(rs, "Normal", "SuccessfulDelete", `Deleted pod(s): ${names}`);
    }
  }

  async #adopt(rs: ReplicaSet, pod: Pod): Promise<Pod | undefined> {
    try {
      return await this.ctx.client.kind<Pod>("v1", "Pod").patch(pod.metadata.name!, {
        metadata: {
          ownerReferences: [...(pod.metadata.ownerReferences ?? []), controllerRef(rs)],
          uid: pod.metadata.uid,
        },
      }, { namespace: pod.metadata.namespace! });
    } catch (err) {
      if (err instanceof NotFoundError || err instanceof ConflictError) return undefined;
      throw err;
    }
  }

  async #release(rs: ReplicaSet, pod: Pod): Promise<void> {
    const refs = (pod.metadata.ownerReferences ?? []).filter((r) => r.uid !== rs.metadata.uid);
    try {
      await this.ctx.client.kind<Pod>("v1", "Pod").patch(pod.metadata.name!, {
        metadata: { ownerReferences: refs.length > 0 ? refs : null, uid: pod.metadata.uid },
      }, { namespace: pod.metadata.namespace! });
    } catch (err) {
      if (!(err instanceof NotFoundError || err instanceof ConflictError)) throw err;
    }
  }

  async #updateStatus(rs: ReplicaSet, active: Pod[]): Promise<void> {
    const now = this.ctx.clock.now();
    const minReady = rs.spec?.minReadySeconds ?? 0;
    const templateLabels = rs.spec?.template?.metadata?.labels ?? {};
    const status = {
      replicas: active.length,
      fullyLabeledReplicas:
        active.filter((p) => Object.entries(templateLabels).every(([k, v]) => p.metadata.labels?.[k] === v)).length,
      readyReplicas: active.filter(isPodReady).length,
      availableReplicas: active.filter((p) => isPodAvailable(p, minReady, now)).length,
      observedGeneration: rs.metadata.generation ?? 1,
    };
    const current = rs.status ?? { replicas: 0 };
    const same = (Object.keys(status) as (keyof typeof status)[]).every((k) => (current[k] ?? 0) === status[k]);
    if (same) return;
    try {
      await this.ctx.client.kind<ReplicaSet>("apps/v1", "ReplicaSet").patch(
        rs.metadata.name!,
        { status },
        { namespace: rs.metadata.namespace!, subresource: "status" },
      );
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
    if (minReady > 0 && status.readyReplicas > status.availableReplicas) {
      this.queue.addAfter(objectKey(rs), minReady * 1000);
    }
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
