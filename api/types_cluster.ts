/**
 * coordination.k8s.io/v1 Lease and metrics.k8s.io/v1beta1 NodeMetrics and
 * PodMetrics, with Kubernetes field names.
 *
 * @module
 */

import type { KubeObject } from "./meta.ts";
import type { ResourceList } from "./types_pod.ts";

/** A lease's desired state. */
export interface LeaseSpec {
  /** Who holds the lease. */
  holderIdentity?: string | null;
  /** Seconds the holder may go without renewing. */
  leaseDurationSeconds?: number | null;
  /** When the current holder acquired it (RFC 3339 with microseconds). */
  acquireTime?: string | null;
  /** When the holder last renewed it (RFC 3339 with microseconds). */
  renewTime?: string | null;
  /** How many times the holder changed. */
  leaseTransitions?: number | null;
  /** Strategy for picking a preferred holder. */
  strategy?: string;
  /** The holder that should take over. */
  preferredHolder?: string;
}

/**
 * A lease: node heartbeats (namespace `kube-node-lease`, named after the
 * node) and leader election.
 */
export interface Lease extends KubeObject {
  /** `coordination.k8s.io/v1`. */
  apiVersion?: "coordination.k8s.io/v1";
  /** `Lease`. */
  kind?: "Lease";
  /** Desired state. */
  spec?: LeaseSpec;
}

/** Resource usage of a node over a window (read-only, from the metrics API). */
export interface NodeMetrics extends KubeObject {
  /** `metrics.k8s.io/v1beta1`. */
  apiVersion?: "metrics.k8s.io/v1beta1";
  /** `NodeMetrics`. */
  kind?: "NodeMetrics";
  /** End of the window (RFC 3339). */
  timestamp: string;
  /** Length of the window, e.g. `10s`. */
  window: string;
  /** `cpu` (cores) and `memory` (working set bytes). */
  usage: ResourceList;
}

/** Resource usage of one container of a pod. */
export interface ContainerMetrics {
  /** The container's name. */
  name: string;
  /** `cpu` and `memory`. */
  usage: ResourceList;
}

/** Resource usage of a pod over a window (read-only, from the metrics API). */
export interface PodMetrics extends KubeObject {
  /** `metrics.k8s.io/v1beta1`. */
  apiVersion?: "metrics.k8s.io/v1beta1";
  /** `PodMetrics`. */
  kind?: "PodMetrics";
  /** End of the window (RFC 3339). */
  timestamp: string;
  /** Length of the window, e.g. `10s`. */
  window: string;
  /** Usage per container. */
  containers: ContainerMetrics[];
}
