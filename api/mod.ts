/**
 * Shared resource types, defaults, validation and errors. No I/O: every other
 * part of Skiff imports this one.
 *
 * @module
 */

export * from "./clock.ts";
export * from "./errors.ts";
export * from "./meta.ts";
export * from "./constants.ts";
export * from "./defaults.ts";
export * from "./image.ts";
export * from "./names.ts";
export * from "./quantity.ts";
export * from "./registry.ts";
export * from "./selectors.ts";
export * from "./types_apps.ts";
export * from "./types_cluster.ts";
export * from "./types_core.ts";
export * from "./types_network.ts";
export * from "./types_pod.ts";
export * from "./types_storage.ts";
export * from "./validate_apps.ts";
export * from "./validate_core.ts";
export * from "./validate_meta.ts";
export * from "./validate_network.ts";
export * from "./validate_pod.ts";
export * from "./validate_storage.ts";
export * from "./patch/mod.ts";
export * from "./printing.ts";
