/**
 * The Skiff control plane: store, API server, scheduler, controllers.
 *
 * @module
 */

export * from "./store/mod.ts";
export * from "./pki/mod.ts";
export * from "./apiserver/mod.ts";
export * from "./controllers/mod.ts";
export * from "./cloud/mod.ts";
export * from "./scheduler/mod.ts";
export * from "./control_plane.ts";
