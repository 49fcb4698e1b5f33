/**
 * Simulated nodes: N hollow nodes in one process against a real control
 * plane, running pods through the fake runtime, so the whole control plane
 * can be exercised at scale (`skiff sim --nodes N`).
 *
 * @example
 * ```ts
 * import { runSimulatedNodes } from "./mod.ts";
 * const sim = await runSimulatedNodes({ client, nodes: 100, arch: "arm64", devices: { serial: 1 } });
 * ```
 *
 * @module
 */

export * from "./simulated_nodes.ts";
export * from "./pod_status.ts";
