/**
 * core/v1 Namespace, Node, ConfigMap, Secret, Event and Binding, and
 * policy/v1 Eviction, with Kubernetes field names.
 *
 * @module
 */

import type { Condition, KubeObject } from "./meta.ts";
import type { ResourceList, TaintEffect } from "./types_pod.ts";

/** A reference to any object, as in `involvedObject`, `claimRef` or `target`. */
export interface ObjectReference {
  /** The object's apiVersion. */
  apiVersion?: string;
  /** The object's kind. */
  kind?: string;
  /** The object's namespace. */
  namespace?: string;
  /** The object's name. */
  name?: string;
  /** The object's uid. */
  uid?: string;
  /** The object's resourceVersion when the reference was made. */
  resourceVersion?: string;
  /** A field within the object, e.g. `spec.containers{web}`. */
  fieldPath?: string;
}

/** A namespace's desired state. */
export interface NamespaceSpec {
  /** Finalizers that must run before the namespace is removed. */
  finalizers?: string[];
}

/** A namespace's observed state. */
export interface NamespaceStatus {
  /** `Active` or `Terminating`. */
  phase?: "Active" | "Terminating";
  /** Conditions reported while terminating. */
  conditions?: Condition[];
}

/** A scope for names; deleting it deletes everything in it. */
export interface Namespace extends KubeObject {
  /** `v1`. */
  apiVersion?: "v1";
  /** `Namespace`. */
  kind?: "Namespace";
  /** Desired state. */
  spec?: NamespaceSpec;
  /** Observed state. */
  status?: NamespaceStatus;
}

/** A taint keeps pods that do not tolerate it off a node. */
export interface Taint {
  /** Qualified name. */
  key: string;
  /** Label value. */
  value?: string;
  /** What happens to pods that do not tolerate it. */
  effect: TaintEffect;
  /** When the taint was added (NoExecute). */
  timeAdded?: string;
}

/** A node's desired state. */
export interface NodeSpec {
  /** The pod address range of this node, e.g. `10.42.3.0/24`. */
  podCIDR?: string;
  /** Pod address ranges (first equals `podCIDR`). */
  podCIDRs?: string[];
  /** Cloud provider id. */
  providerID?: string;
  /** When true, no new pods are scheduled here (cordoned). */
  unschedulable?: boolean;
  /** Taints of the node. */
  taints?: Taint[];
}

/** An address of a node. */
export interface NodeAddress {
  /** `Hostname`, `InternalIP`, `ExternalIP`, `InternalDNS` or `ExternalDNS`. */
  type: "Hostname" | "InternalIP" | "ExternalIP" | "InternalDNS" | "ExternalDNS";
  /** The address. */
  address: string;
}

/** Facts about a node's software. */
export interface NodeSystemInfo {
  /** /etc/machine-id. */
  machineID: string;
  /** Hardware system UUID. */
  systemUUID: string;
  /** Boot id; changes on reboot. */
  bootID: string;
  /** `uname -r`. */
  kernelVersion: string;
  /** Distribution name, e.g. `Debian GNU/Linux 12 (bookworm)`. */
  osImage: string;
  /** `containerd://1.6.20`. */
  containerRuntimeVersion: string;
  /** The agent's version. */
  kubeletVersion: string;
  /** The proxy's version. */
  kubeProxyVersion: string;
  /** `linux`. */
  operatingSystem: string;
  /** `amd64`, `arm64`, `arm`. */
  architecture: string;
}

/** The agent's listening endpoint. */
export interface NodeDaemonEndpoints {
  /** The agent's port. */
  kubeletEndpoint?: { Port: number };
}

/** An image present on a node. */
export interface ContainerImage {
  /** Names (references) of the image. */
  names?: string[];
  /** Size in bytes. */
  sizeBytes?: number;
}

/** A node's observed state. */
export interface NodeStatus {
  /** Total resources of the node. */
  capacity?: ResourceList;
  /** Resources available to pods; defaults to `capacity`. */
  allocatable?: ResourceList;
  /** Deprecated; always empty. */
  phase?: string;
  /** Ready, MemoryPressure, DiskPressure, PIDPressure, NetworkUnavailable, … */
  conditions?: Condition[];
  /** Addresses of the node. */
  addresses?: NodeAddress[];
  /** The agent's endpoint. */
  daemonEndpoints?: NodeDaemonEndpoints;
  /** Software facts. */
  nodeInfo?: NodeSystemInfo;
  /** Images present. */
  images?: ContainerImage[];
}

