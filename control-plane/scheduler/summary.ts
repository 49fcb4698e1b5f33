/**
 * The one-line explanation of why a pod fits nowhere, Kubernetes style:
 * `0/4 nodes are available: 1 node too hot (81°C > 75°C), 1 node(s) were
 * unschedulable, 2 Insufficient memory.`
 *
 * @module
 */

/** Counts `reason` once more in `reasons`. */
export function countReason(reasons: Map<string, number>, reason: string): void {
  reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
}

function phrase(reason: string, count: number): string {
  return count > 1 && reason.startsWith("node ") ? `${count} nodes ${reason.slice(5)}` : `${count} ${reason}`;
}

/**
 * The summary for a pod no node took: each reason with the number of
 * nodes that gave it, sorted as text as kube-scheduler sorts them. A reason
 * written for one node (`node too hot …`) reads `2 nodes too hot …` for two.
 */
export function unschedulableMessage(totalNodes: number, reasons: ReadonlyMap<string, number>): string {
  if (totalNodes === 0) return "0/0 nodes are available: no nodes are registered.";
  const parts = [...reasons].map(([reason, count]) => phrase(reason, count)).sort();
  return `0/${totalNodes} nodes are available: ${parts.join(", ")}.`;
}
