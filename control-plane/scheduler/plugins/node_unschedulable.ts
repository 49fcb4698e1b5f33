/**
 * NodeUnschedulable: cordoned nodes (`spec.unschedulable`) take no new
 * pods, except pods tolerating the `node.kubernetes.io/unschedulable`
 * NoSchedule taint (DaemonSet pods do).
 *
 * @module
 */

import { TAINT_NODE_UNSCHEDULABLE, tolerates, type Toleration } from "@skiff/api";
import type { Plugin } from "../framework.ts";

/** The plugin's name. */
export const NODE_UNSCHEDULABLE = "NodeUnschedulable";
/** Why a cordoned node was refused. */
export const REASON_UNSCHEDULABLE = "node(s) were unschedulable";

/** True when the tolerations let a pod onto a cordoned node. */
export function toleratesCordon(tolerations: readonly Toleration[] | undefined): boolean {
  const taint = { key: TAINT_NODE_UNSCHEDULABLE, effect: "NoSchedule" as const };
  return (tolerations ?? []).some((t) => tolerates(t, taint));
}

/** The plugin. */
export const nodeUnschedulable: Plugin<true> = {
  name: NODE_UNSCHEDULABLE,
  prepare: (pod) => toleratesCordon(pod.pod.spec?.tolerations) ? undefined : true,
  filter: (_pod, node) => node.node.spec?.unschedulable === true ? REASON_UNSCHEDULABLE : undefined,
};