/** A machine that runs pods. Cluster-scoped. */
export interface Node extends KubeObject {
  /** `v1`. */
  apiVersion?: "v1";
  /** `Node`. */
  kind?: "Node";
  /** Desired state. */
  spec?: NodeSpec;
  /** Observed state. */
  status?: NodeStatus;
}

/** Binds a pod to a node (`pods/binding`); its name is the pod's. */
export interface Binding extends KubeObject {
  /** `v1`. */
  apiVersion?: "v1";
  /** `Binding`. */
  kind?: "Binding";
  /** The node (kind `Node`, name). */
  target: ObjectReference;
}

/** Options of a delete request, carried by an Eviction. */
export interface DeleteOptions {
  /** Seconds before the object is deleted; 0 is immediate. */
  gracePeriodSeconds?: number;
  /** `Orphan`, `Background` or `Foreground`. */
  propagationPolicy?: "Orphan" | "Background" | "Foreground";
  /** Delete only if these still hold. */
  preconditions?: { uid?: string; resourceVersion?: string };
  /** Server-side dry run. */
  dryRun?: string[];
}

/** Requests eviction of a pod (`pods/eviction`), honouring disruption budgets. */
export interface Eviction extends KubeObject {
  /** `policy/v1`. */
  apiVersion?: "policy/v1";
  /** `Eviction`. */
  kind?: "Eviction";
  /** Options for the pod's deletion. */
  deleteOptions?: DeleteOptions;
}

/** Configuration data as key/value pairs. */
export interface ConfigMap extends KubeObject {
  /** `v1`. */
  apiVersion?: "v1";
  /** `ConfigMap`. */
  kind?: "ConfigMap";
  /** UTF-8 values. */
  data?: Record<string, string>;
  /** Binary values, base64-encoded. */
  binaryData?: Record<string, string>;
  /** When true, data cannot change and this cannot be unset. */
  immutable?: boolean;
}

/** Well-known Secret types. Any other non-empty string is allowed too. */
export type SecretType =
  | "Opaque"
  | "kubernetes.io/service-account-token"
  | "kubernetes.io/dockercfg"
  | "kubernetes.io/dockerconfigjson"
  | "kubernetes.io/basic-auth"
  | "kubernetes.io/ssh-auth"
  | "kubernetes.io/tls"
  | "bootstrap.kubernetes.io/token"
  | (string & Record<never, never>);

/** Sensitive data. */
export interface Secret extends KubeObject {
  /** `v1`. */
  apiVersion?: "v1";
  /** `Secret`. */
  kind?: "Secret";
  /** Values, base64-encoded. */
  data?: Record<string, string>;
  /** Write-only plain values; merged into `data` on write and never stored. */
  stringData?: Record<string, string>;
  /** Defaults to `Opaque`. */
  type?: SecretType;
  /** When true, data cannot change and this cannot be unset. */
  immutable?: boolean;
}

/** The component that reported an event. */
export interface EventSource {
  /** e.g. `default-scheduler`, `kubelet`. */
  component?: string;
  /** The node, for agent events. */
  host?: string;
}

/** A report of something that happened to an object (core/v1 Event). */
export interface Event extends KubeObject {
  /** `v1`. */
  apiVersion?: "v1";
  /** `Event`. */
  kind?: "Event";
  /** The object the event is about. */
  involvedObject: ObjectReference;
  /** Machine-readable reason, e.g. `Scheduled`, `Pulled`, `BackOff`. */
  reason?: string;
  /** Human-readable description. */
  message?: string;
  /** Who reported it. */
  source?: EventSource;
  /** When it was first seen (RFC 3339). */
  firstTimestamp?: string | null;
  /** When it was last seen (RFC 3339). */
  lastTimestamp?: string | null;
  /** How many times it happened. */
  count?: number;
  /** `Normal` or `Warning`. */
  type?: "Normal" | "Warning";
  /** When it first happened, with microseconds (RFC 3339). */
  eventTime?: string | null;
  /** What was done, e.g. `Binding`. */
  action?: string;
  /** A second object involved. */
  related?: ObjectReference;
  /** The controller that emitted it, e.g. `skiff.dev/scheduler`. */
  reportingComponent?: string;
  /** The controller instance, e.g. the host. */
  reportingInstance?: string;
}
