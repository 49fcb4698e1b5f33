/**
 * The scheduler's cluster cache: nodes and the pods bound to each with
 * what they request, kept current incrementally from informer events
 * (never rebuilt per pod), plus pods the scheduler has assumed onto a node
 * while their binding is in flight. It is the {@linkcode Snapshot} every
 * scheduling cycle reads.
 *
 * @module
 */

import type { Labels, Node, Pod } from "@skiff/api";
import type { BoundPod, NodeInfo, NodeUsage, PodInfo, Snapshot } from "./framework.ts";
import { podInfo } from "./framework.ts";
import { addResources, emptyResources, nodeAllocatable, type Resources } from "./resources.ts";

const HARDWARE_PREFIX = "hardware.skiff.dev/";

/**
 * What about a node can change a scheduling decision: labels, taints,
 * cordon, allocatable, condition statuses and hardware annotations, but
 * not heartbeat times.
 */
export function schedulingSignature(node: Node): string {
  const annotations = Object.entries(node.metadata.annotations ?? {})
    .filter(([k]) => k.startsWith(HARDWARE_PREFIX))
    .sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
  return JSON.stringify([
    node.metadata.labels ?? {},
    node.spec?.unschedulable ?? false,
    node.spec?.taints ?? [],
    node.status?.allocatable ?? node.status?.capacity ?? {},
    (node.status?.conditions ?? []).map((c) => [c.type, c.status]),
    annotations,
  ]);
}

class CachedNode implements NodeInfo {
  readonly name: string;
  node: Node;
  labels: Readonly<Record<string, string>> = {};
  allocatable: Resources = emptyResources();
  allowedPodCount = 0;
  readonly requested: Resources = emptyResources();
  nonZeroMilliCpu = 0;
  nonZeroMemory = 0;
  readonly pods = new Map<string, PodInfo>();
  usage: NodeUsage | undefined;
  /** Position in the node list; -1 while the node has pods but no Node object. */
  index = -1;
  signature = "";
  readonly #owners = new Map<string, number>();

  constructor(name: string) {
    this.name = name;
    this.node = { apiVersion: "v1", kind: "Node", metadata: { name } };
  }

  ownerCount(ownerUid: string): number {
    return this.#owners.get(ownerUid) ?? 0;
  }

  setNode(node: Node): void {
    this.node = node;
    this.labels = node.metadata.labels ?? {};
    const { resources, pods } = nodeAllocatable(node.status);
    this.allocatable = resources;
    this.allowedPodCount = pods;
    this.signature = schedulingSignature(node);
  }

  addPod(info: PodInfo): void {
    this.pods.set(info.uid, info);
    this.#account(info, 1);
  }

  removePod(info: PodInfo): void {
    if (!this.pods.delete(info.uid)) return;
    this.#account(info, -1);
  }

  #account(info: PodInfo, sign: 1 | -1): void {
    addResources(this.requested, info.requests, sign);
    this.nonZeroMilliCpu += info.nonZeroMilliCpu * sign;
    this.nonZeroMemory += info.nonZeroMemory * sign;
    if (info.ownerUid !== undefined) {
      const n = (this.#owners.get(info.ownerUid) ?? 0) + sign;
      if (n > 0) this.#owners.set(info.ownerUid, n);
      else this.#owners.delete(info.ownerUid);
    }
  }
}

interface PodEntry {
  bound: BoundPod;
  assumed: boolean;
}

/** What a node event changed. */
export type NodeChange = "added" | "changed" | "unchanged";

/** True for pods that hold resources on their node: bound and not finished. */
export function holdsResources(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return !!pod.spec?.nodeName && phase !== "Succeeded" && phase !== "Failed";
}

/** The cache. */
export class ClusterCache implements Snapshot {
  #nodes = new Map<string, CachedNode>();
  #list: CachedNode[] = [];
  #pods = new Map<string, PodEntry>();
  #byNamespace = new Map<string, Map<string, BoundPod>>();
  #antiAffinity = new Map<string, BoundPod>();
  #namespaceLabels: (namespace: string) => Labels;

  /** Creates an empty cache; `namespaceLabels` looks namespaces up (for namespaceSelector). */
  constructor(namespaceLabels: (namespace: string) => Labels = () => undefined) {
    this.#namespaceLabels = namespaceLabels;
  }

  /** Nodes with a Node object. */
  get nodes(): readonly NodeInfo[] {
    return this.#list;
  }

  /** How many pods are bound or assumed. */
  get podCount(): number {
    return this.#pods.size;
  }

