/**
 * DefaultSpread: the soft spread every workload gets without asking. Pods
 * with a controlling owner (a ReplicaSet, StatefulSet, …) and no
 * topologySpreadConstraints of their own prefer nodes running fewer pods
 * of the same owner, so replicas spread across nodes.
 *
 * @module
 */

import { normalizeLowerIsBetter, type Plugin, type PodInfo } from "../framework.ts";

/** The plugin's name. */
export const DEFAULT_SPREAD = "DefaultSpread";

/** The owner whose pods a pod spreads away from, or undefined when the default spread does not apply. */
export function spreadOwner(pod: PodInfo): string | undefined {
  if (pod.pod.spec?.topologySpreadConstraints?.length) return undefined;
  return pod.ownerUid;
}

/** The plugin. */
export const defaultSpread: Plugin<string> = {
  name: DEFAULT_SPREAD,
  weight: 2,
  prepare: (pod) => spreadOwner(pod),
  score: (_pod, node, owner) => node.ownerCount(owner),
  normalize: (scores) => normalizeLowerIsBetter(scores),
};
