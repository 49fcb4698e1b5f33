/**
 * The Deployment controller: one ReplicaSet per pod template (named by the
 * template's hash), rolled out with RollingUpdate (never more than
 * replicas + maxSurge pods, never fewer than replicas - maxUnavailable
 * available) or Recreate, with revisions for rollback, history cleanup and
 * the status and conditions `rollout status` reads.
 *
 * @module
 */

import {
  AlreadyExistsError,
  type Condition,
  ConflictError,
  type Deployment,
  type IntOrString,
  type KubeObject,
  NotFoundError,
  type Pod,
  type PodTemplateSpec,
  type ReplicaSet,
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
  objectKey,
  QueueController,
} from "./controller.ts";

/** Annotation holding a ReplicaSet's (and its Deployment's) revision. */
export const REVISION_ANNOTATION = "deployment.kubernetes.io/revision";
/** The label that ties a ReplicaSet's pods to its template. */
export const POD_TEMPLATE_HASH = "pod-template-hash";
const CHANGE_CAUSE = "kubernetes.io/change-cause";
const SAFE = "bcdfghjklmnpqrstvwxz2456789";

function stable(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v) =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
        : v,
  );
}

/** The pod-template hash, as Kubernetes spells it (FNV-1a of the template, in a safe alphabet). */
export function templateHash(template: PodTemplateSpec | undefined, collisionCount = 0): string {
  const text = stable(template ?? {}) + (collisionCount ? String(collisionCount) : "");
  let h = 0x811c9dc5;
  const bytes = new TextEncoder().encode(text);
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return [...String(h)].map((c) => SAFE[c.charCodeAt(0) % SAFE.length]).join("");
}

