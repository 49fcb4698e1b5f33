/**
 * The plugin registry: every plugin by name, in the order filters run
 * (cheap and decisive first, as kube-scheduler orders them). A scheduler
 * runs all of them unless told to run a subset.
 *
 * @module
 */

import type { PluginFactory } from "./framework.ts";
import { BALANCED_ALLOCATION, balancedAllocation } from "./plugins/balanced_allocation.ts";
import { DEFAULT_SPREAD, defaultSpread } from "./plugins/default_spread.ts";
import { DEVICES, devices } from "./plugins/devices.ts";
import { INTER_POD_AFFINITY, interPodAffinity } from "./plugins/inter_pod_affinity.ts";
import { LEAST_ALLOCATED, leastAllocated } from "./plugins/least_allocated.ts";
import { LIVE_USAGE, liveUsage } from "./plugins/live_usage.ts";
import { NODE_AFFINITY, nodeAffinity } from "./plugins/node_affinity.ts";
import { NODE_ARCH, nodeArch } from "./plugins/node_arch.ts";
import { NODE_NAME, nodeName } from "./plugins/node_name.ts";
import { NODE_READY, nodeReady } from "./plugins/node_ready.ts";
import { NODE_RESOURCES_FIT, nodeResourcesFit } from "./plugins/node_resources_fit.ts";
import { NODE_UNSCHEDULABLE, nodeUnschedulable } from "./plugins/node_unschedulable.ts";
import { POD_TOPOLOGY_SPREAD, podTopologySpread } from "./plugins/pod_topology_spread.ts";
import { TAINT_TOLERATION, taintToleration } from "./plugins/taint_toleration.ts";
import { THERMAL, thermal } from "./plugins/thermal.ts";
import { VOLUME_BINDING, volumeBinding } from "./plugins/volume_binding.ts";

/** Every plugin by name; filters run in this order. */
export const PLUGINS: Readonly<Record<string, PluginFactory>> = {
  [NODE_UNSCHEDULABLE]: () => nodeUnschedulable,
  [NODE_READY]: () => nodeReady,
  [NODE_NAME]: () => nodeName,
  [NODE_AFFINITY]: () => nodeAffinity,
  [NODE_ARCH]: () => nodeArch,
  [TAINT_TOLERATION]: () => taintToleration,
  [THERMAL]: thermal,
  [NODE_RESOURCES_FIT]: () => nodeResourcesFit,
  [DEVICES]: () => devices,
  [VOLUME_BINDING]: volumeBinding,
  [POD_TOPOLOGY_SPREAD]: () => podTopologySpread,
  [INTER_POD_AFFINITY]: () => interPodAffinity,
  [LEAST_ALLOCATED]: () => leastAllocated,
  [BALANCED_ALLOCATION]: () => balancedAllocation,
  [DEFAULT_SPREAD]: () => defaultSpread,
  [LIVE_USAGE]: () => liveUsage,
};
