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
export * from "./node_lifecycle.ts";
export * from "./pod_gc.ts";
export * from "./replicaset.ts";
export * from "./statefulset.ts";
