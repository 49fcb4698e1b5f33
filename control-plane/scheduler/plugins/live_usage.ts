/**
 * LiveUsage: prefers nodes whose measured CPU and memory use is low, not
 * only their requests: a Pi whose unmanaged processes eat its memory looks
 * full here. Readings come from metrics.k8s.io NodeMetrics when the agents
 * report them, else from the agents' node annotations.
 *
 * @module
 */

import { ANNOTATION_CPU_USAGE_PERCENT, ANNOTATION_MEMORY_USAGE_PERCENT } from "@skiff/api";
import { MAX_NODE_SCORE, type NodeInfo, type Plugin } from "../framework.ts";

/** The plugin's name. */
export const LIVE_USAGE = "LiveUsage";

/** Measured use in percent of allocatable; a field is undefined when not reported. */
export interface UsagePercent {
  /** CPU. */
  cpu: number | undefined;
  /** Memory. */
  memory: number | undefined;
}

function percentAnnotation(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? Math.min(100, Math.max(0, n)) : undefined;
}

/** A node's measured use: NodeMetrics against allocatable, else its annotations. */
export function usagePercent(node: NodeInfo): UsagePercent {
  const usage = node.usage;
  const { milliCpu, memory } = node.allocatable;
  if (usage && milliCpu > 0 && memory > 0) {
    return {
      cpu: Math.min(100, 100 * usage.milliCpu / milliCpu),
      memory: Math.min(100, 100 * usage.memory / memory),
    };
  }
  const annotations = node.node.metadata.annotations;
  return {
    cpu: percentAnnotation(annotations?.[ANNOTATION_CPU_USAGE_PERCENT]),
    memory: percentAnnotation(annotations?.[ANNOTATION_MEMORY_USAGE_PERCENT]),
  };
}

/** 100 minus the mean of the known percentages; 50 when neither is known. */
export function liveUsageScore(usage: UsagePercent): number {
  const known = [usage.cpu, usage.memory].filter((v): v is number => v !== undefined);
  if (known.length === 0) return MAX_NODE_SCORE / 2;
  return MAX_NODE_SCORE - known.reduce((a, b) => a + b, 0) / known.length;
}

/** The plugin. */
export const liveUsage: Plugin = {
  name: LIVE_USAGE,
  score: (_pod, node) => liveUsageScore(usagePercent(node)),
};
