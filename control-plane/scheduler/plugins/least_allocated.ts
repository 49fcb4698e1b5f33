/**
 * LeastAllocated: prefers nodes with more CPU and memory left after the
 * pod's requests (containers without requests count as 100m and 200Mi).
 *
 * @module
 */

import { MAX_NODE_SCORE, type NodeInfo, type Plugin, type PodInfo } from "../framework.ts";

/** The plugin's name. */
export const LEAST_ALLOCATED = "LeastAllocated";

/** The share (0..100) of `capacity` left after `requested`; 0 when it does not fit or there is none. */
export function freeShare(requested: number, capacity: number): number {
  if (capacity <= 0 || requested > capacity) return 0;
  return MAX_NODE_SCORE * (capacity - requested) / capacity;
}

/** The mean of the free CPU and memory shares once the pod is placed. */
export function leastAllocatedScore(pod: PodInfo, node: NodeInfo): number {
  const cpu = freeShare(node.nonZeroMilliCpu + pod.nonZeroMilliCpu, node.allocatable.milliCpu);
  const memory = freeShare(node.nonZeroMemory + pod.nonZeroMemory, node.allocatable.memory);
  return (cpu + memory) / 2;
}

/** The plugin. */
export const leastAllocated: Plugin = {
  name: LEAST_ALLOCATED,
  score: leastAllocatedScore,
};
