/**
 * NodeReady: nodes whose Ready condition is not True take no new pods,
 * unless the pod tolerates the matching NoSchedule taint
 * (`node.kubernetes.io/not-ready` for False, `node.kubernetes.io/unreachable`
 * for Unknown or missing).
 *
 * @module
 */

import { type Node, TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE, tolerates, type Toleration } from "@skiff/api";
import type { Plugin } from "../framework.ts";

/** The plugin's name. */
export const NODE_READY = "NodeReady";
/** Why a node whose Ready condition is False was refused. */
export const REASON_NOT_READY = "node(s) were not ready";
/** Why a node whose Ready condition is Unknown (no heartbeat) was refused. */
export const REASON_UNREACHABLE = "node(s) were unreachable";

const readiness = new WeakMap<Node, "True" | "False" | "Unknown">();

/** The status of the node's Ready condition; Unknown when it has none. */
export function nodeReadyStatus(node: Node): "True" | "False" | "Unknown" {
  let status = readiness.get(node);
  if (status === undefined) {
    const ready = node.status?.conditions?.find((c) => c.type === "Ready")?.status;
    status = ready === "True" || ready === "False" ? ready : "Unknown";
    readiness.set(node, status);
  }
  return status;
}

interface Tolerated {
  notReady: boolean;
  unreachable: boolean;
}

function toleratesNoSchedule(tolerations: readonly Toleration[], key: string): boolean {
  return tolerations.some((t) => tolerates(t, { key, effect: "NoSchedule" }));
}

/** The plugin. */
export const nodeReady: Plugin<Tolerated> = {
  name: NODE_READY,
  prepare(pod) {
    const tolerations = pod.pod.spec?.tolerations ?? [];
    const state = {
      notReady: toleratesNoSchedule(tolerations, TAINT_NODE_NOT_READY),
      unreachable: toleratesNoSchedule(tolerations, TAINT_NODE_UNREACHABLE),
    };
    return state.notReady && state.unreachable ? undefined : state;
  },
  filter(_pod, node, tolerated) {
    switch (nodeReadyStatus(node.node)) {
      case "True":
        return undefined;
      case "False":
        return tolerated.notReady ? undefined : REASON_NOT_READY;
      default:
        return tolerated.unreachable ? undefined : REASON_UNREACHABLE;
    }
  },
};