/** Resolves an int-or-percent against `total` (percentages rounded up or down). */
export function resolveIntOrPercent(
  value: IntOrString | undefined,
  options: { total: number; roundUp: boolean; fallback?: number },
): number {
  const { total, roundUp, fallback = 0 } = options;
  if (value === undefined || value === null) return fallback;
  if (typeof value === "number") return value;
  const match = /^(\d+)%$/.exec(value);
  if (!match) return Number.isFinite(Number(value)) ? Number(value) : fallback;
  const exact = (Number(match[1]) * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

/** Drops object fields whose value is null, at every depth: a null field means the same as an absent one. */
function withoutNulls<T>(value: T): T {
  if (Array.isArray(value)) return value.map(withoutNulls) as T;
  if (!value || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).filter(([, v]) => v !== null).map(([k, v]) => [k, withoutNulls(v)]),
  ) as T;
}

/**
 * The template without its pod-template-hash label and null fields, so a
 * template that `kubectl rollout undo` copies back (with
 * `metadata.creationTimestamp: null`) matches the ReplicaSet it came from.
 */
function withoutHash(template: PodTemplateSpec | undefined): PodTemplateSpec {
  const copy = withoutNulls(structuredClone(template ?? {}));
  if (copy.metadata?.labels) delete copy.metadata.labels[POD_TEMPLATE_HASH];
  return copy;
}

function revisionOf(obj: KubeObject): number {
  return Number(obj.metadata.annotations?.[REVISION_ANNOTATION] ?? 0) || 0;
}

function replicasOf(rs: ReplicaSet): number {
  return rs.spec?.replicas ?? 0;
}

function available(rs: ReplicaSet): number {
  return rs.status?.availableReplicas ?? 0;
}

/** The Deployment controller. */
export class DeploymentController extends QueueController {
  #deployments!: Informer<Deployment>;
  #sets!: Informer<ReplicaSet>;
  #pods!: Informer<Pod>;

  /** Creates the controller. */
  constructor() {
    super("deployment-controller", 4);
  }

  protected register(ctx: ControllerContext): void {
    this.#deployments = ctx.informers.for<Deployment>("apps/v1", "Deployment");
    this.#sets = ctx.informers.for<ReplicaSet>("apps/v1", "ReplicaSet");
    this.#pods = ctx.informers.for<Pod>("v1", "Pod");
    this.#deployments.on({
      add: (d) => this.enqueue(objectKey(d)),
      update: (_, d) => this.enqueue(objectKey(d)),
      delete: (d) => this.enqueue(objectKey(d)),
    });
    const owner = (rs: ReplicaSet) => {
      const key = controllerKey(rs, "Deployment");
      if (key) this.enqueue(key);
      else if (!controllerOf(rs)) this.#enqueueMatching(rs);
    };
    this.#sets.on({ add: owner, update: (_, rs) => owner(rs), delete: owner });
    this.#pods.on({
      delete: (pod) => {
        const rsKey = controllerKey(pod, "ReplicaSet");
        const rs = rsKey ? this.#sets.get(rsKey) : undefined;
        const key = rs ? controllerKey(rs, "Deployment") : undefined;
        if (key && this.#deployments.get(key)?.spec?.strategy?.type === "Recreate") this.enqueue(key);
      },
    });
  }

  #enqueueMatching(rs: ReplicaSet): void {
    for (const d of this.#deployments.list()) {
      if (
        d.metadata.namespace === rs.metadata.namespace &&
        selectorFromLabelSelector(d.spec?.selector).matches(rs.metadata.labels)
      ) this.enqueue(objectKey(d));
    }
  }

  async reconcile(key: string): Promise<void> {
    const d = this.#deployments.get(key);
    if (!d || d.metadata.deletionTimestamp) return;
    const sets = await this.#claimReplicaSets(d);
    const { newRS, old } = await this.#newReplicaSet(d, sets);
    if (!d.spec?.paused) {
      if (d.spec?.strategy?.type === "Recreate") await this.#recreate(d, newRS, old);
      else await this.#rollingUpdate(d, newRS, old);
      await this.#cleanup(d, old);
    }
    await this.#updateStatus(d, newRS, old);
  }

  async #claimReplicaSets(d: Deployment): Promise<ReplicaSet[]> {
    const selector = selectorFromLabelSelector(d.spec?.selector);
    const owned: ReplicaSet[] = [];
    const client = this.ctx.client.kind<ReplicaSet>("apps/v1", "ReplicaSet");
    for (const rs of this.#sets.list()) {
      if (rs.metadata.namespace !== d.metadata.namespace) continue;
      if (isControlledBy(rs, d)) owned.push(rs);
      else if (!controllerOf(rs) && selector.matches(rs.metadata.labels)) {
        try {
          owned.push(
            await client.patch(rs.metadata.name!, {
              metadata: {
                ownerReferences: [...(rs.metadata.ownerReferences ?? []), controllerRef(d)],
                uid: rs.metadata.uid,
              },
            }, { namespace: rs.metadata.namespace! }),
          );
        } catch (err) {
          if (!(err instanceof NotFoundError || err instanceof ConflictError)) throw err;
        }
      }
    }
    return owned;
  }

  /** Finds (or creates) the ReplicaSet of the current template and gives it the newest revision. */
  async #newReplicaSet(d: Deployment, sets: ReplicaSet[]): Promise<{ newRS: ReplicaSet; old: ReplicaSet[] }> {
    const client = this.ctx.client.kind<ReplicaSet>("apps/v1", "ReplicaSet");
    const template = stable(withoutHash(d.spec?.template));
    const existing = sets.find((rs) => stable(withoutHash(rs.spec?.template)) === template);
    const maxOld = Math.max(0, ...sets.filter((rs) => rs !== existing).map(revisionOf));
    const cause = d.metadata.annotations?.[CHANGE_CAUSE];
    if (existing) {
      const old = sets.filter((rs) => rs !== existing);
      if (revisionOf(existing) > maxOld && (!cause || existing.metadata.annotations?.[CHANGE_CAUSE] === cause)) {
        return { newRS: existing, old };
      }
      const annotations: Record<string, string> = {
        [REVISION_ANNOTATION]: String(Math.max(revisionOf(existing), maxOld + 1)),
      };
      if (cause) annotations[CHANGE_CAUSE] = cause;
      const newRS = await client.patch(existing.metadata.name!, { metadata: { annotations } }, {
        namespace: existing.metadata.namespace!,
      });
      return { newRS, old };
    }
    const collisionCount = d.status?.collisionCount ?? 0;
    const hash = templateHash(withoutHash(d.spec?.template), collisionCount);
    const rsTemplate = withoutHash(d.spec?.template);
    rsTemplate.metadata = {
      ...rsTemplate.metadata,
      labels: { ...rsTemplate.metadata?.labels, [POD_TEMPLATE_HASH]: hash },
    };
    const selector = structuredClone(d.spec!.selector);
    selector.matchLabels = { ...selector.matchLabels, [POD_TEMPLATE_HASH]: hash };
    const replicas = d.spec?.replicas ?? 1;
    const surge = resolveIntOrPercent(d.spec?.strategy?.rollingUpdate?.maxSurge, { total: replicas, roundUp: true });
    const oldTotal = sets.reduce((n, rs) => n + replicasOf(rs), 0);
    const initial = d.spec?.strategy?.type === "Recreate"
      ? (oldTotal === 0 ? replicas : 0)
      : Math.max(0, Math.min(replicas, replicas + surge - oldTotal));
    const annotations: Record<string, string> = {
      [REVISION_ANNOTATION]: String(maxOld + 1),
      "deployment.kubernetes.io/desired-replicas": String(replicas),
      "deployment.kubernetes.io/max-replicas": String(replicas + surge),
    };
    if (cause) annotations[CHANGE_CAUSE] = cause;
    try {
      const newRS = await client.create({
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        metadata: {
          name: `${d.metadata.name}-${hash}`,
          namespace: d.metadata.namespace!,
          labels: { ...rsTemplate.metadata.labels },
          annotations,
          ownerReferences: [controllerRef(d)],
        },
        spec: { replicas: initial, minReadySeconds: d.spec?.minReadySeconds ?? 0, selector, template: rsTemplate },
      });
      this.ctx.recorder.event(
        d,
        "Normal",
        "ScalingReplicaSet",
        `Scaled up replica set ${newRS.metadata.name} to ${initial}`,
      );
      return { newRS, old: sets };
    } catch (err) {
      if (!(err instanceof AlreadyExistsError)) throw err;
      await this.ctx.client.kind<Deployment>("apps/v1", "Deployment").patch(d.metadata.name!, {
        status: { collisionCount: collisionCount + 1 },
      }, { namespace: d.metadata.namespace!, subresource: "status" });
      throw new ConflictError(`ReplicaSet name for template hash ${hash} is taken; retrying with a new hash`);
    }
  }

  async #scale(d: Deployment, rs: ReplicaSet, replicas: number): Promise<ReplicaSet> {
    if (replicasOf(rs) === replicas) return rs;
    const verb = replicas > replicasOf(rs) ? "up" : "down";
    const scaled = await this.ctx.client.kind<ReplicaSet>("apps/v1", "ReplicaSet").patch(rs.metadata.name!, {
      metadata: { annotations: { "deployment.kubernetes.io/desired-replicas": String(d.spec?.replicas ?? 1) } },
      spec: { replicas },
    }, { namespace: rs.metadata.namespace! });
    this.ctx.recorder.event(
      d,
      "Normal",
      "ScalingReplicaSet",
      `Scaled ${verb} replica set ${rs.metadata.name} to ${replicas}`,
    );
    return scaled;
  }

  async #recreate(d: Deployment, newRS: ReplicaSet, old: ReplicaSet[]): Promise<void> {
    for (const rs of old) await this.#scale(d, rs, 0);
    const oldPodsRunning = this.#pods.list().some((p) =>
      old.some((rs) => isControlledBy(p, rs)) && (isActivePod(p) || p.metadata.deletionTimestamp)
    );
    if (oldPodsRunning) return;
    await this.#scale(d, newRS, d.spec?.replicas ?? 1);
  }

  async #rollingUpdate(d: Deployment, newRS: ReplicaSet, old: ReplicaSet[]): Promise<void> {
    const replicas = d.spec?.replicas ?? 1;
    const surge = resolveIntOrPercent(d.spec?.strategy?.rollingUpdate?.maxSurge, { total: replicas, roundUp: true });
    let unavailable = resolveIntOrPercent(d.spec?.strategy?.rollingUpdate?.maxUnavailable, {
      total: replicas,
      roundUp: false,
    });
    if (surge === 0 && unavailable === 0) unavailable = 1;
    const all = () => [newRS, ...old];
    const total = () => all().reduce((n, rs) => n + replicasOf(rs), 0);

    if (replicasOf(newRS) > replicas) newRS = await this.#scale(d, newRS, replicas);
    else if (replicasOf(newRS) < replicas) {
      const room = replicas + surge - total();
      if (room > 0) {
        newRS = await this.#scale(d, newRS, replicasOf(newRS) + Math.min(room, replicas - replicasOf(newRS)));
      }
    }

    const oldTotal = old.reduce((n, rs) => n + replicasOf(rs), 0);
    if (oldTotal === 0) return;
    const minAvailable = replicas - unavailable;
    const newUnavailable = replicasOf(newRS) - available(newRS);
    let budget = total() - minAvailable - newUnavailable;
    if (budget <= 0) return;
    const oldest = [...old].sort((a, b) => revisionOf(a) - revisionOf(b));
    for (let i = 0; i < oldest.length && budget > 0; i++) {
      const rs = oldest[i]!;
      const unhealthy = Math.max(0, replicasOf(rs) - available(rs));
      const cut = Math.min(unhealthy, budget);
      if (cut > 0) {
        oldest[i] = await this.#scale(d, rs, replicasOf(rs) - cut);
        budget -= cut;
      }
    }
    const availableNow = all().reduce((n, rs) => n + Math.min(available(rs), replicasOf(rs)), 0);
    let scaleDown = Math.min(budget, availableNow - minAvailable);
    for (let i = 0; i < oldest.length && scaleDown > 0; i++) {
      const rs = oldest[i]!;
      const cut = Math.min(replicasOf(rs), scaleDown);
      if (cut > 0) {
        oldest[i] = await this.#scale(d, rs, replicasOf(rs) - cut);
        scaleDown -= cut;
      }
    }
  }

  async #cleanup(d: Deployment, old: ReplicaSet[]): Promise<void> {
    const limit = d.spec?.revisionHistoryLimit ?? 10;
    const idle = old
      .filter((rs) => replicasOf(rs) === 0 && (rs.status?.replicas ?? 0) === 0 && !rs.metadata.deletionTimestamp)
      .sort((a, b) => revisionOf(a) - revisionOf(b));
    const client = this.ctx.client.kind<ReplicaSet>("apps/v1", "ReplicaSet");
    for (const rs of idle.slice(0, Math.max(0, idle.length - limit))) {
      try {
        await client.delete(rs.metadata.name!, { namespace: rs.metadata.namespace! });
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
      }
    }
  }

  async #updateStatus(d: Deployment, newRS: ReplicaSet, old: ReplicaSet[]): Promise<void> {
    const all = [newRS, ...old];
    const replicas = d.spec?.replicas ?? 1;
    const unavailableAllowed = resolveIntOrPercent(d.spec?.strategy?.rollingUpdate?.maxUnavailable, {
      total: replicas,
      roundUp: false,
    });
    const sum = (f: (rs: ReplicaSet) => number) => all.reduce((n, rs) => n + f(rs), 0);
    const status = {
      observedGeneration: d.metadata.generation ?? 1,
      replicas: sum((rs) => rs.status?.replicas ?? 0),
      updatedReplicas: newRS.status?.replicas ?? 0,
      readyReplicas: sum((rs) => rs.status?.readyReplicas ?? 0),
      availableReplicas: sum(available),
      unavailableReplicas: 0,
    };
    status.unavailableReplicas = Math.max(0, status.replicas - status.availableReplicas);
    const now = new Date(this.ctx.clock.now()).toISOString().replace(/\.\d{3}Z$/, "Z");
    const previous = d.status?.conditions ?? [];
    const progressed = ["updatedReplicas", "readyReplicas", "availableReplicas", "replicas"].some((k) =>
      (d.status as Record<string, unknown> | undefined)?.[k] !== status[k as keyof typeof status]
    );
    const condition = (type: string, ok: boolean, reason: string, message: string): Condition => {
      const before = previous.find((c) => c.type === type);
      const state = ok ? "True" : "False";
      const changed = !before || before.status !== state || before.reason !== reason ||
        (type === "Progressing" && progressed);
      return {
        type,
        status: state,
        lastUpdateTime: changed ? now : (before as { lastUpdateTime?: string }).lastUpdateTime ?? now,
        lastTransitionTime: before && before.status === state ? before.lastTransitionTime ?? now : now,
        reason,
        message,
      } as Condition;
    };
    const complete = status.updatedReplicas === replicas && status.replicas === replicas &&
      status.availableReplicas === replicas;
    const progressing = previous.find((c) => c.type === "Progressing");
    const deadline = (d.spec?.progressDeadlineSeconds ?? 600) * 1000;
    const lastProgress = Date.parse((progressing as { lastUpdateTime?: string } | undefined)?.lastUpdateTime ?? now);
    const stalled = !complete && progressing?.reason !== "NewReplicaSetAvailable" &&
      this.ctx.clock.now() - lastProgress > deadline;
    const conditions: Condition[] = [
      condition(
        "Available",
        status.availableReplicas >= replicas - unavailableAllowed,
        status.availableReplicas >= replicas - unavailableAllowed
          ? "MinimumReplicasAvailable"
          : "MinimumReplicasUnavailable",
        status.availableReplicas >= replicas - unavailableAllowed
          ? "Deployment has minimum availability."
          : "Deployment does not have minimum availability.",
      ),
      stalled
        ? condition(
          "Progressing",
          false,
          "ProgressDeadlineExceeded",
          `ReplicaSet "${newRS.metadata.name}" has timed out progressing.`,
        )
        : complete
        ? condition(
          "Progressing",
          true,
          "NewReplicaSetAvailable",
          `ReplicaSet "${newRS.metadata.name}" has successfully progressed.`,
        )
        : condition("Progressing", true, "ReplicaSetUpdated", `ReplicaSet "${newRS.metadata.name}" is progressing.`),
    ];
    const revision = newRS.metadata.annotations?.[REVISION_ANNOTATION];
    const client = this.ctx.client.kind<Deployment>("apps/v1", "Deployment");
    if (revision && d.metadata.annotations?.[REVISION_ANNOTATION] !== revision) {
      await client.patch(d.metadata.name!, { metadata: { annotations: { [REVISION_ANNOTATION]: revision } } }, {
        namespace: d.metadata.namespace!,
      });
    }
    const next = { ...d.status, ...status, conditions };
    if (stable(stripTimes(next)) === stable(stripTimes(d.status ?? {}))) return;
    await client.patch(d.metadata.name!, { status: next }, { namespace: d.metadata.namespace!, subresource: "status" });
    if (!complete && !stalled) this.queue.addAfter(objectKey(d), deadline + 1000);
  }
}

function stripTimes(status: object): unknown {
  const conditions = (status as { conditions?: Condition[] }).conditions?.map(({ type, status, reason }) => ({
    type,
    status,
    reason,
  }));
  return { ...status, conditions };
}
