/**
 * The Skiff control plane: store, API server, scheduler, controllers.
 *
 * @module
 */

export * from "./store/mod.ts";
