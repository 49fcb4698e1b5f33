/**
 * apps/v1 Deployment, ReplicaSet, DaemonSet and StatefulSet, and
 * autoscaling/v1 Scale, with Kubernetes field names.
 *
 * @module
 */

import type { Condition, KubeObject, LabelSelector } from "./meta.ts";
import type { IntOrString, PodTemplateSpec } from "./types_pod.ts";
import type { PersistentVolumeClaim } from "./types_storage.ts";

/** Rolling update parameters of a Deployment. */
export interface RollingUpdateDeployment {
  /** Pods that may be unavailable during the update: a count or a percentage; defaults to 25%. */
  maxUnavailable?: IntOrString;
  /** Pods that may be created above the desired count: a count or a percentage; defaults to 25%. */
  maxSurge?: IntOrString;
}

/** How a Deployment replaces old pods with new ones. */
export interface DeploymentStrategy {
  /** `RollingUpdate` (default) or `Recreate`. */
  type?: "RollingUpdate" | "Recreate";
  /** Parameters of `RollingUpdate`. */
  rollingUpdate?: RollingUpdateDeployment;
}

/** A Deployment's desired state. */
export interface DeploymentSpec {
  /** Desired pods; defaults to 1. */
  replicas?: number;
  /** Pods it manages; must match the template's labels; immutable. */
  selector: LabelSelector;
  /** The pods to run. */
  template: PodTemplateSpec;
  /** How to roll out changes. */
  strategy?: DeploymentStrategy;
  /** Seconds a new pod must be ready before it counts as available. */
  minReadySeconds?: number;
  /** Old ReplicaSets kept for rollback; defaults to 10. */
  revisionHistoryLimit?: number;
  /** Pauses rollouts. */
  paused?: boolean;
  /** Seconds without progress before the rollout is reported failed; defaults to 600. */
  progressDeadlineSeconds?: number;
}

/** A Deployment's observed state. */
export interface DeploymentStatus {
  /** The generation this status describes. */
  observedGeneration?: number;
  /** Pods targeted (any template). */
  replicas?: number;
  /** Pods with the current template. */
  updatedReplicas?: number;
  /** Ready pods. */
  readyReplicas?: number;
  /** Ready for at least minReadySeconds. */
  availableReplicas?: number;
  /** Pods not available. */
  unavailableReplicas?: number;
  /** Available, Progressing, ReplicaFailure. */
  conditions?: Condition[];
  /** Bumped on hash collisions of the template. */
  collisionCount?: number;
}

/** Declarative updates of replicated pods through ReplicaSets. */
export interface Deployment extends KubeObject {
  /** `apps/v1`. */
  apiVersion?: "apps/v1";
  /** `Deployment`. */
  kind?: "Deployment";
  /** Desired state. */
  spec?: DeploymentSpec;
  /** Observed state. */
  status?: DeploymentStatus;
}

/** A ReplicaSet's desired state. */
export interface ReplicaSetSpec {
  /** Desired pods; defaults to 1. */
  replicas?: number;
  /** Seconds a new pod must be ready before it counts as available. */
  minReadySeconds?: number;
  /** Pods it manages; must match the template's labels; immutable. */
  selector: LabelSelector;
  /** The pods to run. */
  template?: PodTemplateSpec;
}

/** A ReplicaSet's observed state. */
export interface ReplicaSetStatus {
  /** Pods that exist. */
  replicas: number;
  /** Pods whose labels match the template. */
  fullyLabeledReplicas?: number;
  /** Ready pods. */
  readyReplicas?: number;
  /** Ready for at least minReadySeconds. */
  availableReplicas?: number;
  /** The generation this status describes. */
  observedGeneration?: number;
  /** ReplicaFailure. */
  conditions?: Condition[];
}

/** Keeps a number of identical pods running. */
export interface ReplicaSet extends KubeObject {
  /** `apps/v1`. */
  apiVersion?: "apps/v1";
  /** `ReplicaSet`. */
  kind?: "ReplicaSet";
  /** Desired state. */
  spec?: ReplicaSetSpec;
  /** Observed state. */
  status?: ReplicaSetStatus;
}

/** How a DaemonSet replaces pods. */
export interface DaemonSetUpdateStrategy {
  /** `RollingUpdate` (default) or `OnDelete`. */
  type?: "RollingUpdate" | "OnDelete";
  /** Parameters of `RollingUpdate`. */
  rollingUpdate?: {
    /** Nodes whose pod may be unavailable; defaults to 1. */
    maxUnavailable?: IntOrString;
    /** Nodes that may run an extra pod during the update; defaults to 0. */
    maxSurge?: IntOrString;
  };
}

