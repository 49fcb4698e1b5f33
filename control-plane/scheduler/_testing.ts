/**
 * Builders for scheduler unit tests: nodes, pods and a cluster cache
 * holding them, from pure inputs.
 *
 * @module
 */

import type { Condition, Node, Pod, PodSpec, Taint } from "@skiff/api";
import { ClusterCache } from "./cache.ts";
import { type PodInfo, podInfo } from "./framework.ts";

/** What a test node may set. */
export interface TestNode {
  /** Allocatable cpu (default `4`). */
  cpu?: string;
  /** Allocatable memory (default `8Gi`). */
  memory?: string;
  /** Allocatable pods (default 110). */
  pods?: number;
  /** More allocatable resources. */
  extra?: Record<string, string>;
  /** Labels (hostname is always set). */
  labels?: Record<string, string>;
  /** Annotations. */
  annotations?: Record<string, string>;
  /** Taints. */
  taints?: Taint[];
  /** Cordoned. */
  unschedulable?: boolean;
  /** Ready condition status (default True). */
  ready?: "True" | "False" | "Unknown" | "missing";
  /** More conditions. */
  conditions?: Condition[];
}

/** A Node object. */
export function node(name: string, t: TestNode = {}): Node {
  const allocatable = {
    cpu: t.cpu ?? "4",
    memory: t.memory ?? "8Gi",
    pods: String(t.pods ?? 110),
    ...t.extra,
  };
  const conditions: Condition[] = [...(t.conditions ?? [])];
  const ready = t.ready ?? "True";
  if (ready !== "missing") conditions.push({ type: "Ready", status: ready });
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      uid: `uid-${name}`,
      labels: { "kubernetes.io/hostname": name, ...t.labels },
      ...(t.annotations ? { annotations: t.annotations } : {}),
    },
    spec: {
      ...(t.taints ? { taints: t.taints } : {}),
      ...(t.unschedulable ? { unschedulable: true } : {}),
    },
    status: { capacity: allocatable, allocatable, conditions },
  };
}

/** What a test pod may set. */
export interface TestPod {
  /** Namespace (default `default`). */
  namespace?: string;
  /** Requests of its one container. */
  requests?: Record<string, string>;
  /** Labels. */
  labels?: Record<string, string>;
  /** Annotations. */
  annotations?: Record<string, string>;
  /** The controlling owner's uid. */
  owner?: string;
  /** More spec. */
  spec?: Partial<PodSpec>;
  /** Bound to this node. */
  nodeName?: string;
  /** Creation time (ms). */
  created?: number;
}

/** A Pod object. */
export function pod(name: string, t: TestPod = {}): Pod {
  const namespace = t.namespace ?? "default";
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace,
      uid: `uid-${namespace}-${name}`,
      labels: t.labels ?? {},
      ...(t.annotations ? { annotations: t.annotations } : {}),
      creationTimestamp: new Date(t.created ?? Date.UTC(2026, 0, 1)).toISOString(),
      ...(t.owner
        ? {
          ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "rs", uid: t.owner, controller: true }],
        }
        : {}),
    },
    spec: {
      containers: [{ name: "c", image: "busybox", ...(t.requests ? { resources: { requests: t.requests } } : {}) }],
      ...(t.nodeName ? { nodeName: t.nodeName } : {}),
      ...t.spec,
    },
    status: { phase: t.nodeName ? "Running" : "Pending" },
  };
}

/** A pod's info. */
export function info(name: string, t: TestPod = {}): PodInfo {
  return podInfo(pod(name, t));
}

/** A cache holding these nodes and (bound) pods. */
export function cluster(nodes: Node[], pods: Pod[] = [], namespaceLabels: Record<string, Record<string, string>> = {}) {
  const cache = new ClusterCache((ns) => namespaceLabels[ns]);
  for (const n of nodes) cache.upsertNode(n);
  for (const p of pods) cache.upsertPod(p);
  return cache;
}
