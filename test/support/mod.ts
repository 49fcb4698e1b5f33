/**
 * Helpers shared by tests across the repository: what a test needs from the
 * machine, temporary directories, a private containerd, a lab of simulated
 * hosts in network namespaces, polling for a condition, and a kubectl to
 * act as an outside client. Import this file with a relative path; a
 * cluster of real agents in a lab (`multi_node.ts`, which loads the
 * control plane) is imported on its own.
 *
 * @module
 */

export * from "./containerd.ts";
export * from "./eventually.ts";
export * from "./kubectl.ts";
export * from "./netns_lab.ts";
export * from "./processes.ts";
export * from "./requirements.ts";
export * from "./tmp.ts";
