/**
 * The scheduling framework's shapes: what a plugin is, and what it reads.
 *
 * The pipeline for one pod is written down in `find_node.ts`:
 * prepare -> filter -> score -> pick; binding happens afterwards. Every
 * plugin is a tiny module: a name, a pure helper, and `filter` and/or
 * `score`, registered in one map (`registry.ts`).
 *
 * Plugins read a {@linkcode Snapshot}: nodes with the pods bound (or
 * assumed) to each and what they request. A scheduling cycle runs
 * synchronously, and informer events only change the cache between cycles,
 * so for the whole cycle the snapshot does not change; the readonly types
 * say plugins may not change it either.
 *
 * @module
 */

import type { Labels, Node, PersistentVolume, PersistentVolumeClaim, Pod, StorageClass } from "@skiff/api";
import { podRequests, type Resources } from "./resources.ts";

/** The best score a plugin gives a node. */
export const MAX_NODE_SCORE = 100;

/** A pod as the scheduler sees it: the object and what was derived from it once. */
export interface PodInfo {
  /** The pod. */
  readonly pod: Pod;
  /** `namespace/name`. */
  readonly key: string;
  /** Its uid. */
  readonly uid: string;
  /** Its namespace. */
  readonly namespace: string;
  /** Its labels. */
  readonly labels: Readonly<Record<string, string>>;
  /** `spec.priority` (0 when unset). */
  readonly priority: number;
  /** Creation time in ms (0 when unknown). */
  readonly created: number;
  /** What it requests. */
  readonly requests: Readonly<Resources>;
  /** CPU for scoring, with the default for containers without a request. */
  readonly nonZeroMilliCpu: number;
  /** Memory for scoring, with the default for containers without a request. */
  readonly nonZeroMemory: number;
  /** The uid of its controlling owner (ReplicaSet, StatefulSet, …), if any. */
  readonly ownerUid: string | undefined;
}

/** Live usage a node's agent reported through the metrics API. */
export interface NodeUsage {
  /** CPU in millicores. */
  milliCpu: number;
  /** Memory working set in bytes. */
  memory: number;
}

/** A node and what is bound to it, as a plugin may read it. */
export interface NodeInfo {
  /** The node's name. */
  readonly name: string;
  /** The Node object. */
  readonly node: Node;
  /** Its labels. */
  readonly labels: Readonly<Record<string, string>>;
  /** What it can give to pods. */
  readonly allocatable: Readonly<Resources>;
  /** How many pods it takes. */
  readonly allowedPodCount: number;
  /** The sum of what its pods request. */
  readonly requested: Readonly<Resources>;
  /** CPU its pods request, with defaults for containers without a request. */
  readonly nonZeroMilliCpu: number;
  /** Memory its pods request, with defaults for containers without a request. */
  readonly nonZeroMemory: number;
  /** Its pods by uid (bound and assumed). */
  readonly pods: ReadonlyMap<string, PodInfo>;
  /** Live usage from the metrics API, when reported. */
  readonly usage: Readonly<NodeUsage> | undefined;
  /** How many of its pods have the controlling owner `ownerUid`. */
  ownerCount(ownerUid: string): number;
}

/** A pod on a node. */
export interface BoundPod {
  /** The pod. */
  readonly pod: PodInfo;
  /** Its node. */
  readonly node: NodeInfo;
}

/** The cluster as one scheduling cycle sees it. */
export interface Snapshot {
  /** Every node that can be considered, in a stable order. */
  readonly nodes: readonly NodeInfo[];
  /** A node by name. */
  node(name: string): NodeInfo | undefined;
  /** The pods bound or assumed in `namespace`. */
  podsInNamespace(namespace: string): Iterable<BoundPod>;
  /** Every namespace that has bound pods. */
  namespaces(): Iterable<string>;
  /** Bound pods with required pod anti-affinity terms (their rules constrain newcomers too). */
  podsWithRequiredAntiAffinity(): Iterable<BoundPod>;
  /** A namespace's labels (for namespaceSelector), when known. */
  namespaceLabels(namespace: string): Labels;
}

/** Why a node does not fit: a reason (or several), or undefined when it fits. */
export type FilterResult = string | readonly string[] | undefined;

