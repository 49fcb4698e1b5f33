/**
 * Helpers shared by the workload and cluster controllers: claiming pods
 * (adopting orphans that match the selector, releasing owned pods that no
 * longer match) as the ReplicaSet controller does, ordering, comparing and
 * formatting aids.
 *
 * @module
 */

import { ConflictError, type KubeObject, NotFoundError, type Pod, type Selector } from "@skiff/api";
import { type ControllerContext, controllerOf, controllerRef, isControlledBy } from "./controller.ts";

/** The label tying a DaemonSet's or StatefulSet's pods to the template revision they were made from. */
export const REVISION_HASH_LABEL = "controller-revision-hash";

/**
 * The pods `owner` controls among `pods` (all in its namespace): owned pods
 * whose labels still match `selector`, plus orphans that match and that
 * `canAdopt` accepts, adopted on the way. Owned pods that stopped matching
 * are released. A deleting owner adopts nothing.
 */
export async function claimPods(
  ctx: ControllerContext,
  owner: KubeObject,
  pods: Iterable<Pod>,
  options: { selector: Selector; canAdopt?: (pod: Pod) => boolean },
): Promise<Pod[]> {
  const owned: Pod[] = [];
  for (const pod of pods) {
    if (pod.metadata.namespace !== owner.metadata.namespace) continue;
    const matches = options.selector.matches(pod.metadata.labels);
    if (isControlledBy(pod, owner)) {
      if (matches) owned.push(pod);
      else {await patchOwners(
          ctx,
          pod,
          (pod.metadata.ownerReferences ?? []).filter((r) => r.uid !== owner.metadata.uid),
        );}
    } else if (
      matches && !controllerOf(pod) && !owner.metadata.deletionTimestamp && !pod.metadata.deletionTimestamp &&
      (options.canAdopt?.(pod) ?? true)
    ) {
      const adopted = await patchOwners(ctx, pod, [...(pod.metadata.ownerReferences ?? []), controllerRef(owner)]);
      if (adopted) owned.push(adopted);
    }
  }
  return owned;
}

/** Sets a pod's owner references, on the condition that it is still the same pod; undefined when it is gone. */
async function patchOwners(ctx: ControllerContext, pod: Pod, refs: KubeObject["metadata"]["ownerReferences"]) {
  try {
    return await ctx.client.kind<Pod>("v1", "Pod").patch(pod.metadata.name!, {
      metadata: { ownerReferences: refs && refs.length > 0 ? refs : null, uid: pod.metadata.uid },
    }, { namespace: pod.metadata.namespace! });
  } catch (err) {
    if (err instanceof NotFoundError || err instanceof ConflictError) return undefined;
    throw err;
  }
}

/** Creation time of an object in ms (0 when unknown). */
function createdAt(obj: KubeObject): number {
  return Date.parse(obj.metadata.creationTimestamp ?? "") || 0;
}

/** Orders objects oldest first, then by name. */
export function oldestFirst(a: KubeObject, b: KubeObject): number {
  return createdAt(a) - createdAt(b) || (a.metadata.name ?? "").localeCompare(b.metadata.name ?? "");
}

/** A time as Kubernetes writes it in conditions and taints: RFC 3339, whole seconds. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/** The message of anything thrown. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** JSON with object keys sorted, to compare objects regardless of key order. */
export function stableJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v) =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
        : v,
  );
}

/** Runs `op`, treating NotFoundError as success (the object is already gone). */
export async function ignoreNotFound<T>(op: Promise<T>): Promise<T | undefined> {
  try {
    return await op;
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}
