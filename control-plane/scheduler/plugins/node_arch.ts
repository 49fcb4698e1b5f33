/**
 * NodeArch: a pod whose images run only on some architectures (annotation
 * `skiff.dev/arch`, e.g. `arm64` or `amd64,arm64`) lands only on nodes
 * whose `kubernetes.io/arch` label is one of them. Pods may also select
 * the label directly through nodeSelector or node affinity.
 *
 * @module
 */

import { LABEL_ARCH } from "@skiff/api";
import { ANNOTATION_POD_ARCH } from "@skiff/api";
import type { Plugin } from "../framework.ts";

/** The plugin's name. */
export const NODE_ARCH = "NodeArch";

/** Why a node of another architecture was refused. */
export function archReason(wanted: readonly string[]): string {
  return `node(s) didn't match the pod's architecture (${wanted.join(", ")})`;
}

/** The architectures a pod runs on, from its annotation; undefined when it does not say. */
export function podArchitectures(annotations: Readonly<Record<string, string>> | undefined): string[] | undefined {
  const value = annotations?.[ANNOTATION_POD_ARCH];
  if (value === undefined) return undefined;
  const arches = value.split(",").map((a) => a.trim()).filter((a) => a !== "");
  return arches.length > 0 ? arches : undefined;
}

/** The plugin. */
export const nodeArch: Plugin<{ arches: string[]; reason: string }> = {
  name: NODE_ARCH,
  prepare(pod) {
    const arches = podArchitectures(pod.pod.metadata.annotations);
    return arches ? { arches, reason: archReason(arches) } : undefined;
  },
  filter(_pod, node, state) {
    const arch = node.labels[LABEL_ARCH];
    return arch !== undefined && state.arches.includes(arch) ? undefined : state.reason;
  },
};
