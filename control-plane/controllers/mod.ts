/**
 * Controllers and the manager that runs them.
 *
 * @module
 */

export * from "./controller.ts";
export * from "./deployment.ts";
export * from "./manager.ts";
export * from "./replicaset.ts";
