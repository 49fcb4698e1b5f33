/**
 * NodeResourcesFit: a pod fits where its requests (cpu, memory,
 * ephemeral-storage, extended resources, and one pod) fit in the node's
 * allocatable minus what its pods already request. Device resources
 * (`devices.skiff.dev/*`) are the Devices plugin's to judge.
 *
 * @module
 */

import { DEVICE_RESOURCE_PREFIX } from "@skiff/api";
import type { NodeInfo, Plugin, PodInfo } from "../framework.ts";

/** The plugin's name. */
export const NODE_RESOURCES_FIT = "NodeResourcesFit";
/** Why a node at its pod limit was refused. */
export const REASON_TOO_MANY_PODS = "Too many pods";

/** Every resource the pod does not fit on the node for, Kubernetes style (`Insufficient memory`). */
export function insufficientResources(pod: PodInfo, node: NodeInfo): string[] {
  const reasons: string[] = [];
  if (node.pods.size + 1 > node.allowedPodCount) reasons.push(REASON_TOO_MANY_PODS);
  const want = pod.requests;
  const have = node.allocatable;
  const used = node.requested;
  if (want.milliCpu > 0 && want.milliCpu > have.milliCpu - used.milliCpu) reasons.push("Insufficient cpu");
  if (want.memory > 0 && want.memory > have.memory - used.memory) reasons.push("Insufficient memory");
  if (want.ephemeralStorage > 0 && want.ephemeralStorage > have.ephemeralStorage - used.ephemeralStorage) {
    reasons.push("Insufficient ephemeral-storage");
  }
  if (want.scalar) {
    for (const [name, amount] of want.scalar) {
      if (amount <= 0 || name.startsWith(DEVICE_RESOURCE_PREFIX)) continue;
      if (amount > (have.scalar?.get(name) ?? 0) - (used.scalar?.get(name) ?? 0)) reasons.push(`Insufficient ${name}`);
    }
  }
  return reasons;
}

/** True when the pod fits (the allocation-free check run on every node). */
export function fits(pod: PodInfo, node: NodeInfo): boolean {
  if (node.pods.size + 1 > node.allowedPodCount) return false;
  const want = pod.requests;
  const have = node.allocatable;
  const used = node.requested;
  if (want.milliCpu > 0 && want.milliCpu > have.milliCpu - used.milliCpu) return false;
  if (want.memory > 0 && want.memory > have.memory - used.memory) return false;
  if (want.ephemeralStorage > 0 && want.ephemeralStorage > have.ephemeralStorage - used.ephemeralStorage) return false;
  return want.scalar === undefined || insufficientResources(pod, node).length === 0;
}

/** The plugin. */
export const nodeResourcesFit: Plugin = {
  name: NODE_RESOURCES_FIT,
  filter(pod, node) {
    if (fits(pod, node)) return undefined;
    const reasons = insufficientResources(pod, node);
    return reasons.length === 1 ? reasons[0] : reasons;
  },
};
