/**
 * BalancedAllocation: prefers nodes whose CPU and memory would be used in
 * similar proportions once the pod is placed, so neither runs out first.
 *
 * @module
 */

import { MAX_NODE_SCORE, type NodeInfo, type Plugin, type PodInfo } from "../framework.ts";

/** The plugin's name. */
export const BALANCED_ALLOCATION = "BalancedAllocation";

/** 100 when the used fractions are equal, less the further apart they are (100 × (1 − standard deviation)). */
export function balanceScore(cpuFraction: number, memoryFraction: number): number {
  const cpu = Math.min(1, cpuFraction);
  const memory = Math.min(1, memoryFraction);
  return MAX_NODE_SCORE * (1 - Math.abs(cpu - memory) / 2);
}

/** The plugin. */
export const balancedAllocation: Plugin = {
  name: BALANCED_ALLOCATION,
  score(pod: PodInfo, node: NodeInfo) {
    const { milliCpu, memory } = node.allocatable;
    if (milliCpu <= 0 || memory <= 0) return 0;
    return balanceScore(
      (node.nonZeroMilliCpu + pod.nonZeroMilliCpu) / milliCpu,
      (node.nonZeroMemory + pod.nonZeroMemory) / memory,
    );
  },
};
