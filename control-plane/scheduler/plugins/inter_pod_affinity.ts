/**
 * InterPodAffinity: pod affinity and anti-affinity across topology domains
 * (`kubernetes.io/hostname` for "not two replicas on one node", zones, …).
 * Required terms filter: affinity needs a matching pod in the node's
 * domain (or none anywhere, when the pod matches its own terms: the first
 * of a group), anti-affinity needs none, and existing pods' required
 * anti-affinity keeps matching newcomers out of their domains. Preferred
 * terms score domains by the weights of the matching pods in them.
 *
 * @module
 */

import { type LabelSelector, type PodAffinityTerm, Selector, selectorFromLabelSelector } from "@skiff/api";
import { normalizeHigherIsBetter, type Plugin, type PodInfo, type Snapshot } from "../framework.ts";

/** The plugin's name. */
export const INTER_POD_AFFINITY = "InterPodAffinity";
/** Why a node outside every domain with a matching pod was refused. */
export const REASON_AFFINITY = "node(s) didn't match pod affinity rules";
/** Why a node in a domain with a pod the pod must avoid was refused. */
export const REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules";
/** Why a node in a domain where an existing pod keeps the newcomer out was refused. */
export const REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules";

/** A pod affinity term, parsed for one owning pod. */
export interface AffinityTerm {
  /** The pods it is about. */
  selector: Selector;
  /** The namespaces those pods are looked for in; `all` for every one. */
  namespaces: ReadonlySet<string> | "all";
  /** The node label defining a domain. */
  key: string;
}

/**
 * Parses `term` as written in `owner`'s spec: its namespaces default to the
 * owner's, an empty namespaceSelector means all, and matchLabelKeys /
 * mismatchLabelKeys take their values from the owner's labels.
 */
export function parseAffinityTerm(term: PodAffinityTerm, owner: PodInfo, snapshot: Snapshot): AffinityTerm {
  let namespaces: AffinityTerm["namespaces"];
  if (term.namespaceSelector != null) {
    let nsSelector: Selector;
    try {
      nsSelector = selectorFromLabelSelector(term.namespaceSelector);
    } catch {
      nsSelector = Selector.nothing();
    }
    if (nsSelector.isEmpty()) namespaces = "all";
    else {
      const set = new Set(term.namespaces ?? []);
      for (const ns of snapshot.namespaces()) if (nsSelector.matches(snapshot.namespaceLabels(ns))) set.add(ns);
      namespaces = set;
    }
  } else {
    namespaces = new Set(term.namespaces?.length ? term.namespaces : [owner.namespace]);
  }
  let selector = Selector.nothing();
  if (term.labelSelector != null) {
    const extra = [
      ...(term.matchLabelKeys ?? []).filter((k) => owner.labels[k] !== undefined)
        .map((key) => ({ key, operator: "In" as const, values: [owner.labels[key]!] })),
      ...(term.mismatchLabelKeys ?? []).filter((k) => owner.labels[k] !== undefined)
        .map((key) => ({ key, operator: "NotIn" as const, values: [owner.labels[key]!] })),
    ];
    const labelSelector: LabelSelector = {
      ...term.labelSelector,
      matchExpressions: [...(term.labelSelector.matchExpressions ?? []), ...extra],
    };
    try {
      selector = selectorFromLabelSelector(labelSelector);
    } catch {
      selector = Selector.nothing();
    }
  }
  return { selector, namespaces, key: term.topologyKey };
}

/** True when `pod` is one of the pods `term` is about. */
export function termMatches(term: AffinityTerm, pod: PodInfo): boolean {
  return (term.namespaces === "all" || term.namespaces.has(pod.namespace)) && term.selector.matches(pod.labels);
}

/** Per-pod state: the domains each rule allows or forbids, and preferred weights per domain. */
export interface InterPodAffinityState {
  /** Required affinity terms with the domains that have a matching pod. */
  affinity: { term: AffinityTerm; domains: Set<string> }[];
  /** True when no pod matches any affinity term and the pod matches all its own (it may start the group). */
  firstOfGroup: boolean;
  /** Required anti-affinity terms with the domains that have a matching pod. */
  anti: { term: AffinityTerm; domains: Set<string> }[];
  /** Domains existing pods' anti-affinity keeps this pod out of, by topology key. */
  existing: Map<string, Set<string>>;
  /** Preferred weight per topology key and domain (anti-affinity negative). */
  preferred: Map<string, Map<string, number>>;
}

const parsedExisting = new WeakMap<PodInfo, AffinityTerm[]>();

