/**
 * core/v1 PersistentVolume and PersistentVolumeClaim, and
 * storage.k8s.io/v1 StorageClass, with Kubernetes field names.
 *
 * @module
 */

import type { Condition, KubeObject, LabelSelector } from "./meta.ts";
import type { ObjectReference } from "./types_core.ts";
import type { NodeSelector, ResourceList } from "./types_pod.ts";

/** How a volume may be mounted. */
export type PersistentVolumeAccessMode =
  | "ReadWriteOnce"
  | "ReadOnlyMany"
  | "ReadWriteMany"
  | "ReadWriteOncePod";

/** A filesystem (default) or a raw block device. */
export type PersistentVolumeMode = "Filesystem" | "Block";

/** A volume provided by a CSI driver. */
export interface CSIPersistentVolumeSource {
  /** The driver's name, e.g. `local.csi.skiff.dev`. */
  driver: string;
  /** The driver's id of the volume. */
  volumeHandle: string;
  /** Mount read-only. */
  readOnly?: boolean;
  /** Filesystem type, e.g. `ext4`. */
  fsType?: string;
  /** Driver-specific attributes. */
  volumeAttributes?: Record<string, string>;
}

/** A persistent volume's desired state; exactly one source is set. */
export interface PersistentVolumeSpec {
  /** `storage` size. */
  capacity?: ResourceList;
  /** How it may be mounted. */
  accessModes?: PersistentVolumeAccessMode[];
  /** The claim bound to it. */
  claimRef?: ObjectReference;
  /** `Retain` (default for manual volumes), `Delete` or `Recycle`. */
  persistentVolumeReclaimPolicy?: "Retain" | "Delete" | "Recycle";
  /** The class it belongs to; empty means none. */
  storageClassName?: string;
  /** Mount options, e.g. `noatime`. */
  mountOptions?: string[];
  /** Filesystem or Block; defaults to Filesystem. */
  volumeMode?: PersistentVolumeMode;
  /** Nodes that can reach the volume. */
  nodeAffinity?: { required?: NodeSelector };
  /** A node directory. */
  hostPath?: { path: string; type?: string };
  /** A local disk or directory (needs nodeAffinity). */
  local?: { path: string; fsType?: string };
  /** A CSI volume. */
  csi?: CSIPersistentVolumeSource;
  /** An NFS export. */
  nfs?: { server: string; path: string; readOnly?: boolean };
}

/** A persistent volume's observed state. */
export interface PersistentVolumeStatus {
  /** `Pending`, `Available`, `Bound`, `Released` or `Failed`. */
  phase?: "Pending" | "Available" | "Bound" | "Released" | "Failed";
  /** Details. */
  message?: string;
  /** Machine-readable reason. */
  reason?: string;
  /** When the phase last changed. */
  lastPhaseTransitionTime?: string;
}

/** A piece of storage in the cluster. Cluster-scoped. */
export interface PersistentVolume extends KubeObject {
  /** `v1`. */
  apiVersion?: "v1";
  /** `PersistentVolume`. */
  kind?: "PersistentVolume";
  /** Desired state. */
  spec?: PersistentVolumeSpec;
  /** Observed state. */
  status?: PersistentVolumeStatus;
}

/** A claim's desired state. */
export interface PersistentVolumeClaimSpec {
  /** Access modes wanted (at least one). */
  accessModes?: PersistentVolumeAccessMode[];
  /** Only volumes with these labels. */
  selector?: LabelSelector;
  /** `requests.storage` is required; it may grow, never shrink. */
  resources?: { requests?: ResourceList; limits?: ResourceList };
  /** The volume bound to it; set by the binder. */
  volumeName?: string;
  /** The class wanted; empty string means none, absent means the default class. */
  storageClassName?: string;
  /** Filesystem or Block; defaults to Filesystem. */
  volumeMode?: PersistentVolumeMode;
  /** Populate from another object. */
  dataSource?: { apiGroup?: string; kind: string; name: string };
}

/** A claim's observed state. */
export interface PersistentVolumeClaimStatus {
  /** `Pending`, `Bound` or `Lost`. */
  phase?: "Pending" | "Bound" | "Lost";
  /** Access modes of the bound volume. */
  accessModes?: PersistentVolumeAccessMode[];
  /** Size of the bound volume. */
  capacity?: ResourceList;
  /** Resizing, FileSystemResizePending, … */
  conditions?: Condition[];
}

/** A request for storage. */
export interface PersistentVolumeClaim extends KubeObject {
  /** `v1`. */
  apiVersion?: "v1";
  /** `PersistentVolumeClaim`. */
  kind?: "PersistentVolumeClaim";
  /** Desired state. */
  spec?: PersistentVolumeClaimSpec;
  /** Observed state. */
  status?: PersistentVolumeClaimStatus;
}

/** A class of dynamically provisioned storage. Cluster-scoped. */
export interface StorageClass extends KubeObject {
  /** `storage.k8s.io/v1`. */
  apiVersion?: "storage.k8s.io/v1";
  /** `StorageClass`. */
  kind?: "StorageClass";
  /** The provisioner (CSI driver) name. */
  provisioner: string;
  /** Provisioner-specific parameters; immutable. */
  parameters?: Record<string, string>;
  /** `Delete` (default) or `Retain`. */
  reclaimPolicy?: "Delete" | "Retain";
  /** Mount options of provisioned volumes. */
  mountOptions?: string[];
  /** Whether claims may grow. */
  allowVolumeExpansion?: boolean;
  /** `Immediate` (default) or `WaitForFirstConsumer`. */
  volumeBindingMode?: "Immediate" | "WaitForFirstConsumer";
  /** Topologies where volumes may be provisioned. */
  allowedTopologies?: {
    matchLabelExpressions?: { key: string; values: string[] }[];
  }[];
}