/** A DaemonSet's desired state. */
export interface DaemonSetSpec {
  /** Pods it manages; must match the template's labels; immutable. */
  selector: LabelSelector;
  /** The pod to run on every eligible node. */
  template: PodTemplateSpec;
  /** How to roll out changes. */
  updateStrategy?: DaemonSetUpdateStrategy;
  /** Seconds a new pod must be ready before it counts as available. */
  minReadySeconds?: number;
  /** Old revisions kept; defaults to 10. */
  revisionHistoryLimit?: number;
}

/** A DaemonSet's observed state. */
export interface DaemonSetStatus {
  /** Nodes running a pod that should. */
  currentNumberScheduled: number;
  /** Nodes running a pod that should not. */
  numberMisscheduled: number;
  /** Nodes that should run a pod. */
  desiredNumberScheduled: number;
  /** Nodes whose pod is ready. */
  numberReady: number;
  /** The generation this status describes. */
  observedGeneration?: number;
  /** Nodes running the current template. */
  updatedNumberScheduled?: number;
  /** Nodes whose pod is available. */
  numberAvailable?: number;
  /** Nodes whose pod is not available. */
  numberUnavailable?: number;
  /** Bumped on hash collisions of the template. */
  collisionCount?: number;
  /** Conditions. */
  conditions?: Condition[];
}

/** Runs one pod on every (selected) node. */
export interface DaemonSet extends KubeObject {
  /** `apps/v1`. */
  apiVersion?: "apps/v1";
  /** `DaemonSet`. */
  kind?: "DaemonSet";
  /** Desired state. */
  spec?: DaemonSetSpec;
  /** Observed state. */
  status?: DaemonSetStatus;
}

/** How a StatefulSet replaces pods. */
export interface StatefulSetUpdateStrategy {
  /** `RollingUpdate` (default) or `OnDelete`. */
  type?: "RollingUpdate" | "OnDelete";
  /** Parameters of `RollingUpdate`. */
  rollingUpdate?: {
    /** Only ordinals >= partition are updated; defaults to 0. */
    partition?: number;
    /** Pods that may be unavailable during the update. */
    maxUnavailable?: IntOrString;
  };
}

/** A StatefulSet's desired state. */
export interface StatefulSetSpec {
  /** Desired pods; defaults to 1. */
  replicas?: number;
  /** Pods it manages; must match the template's labels; immutable. */
  selector: LabelSelector;
  /** The pods to run (named `<set>-<ordinal>`). */
  template: PodTemplateSpec;
  /** Claims created per pod (`<claim>-<set>-<ordinal>`). */
  volumeClaimTemplates?: PersistentVolumeClaim[];
  /** The headless Service giving pods stable DNS names. */
  serviceName?: string;
  /** `OrderedReady` (default) or `Parallel`. */
  podManagementPolicy?: "OrderedReady" | "Parallel";
  /** How to roll out changes. */
  updateStrategy?: StatefulSetUpdateStrategy;
  /** Old revisions kept; defaults to 10. */
  revisionHistoryLimit?: number;
  /** Seconds a new pod must be ready before it counts as available. */
  minReadySeconds?: number;
  /** What happens to claims when the set is deleted or scaled down. */
  persistentVolumeClaimRetentionPolicy?: {
    /** `Retain` (default) or `Delete`. */
    whenDeleted?: "Retain" | "Delete";
    /** `Retain` (default) or `Delete`. */
    whenScaled?: "Retain" | "Delete";
  };
  /** First ordinal to use. */
  ordinals?: { start?: number };
}

/** A StatefulSet's observed state. */
export interface StatefulSetStatus {
  /** The generation this status describes. */
  observedGeneration?: number;
  /** Pods that exist. */
  replicas: number;
  /** Ready pods. */
  readyReplicas?: number;
  /** Pods at `currentRevision`. */
  currentReplicas?: number;
  /** Pods at `updateRevision`. */
  updatedReplicas?: number;
  /** Revision of the pods before the current update. */
  currentRevision?: string;
  /** Revision being rolled out. */
  updateRevision?: string;
  /** Bumped on hash collisions of the template. */
  collisionCount?: number;
  /** Ready for at least minReadySeconds. */
  availableReplicas?: number;
  /** Conditions. */
  conditions?: Condition[];
}

/** Pods with stable names, order and per-pod storage. */
export interface StatefulSet extends KubeObject {
  /** `apps/v1`. */
  apiVersion?: "apps/v1";
  /** `StatefulSet`. */
  kind?: "StatefulSet";
  /** Desired state. */
  spec?: StatefulSetSpec;
  /** Observed state. */
  status?: StatefulSetStatus;
}

/** The `scale` subresource of Deployments, ReplicaSets and StatefulSets. */
export interface Scale extends KubeObject {
  /** `autoscaling/v1`. */
  apiVersion?: "autoscaling/v1";
  /** `Scale`. */
  kind?: "Scale";
  /** Desired replicas. */
  spec?: { replicas?: number };
  /** Observed replicas and the selector as a string. */
  status?: { replicas: number; selector?: string };
}
