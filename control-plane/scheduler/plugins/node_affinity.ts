/**
 * NodeAffinity: `spec.nodeSelector` and required node affinity (label
 * expressions, and `matchFields` on `metadata.name` as DaemonSets use)
 * filter nodes; preferred node affinity scores them by the weights of the
 * terms they match.
 *
 * @module
 */

import {
  matchesNodeSelector,
  type NodeSelector,
  preferredNodeAffinityScore,
  type PreferredSchedulingTerm,
  type Selector,
  selectorFromSet,
} from "@skiff/api";
import { MAX_NODE_SCORE, type Plugin, type PodInfo } from "../framework.ts";

/** The plugin's name. */
export const NODE_AFFINITY = "NodeAffinity";
/** Why a node outside the pod's selector or required affinity was refused. */
export const REASON_NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector";

/** A pod's node constraints, parsed once. */
export interface NodeAffinityState {
  /** From `spec.nodeSelector`; a selector that cannot be parsed matches nothing. */
  selector: Selector | "nothing" | undefined;
  /** Required node affinity. */
  required: NodeSelector | undefined;
  /** Preferred terms. */
  preferred: readonly PreferredSchedulingTerm[] | undefined;
  /** The sum of the preferred terms' positive weights. */
  totalWeight: number;
}

/** Parses a pod's node constraints; undefined when it has none. */
export function nodeAffinityState(pod: PodInfo): NodeAffinityState | undefined {
  const spec = pod.pod.spec;
  const affinity = spec?.affinity?.nodeAffinity;
  const required = affinity?.requiredDuringSchedulingIgnoredDuringExecution;
  const preferred = affinity?.preferredDuringSchedulingIgnoredDuringExecution;
  const nodeSelector = spec?.nodeSelector;
  const hasSelector = nodeSelector != null && Object.keys(nodeSelector).length > 0;
  if (!hasSelector && !required && !preferred?.length) return undefined;
  let selector: NodeAffinityState["selector"];
  if (hasSelector) {
    try {
      selector = selectorFromSet(nodeSelector);
    } catch {
      selector = "nothing";
    }
  }
  const totalWeight = (preferred ?? []).reduce((sum, t) => sum + (t.weight > 0 ? t.weight : 0), 0);
  return { selector, required: required ?? undefined, preferred, totalWeight };
}

/** True when a node with these labels and name satisfies the pod's selector and required affinity. */
export function nodeAffinityMatches(
  state: NodeAffinityState,
  node: { metadata?: { name?: string; labels?: Record<string, string> } },
): boolean {
  if (state.selector === "nothing") return false;
  if (state.selector && !state.selector.matches(node.metadata?.labels)) return false;
  return !state.required || matchesNodeSelector(state.required, node);
}

/** The plugin. */
export const nodeAffinity: Plugin<NodeAffinityState> = {
  name: NODE_AFFINITY,
  weight: 2,
  prepare: (pod) => nodeAffinityState(pod),
  filter: (_pod, node, state) => nodeAffinityMatches(state, node.node) ? undefined : REASON_NODE_AFFINITY,
  score(_pod, node, state) {
    if (!state.preferred || state.totalWeight <= 0) return 0;
    const matched = preferredNodeAffinityScore(state.preferred, node.node);
    return Math.max(0, MAX_NODE_SCORE * matched / state.totalWeight);
  },
};
