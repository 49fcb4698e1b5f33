/**
 * The StatefulSet controller: pods with stable names `<set>-<ordinal>`,
 * created in order (OrderedReady: ordinal i only once 0..i-1 are Running
 * and Ready; deleted in reverse) or all at once (Parallel); scale-down from
 * the highest ordinal; RollingUpdate in reverse ordinal order down to the
 * partition, telling templates apart by the `controller-revision-hash`
 * label; per-pod claims from volumeClaimTemplates created before the pod.
 *
 * @module
 */

import {
  AlreadyExistsError,
  ForbiddenError,
  NotFoundError,
  type OwnerReference,
  type PersistentVolumeClaim,
  type Pod,
  type PodTemplateSpec,
  selectorFromLabelSelector,
  type StatefulSet,
  type StatefulSetStatus,
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
import { templateHash } from "./deployment.ts";
import { Expectations } from "./_expectations.ts";
import { podFromTemplate } from "./replicaset.ts";
import { claimPods, ignoreNotFound, messageOf, REVISION_HASH_LABEL } from "./_workload.ts";

/** Label holding a StatefulSet pod's name (for per-pod Services). */
export const POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name";
/** Label holding a StatefulSet pod's ordinal. */
export const POD_INDEX_LABEL = "apps.kubernetes.io/pod-index";

/** The ordinal of `pod` in `set` (from its name `<set>-<ordinal>`), or undefined when it is not a member. */
export function podOrdinal(set: StatefulSet, pod: Pod): number | undefined {
  const prefix = `${set.metadata.name}-`;
  const name = pod.metadata.name ?? "";
  if (!name.startsWith(prefix)) return undefined;
  const rest = name.slice(prefix.length);
  return /^(0|[1-9]\d*)$/.test(rest) ? Number(rest) : undefined;
}

/** The revision name of a template: `<set>-<hash>`, the value of the pods' `controller-revision-hash` label. */
export function revisionName(set: StatefulSet, template: PodTemplateSpec | undefined): string {
  return `${set.metadata.name}-${templateHash(template)}`;
}

/** The name of the claim a pod of `set` gets from the claim template `claim`: `<claim>-<set>-<ordinal>`. */
export function claimName(set: StatefulSet, claim: PersistentVolumeClaim, ordinal: number): string {
  return `${claim.metadata.name}-${set.metadata.name}-${ordinal}`;
}

/** The pod with ordinal `ordinal` of `set`, from `template`, labelled with `revision`. */
export function newStatefulPod(set: StatefulSet, ordinal: number, template: PodTemplateSpec, revision: string): Pod {
  const name = `${set.metadata.name}-${ordinal}`;
  const pod = podFromTemplate(set, template, {
    [REVISION_HASH_LABEL]: revision,
    [POD_NAME_LABEL]: name,
    [POD_INDEX_LABEL]: String(ordinal),
  });
  delete pod.metadata.generateName;
  pod.metadata.name = name;
  const spec = pod.spec!;
  spec.hostname = name;
  if (set.spec?.serviceName) spec.subdomain = set.spec.serviceName;
  const claims = set.spec?.volumeClaimTemplates ?? [];
  if (claims.length > 0) {
    const names = new Set(claims.map((c) => c.metadata.name));
    spec.volumes = [
      ...(spec.volumes ?? []).filter((v) => !names.has(v.name)),
      ...claims.map((c) => ({
        name: c.metadata.name!,
        persistentVolumeClaim: { claimName: claimName(set, c, ordinal) },
      })),
    ];
  }
  return pod;
}

const isFinished = (pod: Pod) => pod.status?.phase === "Failed" || pod.status?.phase === "Succeeded";
const isTerminating = (pod: Pod) => Boolean(pod.metadata.deletionTimestamp);
const revisionOf = (pod: Pod) => pod.metadata.labels?.[REVISION_HASH_LABEL];

/** The StatefulSet controller. */
export class StatefulSetController extends QueueController {
  #sets!: Informer<StatefulSet>;
  #pods!: Informer<Pod>;
  #claims!: Informer<PersistentVolumeClaim>;
  #expectations!: Expectations;
  /** Templates seen per revision name, so pods below a partition can be recreated at the current revision. */
  #templates = new Map<string, PodTemplateSpec>();

  /** Creates the controller. */
  constructor() {
    super("statefulset-controller", 2);
  }

  protected register(ctx: ControllerContext): void {
    this.#expectations = new Expectations(ctx.clock);
    this.#sets = ctx.informers.for<StatefulSet>("apps/v1", "StatefulSet");
    this.#pods = ctx.informers.for<Pod>("v1", "Pod");
    this.#claims = ctx.informers.for<PersistentVolumeClaim>("v1", "PersistentVolumeClaim");
    const remember = (set: StatefulSet) => {
      if (set.spec?.template) this.#templates.set(revisionName(set, set.spec.template), set.spec.template);
    };
    this.#sets.on({
      add: (set) => {
        remember(set);
        this.enqueue(objectKey(set));
      },
      update: (old, set) => {
        remember(old);
        remember(set);
        this.enqueue(objectKey(set));
      },
      delete: (set) => {
        for (const [name] of this.#templates) {
          if (name.startsWith(`${set.metadata.name}-`)) this.#templates.delete(name);
        }
        this.#expectations.forget(objectKey(set));
        this.enqueue(objectKey(set));
      },
    });
    const owner = (pod: Pod) => {
      const key = controllerKey(pod, "StatefulSet");
      if (key) this.enqueue(key);
      else if (!controllerOf(pod)) this.#enqueueMatching(pod);
    };
    this.#pods.on({
      add: (pod) => {
        const key = controllerKey(pod, "StatefulSet");
        if (key) this.#expectations.observeAdd(key);
        owner(pod);
      },
      update: (old, pod) => {
        const key = controllerKey(pod, "StatefulSet");
        if (key && pod.metadata.deletionTimestamp && !old.metadata.deletionTimestamp) {
          this.#expectations.observeDelete(key, pod.metadata.uid!);
        }
        const oldKey = controllerKey(old, "StatefulSet");
        if (oldKey && oldKey !== key) this.enqueue(oldKey);
        owner(pod);
      },
      delete: (pod) => {
        const key = controllerKey(pod, "StatefulSet");
        if (key) this.#expectations.observeDelete(key, pod.metadata.uid!);
        owner(pod);
      },
    });
  }

  #enqueueMatching(pod: Pod): void {
    for (const set of this.#sets.list()) {
      if (
        set.metadata.namespace === pod.metadata.namespace &&
        selectorFromLabelSelector(set.spec?.selector).matches(pod.metadata.labels)
      ) this.enqueue(objectKey(set));
    }
  }

  async reconcile(key: string): Promise<void> {
    const set = this.#sets.get(key);
    if (!set) {
      this.#expectations.forget(key);
      return;
    }
    if (set.metadata.deletionTimestamp) return;
    const pods = await claimPods(this.ctx, set, this.#pods.list(), {
      selector: selectorFromLabelSelector(set.spec?.selector),
      canAdopt: (pod) => podOrdinal(set, pod) !== undefined,
    });
    const members = pods.filter((p) => podOrdinal(set, p) !== undefined);
    const updateRevision = revisionName(set, set.spec?.template);
    const currentRevision = set.status?.currentRevision || updateRevision;
    if (this.#expectations.satisfied(key)) await this.#manage(set, members, currentRevision, updateRevision);
    await this.#updateStatus(set, members, currentRevision, updateRevision);
  }

  #healthy(set: StatefulSet, pod: Pod | undefined): pod is Pod {
    if (!pod || isTerminating(pod) || pod.status?.phase !== "Running" || !isPodReady(pod)) return false;
    return isPodAvailable(pod, set.spec?.minReadySeconds ?? 0, this.ctx.clock.now());
  }

  /** One step towards the desired pods, as Kubernetes' StatefulSet control loop takes it. */
  async #manage(set: StatefulSet, members: Pod[], currentRevision: string, updateRevision: string): Promise<void> {
    const monotonic = set.spec?.podManagementPolicy !== "Parallel";
    const start = set.spec?.ordinals?.start ?? 0;
    const end = start + (set.spec?.replicas ?? 1);
    const slots = new Map<number, Pod>();
    const condemned: Pod[] = [];
    for (const pod of members) {
      const ordinal = podOrdinal(set, pod)!;
      if (ordinal >= start && ordinal < end) slots.set(ordinal, pod);
      else condemned.push(pod);
    }
    condemned.sort((a, b) => podOrdinal(set, b)! - podOrdinal(set, a)!);
    const order = [...Array.from({ length: end - start }, (_, i) => slots.get(start + i)), ...condemned];
    const firstUnhealthy = order.find((p) => !this.#healthy(set, p));

    for (let ordinal = start; ordinal < end; ordinal++) {
      const pod = slots.get(ordinal);
      if (pod && isFinished(pod) && !isTerminating(pod)) {
        await this.#deletePod(set, pod);
        if (monotonic) return;
        continue;
      }
      if (!pod) {
        await this.#createPod(set, ordinal, currentRevision, updateRevision);
        if (monotonic) return;
        continue;
      }
      if (!this.#healthy(set, pod)) {
        if (monotonic) return;
        continue;
      }
      await this.#ensureIdentity(set, pod, ordinal);
      await this.#ensureClaims(set, ordinal);
    }

    for (const pod of condemned) {
      if (isTerminating(pod)) {
        if (monotonic) return;
        continue;
      }
      if (monotonic && firstUnhealthy && firstUnhealthy !== pod) return;
      await this.#releaseClaims(set, pod);
      await this.#deletePod(set, pod);
      if (monotonic) return;
    }

    if (set.spec?.updateStrategy?.type === "OnDelete") return;
    const partition = Math.max(start, set.spec?.updateStrategy?.rollingUpdate?.partition ?? 0);
    for (let ordinal = end - 1; ordinal >= partition; ordinal--) {
      const pod = slots.get(ordinal);
      if (!pod) return;
      if (revisionOf(pod) !== updateRevision && !isTerminating(pod)) {
        await this.#deletePod(set, pod);
        return;
      }
      if (!this.#healthy(set, pod)) return;
    }
  }

  /** The template and revision of a new pod: below the partition, the current revision's while it is known. */
  #versionFor(set: StatefulSet, ordinal: number, currentRevision: string, updateRevision: string) {
    const partition = set.spec?.updateStrategy?.rollingUpdate?.partition ?? 0;
    const current = this.#templates.get(currentRevision);
    if (
      currentRevision !== updateRevision && set.spec?.updateStrategy?.type !== "OnDelete" && ordinal < partition &&
      current
    ) {
      return { template: current, revision: currentRevision };
    }
    return { template: set.spec?.template ?? {}, revision: updateRevision };
  }

  async #createPod(set: StatefulSet, ordinal: number, currentRevision: string, updateRevision: string) {
    await this.#ensureClaims(set, ordinal);
    const { template, revision } = this.#versionFor(set, ordinal, currentRevision, updateRevision);
    const pod = newStatefulPod(set, ordinal, template, revision);
    const key = objectKey(set);
    this.#expectations.expectAdds(key, 1);
    try {
      await this.ctx.client.kind<Pod>("v1", "Pod").create(pod);
    } catch (err) {
      this.#expectations.observeAdd(key);
      if (err instanceof AlreadyExistsError || err instanceof ForbiddenError) return;
      this.ctx.recorder.event(
        set,
        "Warning",
        "FailedCreate",
        `create Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} failed error: ${messageOf(err)}`,
      );
      throw err;
    }
    this.ctx.recorder.event(
      set,
      "Normal",
      "SuccessfulCreate",
      `create Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} successful`,
    );
  }

  async #deletePod(set: StatefulSet, pod: Pod): Promise<void> {
    const key = objectKey(set);
    this.#expectations.expectDeletes(key, [pod.metadata.uid!]);
    try {
      await this.ctx.client.kind<Pod>("v1", "Pod").delete(pod.metadata.name!, {
        namespace: pod.metadata.namespace!,
        preconditions: { uid: pod.metadata.uid! },
      });
    } catch (err) {
      this.#expectations.observeDelete(key, pod.metadata.uid!);
      if (err instanceof NotFoundError) return;
      this.ctx.recorder.event(
        set,
        "Warning",
        "FailedDelete",
        `delete Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} failed error: ${messageOf(err)}`,
      );
      throw err;
    }
    this.ctx.recorder.event(
      set,
      "Normal",
      "SuccessfulDelete",
      `delete Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} successful`,
    );
  }

  /** Restores the identity labels of an adopted or edited pod. */
  async #ensureIdentity(set: StatefulSet, pod: Pod, ordinal: number): Promise<void> {
    const want = { [POD_NAME_LABEL]: pod.metadata.name!, [POD_INDEX_LABEL]: String(ordinal) };
    if (Object.entries(want).every(([k, v]) => pod.metadata.labels?.[k] === v)) return;
    await ignoreNotFound(
      this.ctx.client.kind<Pod>("v1", "Pod").patch(pod.metadata.name!, { metadata: { labels: want } }, {
        namespace: pod.metadata.namespace!,
      }),
    );
    this.ctx.recorder.event(
      set,
      "Normal",
      "UpdatedIdentity",
      `Restored the identity labels of pod ${pod.metadata.name}`,
    );
  }

  /**
   * Creates the claims of `ordinal` that do not exist. They are owned by
   * nobody, so they outlive the pod and the set, unless the retention
   * policy says `whenDeleted: Delete` (then the set owns them).
   */
  async #ensureClaims(set: StatefulSet, ordinal: number): Promise<void> {
    const claims = this.ctx.client.kind<PersistentVolumeClaim>("v1", "PersistentVolumeClaim");
    const namespace = set.metadata.namespace!;
    const ownedBySet = set.spec?.persistentVolumeClaimRetentionPolicy?.whenDeleted === "Delete";
    for (const template of set.spec?.volumeClaimTemplates ?? []) {
      const name = claimName(set, template, ordinal);
      if (this.#claims.get(`${namespace}/${name}`)) continue;
      const owners: OwnerReference[] = ownedBySet
        ? [{
          apiVersion: "apps/v1",
          kind: "StatefulSet",
          name: set.metadata.name!,
          uid: set.metadata.uid!,
          blockOwnerDeletion: true,
        }]
        : [];
      const claim: PersistentVolumeClaim = {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: {
          name,
          namespace,
          labels: { ...template.metadata.labels, ...set.spec?.selector?.matchLabels },
          ...(template.metadata.annotations ? { annotations: { ...template.metadata.annotations } } : {}),
          ...(owners.length > 0 ? { ownerReferences: owners } : {}),
        },
        spec: structuredClone(template.spec ?? {}),
      };
      const podName = `${set.metadata.name}-${ordinal}`;
      try {
        await claims.create(claim);
      } catch (err) {
        if (err instanceof AlreadyExistsError) continue;
        this.ctx.recorder.event(
          set,
          "Warning",
          "FailedCreate",
          `create Claim ${name} for Pod ${podName} in StatefulSet ${set.metadata.name} failed error: ${messageOf(err)}`,
        );
        throw err;
      }
      this.ctx.recorder.event(
        set,
        "Normal",
        "SuccessfulCreate",
        `create Claim ${name} Pod ${podName} in StatefulSet ${set.metadata.name} success`,
      );
    }
  }

  /** With `whenScaled: Delete`, hands a condemned pod's claims to the pod, so they go with it. */
  async #releaseClaims(set: StatefulSet, pod: Pod): Promise<void> {
    if (set.spec?.persistentVolumeClaimRetentionPolicy?.whenScaled !== "Delete") return;
    const claims = this.ctx.client.kind<PersistentVolumeClaim>("v1", "PersistentVolumeClaim");
    const namespace = set.metadata.namespace!;
    const ordinal = podOrdinal(set, pod)!;
    for (const template of set.spec?.volumeClaimTemplates ?? []) {
      const claim = this.#claims.get(`${namespace}/${claimName(set, template, ordinal)}`);
      if (!claim || claim.metadata.ownerReferences?.some((r) => r.uid === pod.metadata.uid)) continue;
      const ref = { apiVersion: "v1", kind: "Pod", name: pod.metadata.name!, uid: pod.metadata.uid! };
      await ignoreNotFound(claims.patch(claim.metadata.name!, {
        metadata: { ownerReferences: [...(claim.metadata.ownerReferences ?? []), ref] },
      }, { namespace }));
    }
  }

  async #updateStatus(
    set: StatefulSet,
    members: Pod[],
    currentRevision: string,
    updateRevision: string,
  ): Promise<void> {
    const now = this.ctx.clock.now();
    const minReady = set.spec?.minReadySeconds ?? 0;
    const status: StatefulSetStatus = {
      observedGeneration: set.metadata.generation ?? 1,
      replicas: 0,
      readyReplicas: 0,
      availableReplicas: 0,
      currentReplicas: 0,
      updatedReplicas: 0,
      currentRevision,
      updateRevision,
    };
    for (const pod of members) {
      status.replicas++;
      if (pod.status?.phase === "Running" && isPodReady(pod)) {
        status.readyReplicas!++;
        if (isPodAvailable(pod, minReady, now)) status.availableReplicas!++;
      }
      if (isTerminating(pod)) continue;
      if (revisionOf(pod) === currentRevision) status.currentReplicas!++;
      if (revisionOf(pod) === updateRevision) status.updatedReplicas!++;
    }
    if (status.updatedReplicas === status.replicas && status.readyReplicas === status.replicas) {
      status.currentRevision = updateRevision;
      status.currentReplicas = status.updatedReplicas;
    }
    const current = (set.status ?? {}) as unknown as Record<string, unknown>;
    const same = Object.entries(status).every(([k, v]) => (current[k] ?? (typeof v === "number" ? 0 : "")) === v);
    if (!same) {
      await ignoreNotFound(
        this.ctx.client.kind<StatefulSet>("apps/v1", "StatefulSet").patch(set.metadata.name!, { status }, {
          namespace: set.metadata.namespace!,
          subresource: "status",
        }),
      );
    }
    if (minReady > 0 && status.readyReplicas! > status.availableReplicas!) {
      this.queue.addAfter(objectKey(set), minReady * 1000);
    }
  }
}