  /** A node by name (only one with a Node object). */
  node(name: string): NodeInfo | undefined {
    const cached = this.#nodes.get(name);
    return cached && cached.index >= 0 ? cached : undefined;
  }

  /** Bound pods in a namespace. */
  podsInNamespace(namespace: string): Iterable<BoundPod> {
    return this.#byNamespace.get(namespace)?.values() ?? [];
  }

  /** Namespaces with bound pods. */
  namespaces(): Iterable<string> {
    return this.#byNamespace.keys();
  }

  /** Bound pods with required anti-affinity. */
  podsWithRequiredAntiAffinity(): Iterable<BoundPod> {
    return this.#antiAffinity.values();
  }

  /** A namespace's labels. */
  namespaceLabels(namespace: string): Labels {
    return this.#namespaceLabels(namespace);
  }

  /** Adds or updates a node; says whether anything a decision depends on changed. */
  upsertNode(node: Node): NodeChange {
    const name = node.metadata.name!;
    let cached = this.#nodes.get(name);
    if (!cached) {
      cached = new CachedNode(name);
      this.#nodes.set(name, cached);
    }
    const before = cached.index >= 0 ? cached.signature : undefined;
    cached.setNode(node);
    if (cached.index < 0) {
      cached.index = this.#list.length;
      this.#list.push(cached);
      return "added";
    }
    return before === cached.signature ? "unchanged" : "changed";
  }

  /** Removes a node; its pods stay accounted until they go, in case it comes back. */
  removeNode(name: string): void {
    const cached = this.#nodes.get(name);
    if (!cached || cached.index < 0) return;
    const last = this.#list.pop()!;
    if (last !== cached) {
      this.#list[cached.index] = last;
      last.index = cached.index;
    }
    cached.index = -1;
    cached.usage = undefined;
    if (cached.pods.size === 0) this.#nodes.delete(name);
  }

  /** Records a node's live usage from the metrics API. */
  setUsage(name: string, usage: NodeUsage | undefined): void {
    const cached = this.#nodes.get(name);
    if (cached) cached.usage = usage;
  }

  /**
   * Records a pod the API says is bound (or no longer holds resources):
   * confirms an assumption, moves it if it landed elsewhere, or forgets it
   * when it finished or lost its node.
   */
  upsertPod(pod: Pod): void {
    const uid = pod.metadata.uid!;
    if (!holdsResources(pod)) {
      this.removePod(uid);
      return;
    }
    this.#place(podInfo(pod), pod.spec!.nodeName!, false);
  }

  /** Forgets a pod (deleted, or no longer holding resources). */
  removePod(uid: string): void {
    const entry = this.#pods.get(uid);
    if (!entry) return;
    this.#pods.delete(uid);
    const { pod, node } = entry.bound;
    const cached = node as CachedNode;
    cached.removePod(pod);
    const ns = this.#byNamespace.get(pod.namespace);
    ns?.delete(uid);
    if (ns?.size === 0) this.#byNamespace.delete(pod.namespace);
    this.#antiAffinity.delete(uid);
    if (cached.index < 0 && cached.pods.size === 0) this.#nodes.delete(cached.name);
  }

  /** Places a pod on a node before its binding is confirmed. */
  assume(info: PodInfo, nodeName: string): void {
    this.#place(info, nodeName, true);
  }

  /** Drops an assumption (a failed binding); a confirmed pod stays. */
  forget(uid: string): void {
    if (this.#pods.get(uid)?.assumed) this.removePod(uid);
  }

  /** True while a pod is assumed and its binding not yet seen. */
  isAssumed(uid: string): boolean {
    return this.#pods.get(uid)?.assumed ?? false;
  }

  /** The node a pod is bound or assumed to. */
  nodeOf(uid: string): string | undefined {
    return this.#pods.get(uid)?.bound.node.name;
  }

  #place(info: PodInfo, nodeName: string, assumed: boolean): void {
    const existing = this.#pods.get(info.uid);
    if (existing) this.removePod(info.uid);
    let cached = this.#nodes.get(nodeName);
    if (!cached) {
      cached = new CachedNode(nodeName);
      this.#nodes.set(nodeName, cached);
    }
    cached.addPod(info);
    const bound: BoundPod = { pod: info, node: cached };
    this.#pods.set(info.uid, { bound, assumed });
    let ns = this.#byNamespace.get(info.namespace);
    if (!ns) this.#byNamespace.set(info.namespace, ns = new Map());
    ns.set(info.uid, bound);
    if (info.pod.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.length) {
      this.#antiAffinity.set(info.uid, bound);
    }
  }
}