/**
 * A scheduling plugin. `S` is the state `prepare` computes once per pod;
 * when a plugin has `prepare` and it returns undefined, the plugin has
 * nothing to say about this pod and is skipped for the whole cycle.
 */
export interface Plugin<S = unknown> {
  /** Its name in the registry. */
  readonly name: string;
  /** Its default weight in the total score (default 1). */
  readonly weight?: number;
  /** Computes per-pod state, or returns undefined to skip the plugin for this pod. */
  prepare?(pod: PodInfo, snapshot: Snapshot): S | undefined;
  /**
   * Why no node at all can take `pod` (a claim it names does not exist,
   * say), or undefined; asked once per pod, after `prepare`.
   */
  preFilter?(pod: PodInfo, state: S): string | undefined;
  /** Why `node` cannot take `pod`, or undefined when it can. */
  filter?(pod: PodInfo, node: NodeInfo, state: S): FilterResult;
  /**
   * How well `node` suits `pod`: 0..{@linkcode MAX_NODE_SCORE}, or a raw
   * value that {@linkcode Plugin.normalize} maps onto that range.
   */
  score?(pod: PodInfo, node: NodeInfo, state: S): number;
  /** Maps the raw scores of every candidate node onto 0..100, in place. */
  normalize?(scores: Float64Array, state: S): void;
}

/**
 * The claims, volumes and classes the scheduler keeps from informers, for
 * plugins that place pods next to their volumes. Like the snapshot, it
 * does not change during a scheduling cycle.
 */
export interface VolumeLister {
  /** A claim, as the scheduler sees it (with the node it assumed for it). */
  claim(namespace: string, name: string): PersistentVolumeClaim | undefined;
  /** A volume by name. */
  volume(name: string): PersistentVolume | undefined;
  /** A StorageClass by name. */
  storageClass(name: string): StorageClass | undefined;
  /** Every volume. */
  volumes(): Iterable<PersistentVolume>;
}

/** Settings plugins read. */
export interface PluginConfig {
  /** Nodes hotter than this (°C) get no new pods. */
  maxTemperatureCelsius: number;
  /** Claims, volumes and classes (absent: VolumeBinding checks nothing). */
  volumes?: VolumeLister;
}

/** Makes a plugin from the settings. */
export type PluginFactory = (config: PluginConfig) => Plugin;

/** Derives a {@linkcode PodInfo} from a pod, once per version of the pod. */
export function podInfo(pod: Pod): PodInfo {
  const meta = pod.metadata;
  const { requests, nonZeroMilliCpu, nonZeroMemory } = podRequests(pod);
  const owner = meta.ownerReferences?.find((r) => r.controller);
  const namespace = meta.namespace ?? "";
  return {
    pod,
    key: `${namespace}/${meta.name}`,
    uid: meta.uid ?? `${namespace}/${meta.name}`,
    namespace,
    labels: meta.labels ?? {},
    priority: typeof pod.spec?.priority === "number" ? pod.spec.priority : 0,
    created: meta.creationTimestamp ? Date.parse(meta.creationTimestamp) || 0 : 0,
    requests,
    nonZeroMilliCpu,
    nonZeroMemory,
    ownerUid: owner?.uid,
  };
}

/**
 * Maps raw scores where lower is better onto 0..100: the lowest gets 100,
 * the highest 0 (all 100 when they are equal). `Infinity` scores 0.
 */
export function normalizeLowerIsBetter(scores: Float64Array): void {
  let min = Infinity;
  let max = -Infinity;
  for (const s of scores) {
    if (s === Infinity) continue;
    if (s < min) min = s;
    if (s > max) max = s;
  }
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (s === Infinity) scores[i] = 0;
    else scores[i] = max > min ? MAX_NODE_SCORE * (max - s) / (max - min) : MAX_NODE_SCORE;
  }
}

/** Maps raw scores where higher is better onto 0..100: the highest gets 100, the lowest 0 (all 0 when equal). */
export function normalizeHigherIsBetter(scores: Float64Array): void {
  let min = Infinity;
  let max = -Infinity;
  for (const s of scores) {
    if (s < min) min = s;
    if (s > max) max = s;
  }
  for (let i = 0; i < scores.length; i++) {
    scores[i] = max > min ? MAX_NODE_SCORE * (scores[i]! - min) / (max - min) : 0;
  }
}
