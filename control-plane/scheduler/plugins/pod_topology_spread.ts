/**
 * PodTopologySpread: a pod's `topologySpreadConstraints` keep the pods its
 * selector matches evenly spread across topology domains (nodes by
 * `kubernetes.io/hostname`, zones, …). `DoNotSchedule` constraints filter
 * nodes whose domain would exceed `maxSkew`; `ScheduleAnyway` constraints
 * prefer domains with fewer matching pods.
 *
 * @module
 */

import { type LabelSelector, Selector, selectorFromLabelSelector, type TopologySpreadConstraint } from "@skiff/api";
import { type NodeInfo, normalizeLowerIsBetter, type Plugin, type PodInfo, type Snapshot } from "../framework.ts";
import { nodeAffinityMatches, nodeAffinityState } from "./node_affinity.ts";
import { firstUntoleratedTaint } from "./taint_toleration.ts";

/** The plugin's name. */
export const POD_TOPOLOGY_SPREAD = "PodTopologySpread";
/** Why a node whose domain would be too crowded was refused. */
export const REASON_SPREAD = "node(s) didn't match pod topology spread constraints";
/** Why a node without the constraint's topology label was refused. */
export const REASON_SPREAD_MISSING_LABEL =
  "node(s) didn't match pod topology spread constraints (missing required label)";

/** One constraint, parsed, with the matching pods counted per domain. */
export interface SpreadConstraint {
  /** The node label defining a domain. */
  key: string;
  /** The most two domains may differ by. */
  maxSkew: number;
  /** DoNotSchedule. */
  hard: boolean;
  /** The pods counted. */
  selector: Selector;
  /** Whether the incoming pod itself matches (it adds one to its domain). */
  selfMatch: number;
  /** Matching pods per domain value, over eligible nodes. */
  counts: Map<string, number>;
  /** The fewest matching pods in an eligible domain (0 when fewer domains than minDomains). */
  min: number;
}

/** A constraint's selector: its labelSelector narrowed by matchLabelKeys taken from the pod. */
export function constraintSelector(c: TopologySpreadConstraint, labels: Readonly<Record<string, string>>): Selector {
  const keys = (c.matchLabelKeys ?? []).filter((k) => labels[k] !== undefined);
  if (c.labelSelector == null) return Selector.nothing();
  const selector: LabelSelector = {
    ...c.labelSelector,
    matchExpressions: [
      ...(c.labelSelector.matchExpressions ?? []),
      ...keys.map((key) => ({ key, operator: "In" as const, values: [labels[key]!] })),
    ],
  };
  try {
    return selectorFromLabelSelector(selector);
  } catch {
    return Selector.nothing();
  }
}

function matchingPodsOn(node: NodeInfo, namespace: string, selector: Selector): number {
  let n = 0;
  for (const p of node.pods.values()) {
    if (p.namespace === namespace && !p.pod.metadata.deletionTimestamp && selector.matches(p.labels)) n++;
  }
  return n;
}

/** Parses a pod's constraints and counts matching pods per domain; undefined when it has none. */
export function spreadConstraints(pod: PodInfo, snapshot: Snapshot): SpreadConstraint[] | undefined {
  const specs = pod.pod.spec?.topologySpreadConstraints;
  if (!specs?.length) return undefined;
  const affinity = nodeAffinityState(pod);
  const tolerations = pod.pod.spec?.tolerations ?? [];
  const parsed = specs.map((c) => {
    const selector = constraintSelector(c, pod.labels);
    return {
      spec: c,
      constraint: {
        key: c.topologyKey,
        maxSkew: c.maxSkew > 0 ? c.maxSkew : 1,
        hard: c.whenUnsatisfiable !== "ScheduleAnyway",
        selector,
        selfMatch: selector.matches(pod.labels) ? 1 : 0,
        counts: new Map<string, number>(),
        min: 0,
      } satisfies SpreadConstraint,
    };
  });
  for (const node of snapshot.nodes) {
    const affinityOk = !affinity || nodeAffinityMatches(affinity, node.node);
    let taintsOk: boolean | undefined;
    for (const { spec, constraint } of parsed) {
      const value = node.labels[constraint.key];
      if (value === undefined) continue;
      if ((spec.nodeAffinityPolicy ?? "Honor") === "Honor" && !affinityOk) continue;
      if (spec.nodeTaintsPolicy === "Honor") {
        taintsOk ??= firstUntoleratedTaint(tolerations, node.node.spec?.taints) === undefined;
        if (!taintsOk) continue;
      }
      const n = matchingPodsOn(node, pod.namespace, constraint.selector);
      constraint.counts.set(value, (constraint.counts.get(value) ?? 0) + n);
    }
  }
  for (const { spec, constraint } of parsed) {
    const domains = constraint.counts.size;
    constraint.min = domains === 0 || domains < (spec.minDomains ?? 1) ? 0 : Math.min(...constraint.counts.values());
  }
  return parsed.map((p) => p.constraint);
}

/** Why `node` breaks a DoNotSchedule constraint, or undefined. */
export function spreadRefusal(constraints: readonly SpreadConstraint[], node: NodeInfo): string | undefined {
  for (const c of constraints) {
    if (!c.hard) continue;
    const value = node.labels[c.key];
    if (value === undefined) return REASON_SPREAD_MISSING_LABEL;
    if ((c.counts.get(value) ?? 0) + c.selfMatch - c.min > c.maxSkew) return REASON_SPREAD;
  }
  return undefined;
}

/** The plugin. */
export const podTopologySpread: Plugin<SpreadConstraint[]> = {
  name: POD_TOPOLOGY_SPREAD,
  weight: 2,
  prepare: spreadConstraints,
  filter: (_pod, node, constraints) => spreadRefusal(constraints, node),
  score(_pod, node, constraints) {
    let raw = 0;
    for (const c of constraints) {
      if (c.hard) continue;
      const value = node.labels[c.key];
      if (value === undefined) return Infinity;
      raw += c.counts.get(value) ?? 0;
    }
    return raw;
  },
  normalize: (scores) => normalizeLowerIsBetter(scores),
};