function* podsFor(term: AffinityTerm, snapshot: Snapshot) {
  const namespaces = term.namespaces === "all" ? snapshot.namespaces() : term.namespaces;
  for (const ns of namespaces) {
    for (const bound of snapshot.podsInNamespace(ns)) {
      if (!bound.pod.pod.metadata.deletionTimestamp && term.selector.matches(bound.pod.labels)) yield bound;
    }
  }
}

function domainsOf(term: AffinityTerm, snapshot: Snapshot): Set<string> {
  const out = new Set<string>();
  for (const { node } of podsFor(term, snapshot)) {
    const value = node.labels[term.key];
    if (value !== undefined) out.add(value);
  }
  return out;
}

/** Computes the state for `pod`; undefined when no affinity rule concerns it. */
export function interPodAffinityState(pod: PodInfo, snapshot: Snapshot): InterPodAffinityState | undefined {
  const spec = pod.pod.spec?.affinity;
  const state: InterPodAffinityState = {
    affinity: [],
    firstOfGroup: false,
    anti: [],
    existing: new Map(),
    preferred: new Map(),
  };
  for (const t of spec?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []) {
    const term = parseAffinityTerm(t, pod, snapshot);
    state.affinity.push({ term, domains: domainsOf(term, snapshot) });
  }
  state.firstOfGroup = state.affinity.length > 0 && state.affinity.every((a) => a.domains.size === 0) &&
    state.affinity.every((a) => termMatches(a.term, pod));
  for (const t of spec?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []) {
    const term = parseAffinityTerm(t, pod, snapshot);
    state.anti.push({ term, domains: domainsOf(term, snapshot) });
  }
  for (const bound of snapshot.podsWithRequiredAntiAffinity()) {
    let terms = parsedExisting.get(bound.pod);
    if (!terms) {
      terms = (bound.pod.pod.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [])
        .map((t) => parseAffinityTerm(t, bound.pod, snapshot));
      parsedExisting.set(bound.pod, terms);
    }
    for (const term of terms) {
      const value = bound.node.labels[term.key];
      if (value === undefined || !termMatches(term, pod)) continue;
      let set = state.existing.get(term.key);
      if (!set) state.existing.set(term.key, set = new Set());
      set.add(value);
    }
  }
  const weighted = [
    ...(spec?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((w) => ({ w, sign: 1 })),
    ...(spec?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((w) => ({ w, sign: -1 })),
  ];
  for (const { w, sign } of weighted) {
    if (!w.weight || !w.podAffinityTerm) continue;
    const term = parseAffinityTerm(w.podAffinityTerm, pod, snapshot);
    let byDomain = state.preferred.get(term.key);
    if (!byDomain) state.preferred.set(term.key, byDomain = new Map());
    for (const { node } of podsFor(term, snapshot)) {
      const value = node.labels[term.key];
      if (value !== undefined) byDomain.set(value, (byDomain.get(value) ?? 0) + sign * w.weight);
    }
  }
  const empty = state.affinity.length === 0 && state.anti.length === 0 && state.existing.size === 0 &&
    state.preferred.size === 0;
  return empty ? undefined : state;
}

/** Why a node with these labels breaks a required rule, or undefined. */
export function affinityRefusal(
  state: InterPodAffinityState,
  labels: Readonly<Record<string, string>>,
): string | undefined {
  for (const [key, values] of state.existing) {
    const value = labels[key];
    if (value !== undefined && values.has(value)) return REASON_EXISTING_ANTI_AFFINITY;
  }
  for (const { term, domains } of state.affinity) {
    const value = labels[term.key];
    if (value === undefined || (!domains.has(value) && !state.firstOfGroup)) return REASON_AFFINITY;
  }
  for (const { term, domains } of state.anti) {
    const value = labels[term.key];
    if (value !== undefined && domains.has(value)) return REASON_ANTI_AFFINITY;
  }
  return undefined;
}

/** The plugin. */
export const interPodAffinity: Plugin<InterPodAffinityState> = {
  name: INTER_POD_AFFINITY,
  weight: 2,
  prepare: interPodAffinityState,
  filter: (_pod, node, state) => affinityRefusal(state, node.labels),
  score(_pod, node, state) {
    let raw = 0;
    for (const [key, byDomain] of state.preferred) {
      const value = node.labels[key];
      if (value !== undefined) raw += byDomain.get(value) ?? 0;
    }
    return raw;
  },
  normalize: (scores) => normalizeHigherIsBetter(scores),
};
