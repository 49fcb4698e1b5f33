/**
 * The Skiff node agent: hardware, runtime, pod network, volumes.
 *
 * @module
 */

export * from "./hardware/mod.ts";
export * from "./network/mod.ts";
export * from "./volume/mod.ts";
