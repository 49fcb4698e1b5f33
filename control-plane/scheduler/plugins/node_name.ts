/**
 * NodeName: a pod that names its node (`spec.nodeName`) fits only there.
 *
 * @module
 */

import type { Plugin } from "../framework.ts";

/** The plugin's name. */
export const NODE_NAME = "NodeName";
/** Why a node other than the requested one was refused. */
export const REASON_NODE_NAME = "node(s) didn't match the requested node name";

/** True when a pod asking for `wanted` (or for no node) may run on `node`. */
export function nodeNameMatches(wanted: string | undefined, node: string): boolean {
  return !wanted || wanted === node;
}

/** The plugin. */
export const nodeName: Plugin<string> = {
  name: NODE_NAME,
  prepare: (pod) => pod.pod.spec?.nodeName || undefined,
  filter: (_pod, node, wanted) => nodeNameMatches(wanted, node.name) ? undefined : REASON_NODE_NAME,
};
