/**
 * TaintToleration: a node's NoSchedule and NoExecute taints keep off pods
 * that do not tolerate them; PreferNoSchedule taints a pod does not
 * tolerate make the node less attractive.
 *
 * @module
 */

import { type Taint, type Toleration, untoleratedTaints } from "@skiff/api";
import { normalizeLowerIsBetter, type Plugin } from "../framework.ts";

/** The plugin's name. */
export const TAINT_TOLERATION = "TaintToleration";

/** Why a node was refused, Kubernetes style: `node(s) had untolerated taint {key: value}`. */
export function untoleratedTaintReason(taint: Taint): string {
  return `node(s) had untolerated taint {${taint.key}: ${taint.value ?? ""}}`;
}

/** The first NoSchedule or NoExecute taint the tolerations do not tolerate. */
export function firstUntoleratedTaint(
  tolerations: readonly Toleration[],
  taints: readonly Taint[] | undefined,
): Taint | undefined {
  if (!taints?.length) return undefined;
  return untoleratedTaints(tolerations, taints, ["NoSchedule", "NoExecute"])[0];
}

/** The plugin. */
export const taintToleration: Plugin<readonly Toleration[]> = {
  name: TAINT_TOLERATION,
  weight: 3,
  prepare: (pod) => pod.pod.spec?.tolerations ?? [],
  filter(_pod, node, tolerations) {
    const taint = firstUntoleratedTaint(tolerations, node.node.spec?.taints);
    return taint ? untoleratedTaintReason(taint) : undefined;
  },
  score(_pod, node, tolerations) {
    const taints = node.node.spec?.taints;
    return taints?.length ? untoleratedTaints(tolerations, taints, ["PreferNoSchedule"]).length : 0;
  },
  normalize: (scores) => normalizeLowerIsBetter(scores),
};
