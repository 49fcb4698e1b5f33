/**
 * Helpers shared by tests across the repository: what a test needs from the
 * machine, temporary directories, a private containerd, a lab of simulated
 * hosts in network namespaces, and a kubectl to act as an outside client.
 * Import this file with a relative path.
 *
 * @module
 */

export * from "./containerd.ts";
export * from "./kubectl.ts";
export * from "./netns_lab.ts";
export * from "./requirements.ts";
export * from "./tmp.ts";
