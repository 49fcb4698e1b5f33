/**
 * The Skiff node agent: hardware, runtime, pod network, service proxy,
 * volumes, and simulated nodes.
 *
 * @module
 */

export * from "./agent.ts";
export * from "./hardware/mod.ts";
export * from "./network/mod.ts";
export * from "./node/mod.ts";
export * from "./runtime/mod.ts";
export * from "./sim/mod.ts";
export * from "./volume/mod.ts";
