/**
 * PVC protection: a claim keeps the `kubernetes.io/pvc-protection`
 * finalizer (admission adds it on create; this controller adds it to
 * claims that lack it), and once the claim's deletion is asked for the
 * finalizer goes only when no scheduled pod that has not finished
 * (Succeeded or Failed) uses the claim, so a volume is never pulled from
 * under a running pod. While it waits, the claim says so in an event.
 *
 * @module
 */

import { FINALIZER_PVC_PROTECTION, type PersistentVolumeClaim, type Pod } from "@skiff/api";
import type { Informer } from "@skiff/client";
import { type ControllerContext, objectKey, QueueController } from "./controller.ts";
import { ignoreNotFound } from "./_workload.ts";

/** The claims a pod's volumes name. */
export function claimNamesOf(pod: Pod): string[] {
  return (pod.spec?.volumes ?? []).flatMap((v) => v.persistentVolumeClaim?.claimName ?? []);
}

/** True when `pod` holds claim `name` of its namespace: it is scheduled, unfinished, and names the claim. */
export function podHoldsClaim(pod: Pod, name: string): boolean {
  const phase = pod.status?.phase;
  if (!pod.spec?.nodeName || phase === "Succeeded" || phase === "Failed") return false;
  return claimNamesOf(pod).includes(name);
}

function hasFinalizer(claim: PersistentVolumeClaim): boolean {
  return claim.metadata.finalizers?.includes(FINALIZER_PVC_PROTECTION) ?? false;
}

/** The PVC protection controller. */
export class PvcProtectionController extends QueueController {
  #claims!: Informer<PersistentVolumeClaim>;
  #pods!: Informer<Pod>;

  /** Creates the controller. */
  constructor() {
    super("pvc-protection-controller", 2);
  }

  protected register(ctx: ControllerContext): void {
    this.#claims = ctx.informers.for<PersistentVolumeClaim>("v1", "PersistentVolumeClaim");
    this.#pods = ctx.informers.for<Pod>("v1", "Pod");
    const check = (claim: PersistentVolumeClaim) => {
      if (Boolean(claim.metadata.deletionTimestamp) === hasFinalizer(claim)) this.enqueue(objectKey(claim));
    };
    this.#claims.on({ add: check, update: (_old, claim) => check(claim) });
    const released = (pod: Pod) => {
      for (const name of claimNamesOf(pod)) {
        const claim = this.#claims.get(`${pod.metadata.namespace}/${name}`);
        if (claim?.metadata.deletionTimestamp) this.enqueue(objectKey(claim));
      }
    };
    this.#pods.on({ add: released, update: (_old, pod) => released(pod), delete: released });
  }

  async reconcile(key: string): Promise<void> {
    const claim = this.#claims.get(key);
    if (!claim) return;
    const claims = this.ctx.client.kind<PersistentVolumeClaim>("v1", "PersistentVolumeClaim");
    const { name, namespace, resourceVersion } = claim.metadata;
    const finalizers = claim.metadata.finalizers ?? [];
    if (!claim.metadata.deletionTimestamp) {
      if (hasFinalizer(claim)) return;
      await ignoreNotFound(claims.patch(name!, {
        metadata: { resourceVersion, finalizers: [...finalizers, FINALIZER_PVC_PROTECTION] },
      }, { namespace: namespace! }));
      return;
    }
    if (!hasFinalizer(claim)) return;
    const users = await this.#users(claim);
    if (users.length > 0) {
      this.ctx.recorder.event(
        claim,
        "Normal",
        "ClaimInUse",
        `Deletion is held while pod(s) ${
          users.join(", ")
        } use this claim; it is removed once they have stopped (kubernetes.io/pvc-protection)`,
      );
      return;
    }
    await ignoreNotFound(claims.patch(name!, {
      metadata: { resourceVersion, finalizers: finalizers.filter((f) => f !== FINALIZER_PVC_PROTECTION) },
    }, { namespace: namespace! }));
  }

  /**
   * The pods holding `claim`: from the cache, and when it knows none, from
   * the API too, in case a pod was created a moment ago.
   */
  async #users(claim: PersistentVolumeClaim): Promise<string[]> {
    const { name, namespace } = claim.metadata;
    const holding = (pods: Iterable<Pod>) =>
      [...pods].filter((p) => p.metadata.namespace === namespace && podHoldsClaim(p, name!)).map((p) =>
        p.metadata.name!
      ).sort();
    const cached = holding(this.#pods.list());
    if (cached.length > 0) return cached;
    const live = await this.ctx.client.kind<Pod>("v1", "Pod").list({ namespace: namespace! });
    return holding(live.items);
  }
}
