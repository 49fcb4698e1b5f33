/**
 * Controllers and the manager that runs them.
 *
 * @module
 */

export * from "./controller.ts";
export * from "./daemonset.ts";
export * from "./deployment.ts";
export * from "./endpoints.ts";
export * from "./garbage_collector.ts";
export * from "./manager.ts";
export * from "./namespace.ts";
export * from "./node_ipam.ts";
export * from "./node_lifecycle.ts";
export * from "./persistent_volume.ts";
export * from "./pod_gc.ts";
export * from "./pv_protection.ts";
export * from "./pvc_protection.ts";
export * from "./replicaset.ts";
export * from "./statefulset.ts";
export * from "./volume_matching.ts";

import type { Controller } from "./controller.ts";
import { DaemonSetController } from "./daemonset.ts";
import { DeploymentController } from "./deployment.ts";
import { EndpointsController } from "./endpoints.ts";
import { GarbageCollector } from "./garbage_collector.ts";
import { NamespaceController } from "./namespace.ts";
import { NodeIpamController } from "./node_ipam.ts";
import { NodeLifecycleController } from "./node_lifecycle.ts";
import { PersistentVolumeController } from "./persistent_volume.ts";
import { PodGarbageCollector } from "./pod_gc.ts";
import { PvProtectionController } from "./pv_protection.ts";
import { PvcProtectionController } from "./pvc_protection.ts";
import { ReplicaSetController } from "./replicaset.ts";
import { StatefulSetController } from "./statefulset.ts";

/** Every controller the control plane runs, freshly constructed. */
export function defaultControllers(): Controller[] {
  return [
    new DeploymentController(),
    new ReplicaSetController(),
    new DaemonSetController(),
    new StatefulSetController(),
    new EndpointsController(),
    new NodeIpamController(),
    new NodeLifecycleController(),
    new GarbageCollector(),
    new NamespaceController(),
    new PodGarbageCollector(),
    new PersistentVolumeController(),
    new PvcProtectionController(),
    new PvProtectionController(),
  ];
}
