/**
 * The scheduling pipeline for one pod, over a snapshot:
 *
 * 1. prepare: each plugin computes its per-pod state, or opts out; a
 *    plugin's preFilter may rule the pod out at once (a missing claim);
 * 2. filter: nodes are visited from a rotating start until enough feasible
 *    ones are found (all of them in small clusters; with many nodes, as
 *    kube-scheduler's percentageOfNodesToScore, a share of them but at
 *    least 100), each node stopping at its first failing plugin;
 * 3. score: every feasible node gets each scoring plugin's 0..100 score
 *    times the plugin's weight;
 * 4. pick: the highest total wins, ties broken at random.
 *
 * When no node is feasible every node was visited, and the reasons they
 * gave make the summary message.
 *
 * @module
 */

import type { NodeInfo, Plugin, PodInfo, Snapshot } from "./framework.ts";
import { countReason, unschedulableMessage } from "./summary.ts";

/** Fewest feasible nodes to find before scoring, when the cluster has more. */
export const MIN_FEASIBLE_NODES = 100;
/** Smallest share of nodes (percent) to find feasible, in adaptive mode. */
export const MIN_FEASIBLE_PERCENTAGE = 5;

/**
 * How many feasible nodes to find before scoring among `total`:
 * `percentage` of them (0 means adaptive: 50% shrinking by 1% per 125
 * nodes, at least 5%), never fewer than 100 unless there are fewer nodes.
 */
export function feasibleNodesToFind(total: number, percentage: number): number {
  if (total <= MIN_FEASIBLE_NODES || percentage >= 100) return total;
  let share = percentage > 0 ? percentage : 50 - total / 125;
  if (share < MIN_FEASIBLE_PERCENTAGE) share = MIN_FEASIBLE_PERCENTAGE;
  return Math.max(MIN_FEASIBLE_NODES, Math.floor(total * share / 100));
}

/** Where a pod goes, or why it goes nowhere. */
export type FindNodeResult =
  | { node: NodeInfo; evaluated: number; feasible: number }
  | { node: undefined; evaluated: number; reasons: Map<string, number>; message: string };

/** Options of {@linkcode Framework}. */
export interface FrameworkOptions {
  /** Weight per plugin name (default: the plugin's own, else 1). */
  weights?: Readonly<Record<string, number>>;
  /** See {@linkcode feasibleNodesToFind} (default 0: adaptive). */
  percentageOfNodesToScore?: number;
  /** Random numbers in [0, 1) for tie-breaks (default Math.random). */
  random?: () => number;
}

/** Runs plugins over a snapshot to place one pod at a time. */
export class Framework {
  readonly #plugins: readonly Plugin[];
  readonly #weights: number[];
  readonly #percentage: number;
  readonly #random: () => number;
  #next = 0;

  /** Creates a framework running `plugins` (filters in this order). */
  constructor(plugins: readonly Plugin[], options: FrameworkOptions = {}) {
    this.#plugins = plugins;
    this.#weights = plugins.map((p) => options.weights?.[p.name] ?? p.weight ?? 1);
    this.#percentage = options.percentageOfNodesToScore ?? 0;
    this.#random = options.random ?? Math.random;
  }

  /** The plugins, in order. */
  get plugins(): readonly Plugin[] {
    return this.#plugins;
  }

  /** Finds the best node for `pod` in `snapshot`. */
  findNode(pod: PodInfo, snapshot: Snapshot): FindNodeResult {
    const filters: Plugin[] = [];
    const filterStates: unknown[] = [];
    const scorers: Plugin[] = [];
    const scoreStates: unknown[] = [];
    const scoreWeights: number[] = [];
    for (let i = 0; i < this.#plugins.length; i++) {
      const plugin = this.#plugins[i]!;
      let state: unknown = undefined;
      if (plugin.prepare) {
        state = plugin.prepare(pod, snapshot);
        if (state === undefined) continue;
      }
      const rejected = plugin.preFilter?.(pod, state);
      if (rejected !== undefined) {
        const total = snapshot.nodes.length;
        const reasons = new Map([[rejected, total]]);
        return { node: undefined, evaluated: 0, reasons, message: `0/${total} nodes are available: ${rejected}.` };
      }
      if (plugin.filter) {
        filters.push(plugin);
        filterStates.push(state);
      }
      const weight = this.#weights[i]!;
      if (plugin.score && weight !== 0) {
        scorers.push(plugin);
        scoreStates.push(state);
        scoreWeights.push(weight);
      }
    }

    const nodes = snapshot.nodes;
    const total = nodes.length;
    const wanted = feasibleNodesToFind(total, this.#percentage);
    const feasible: NodeInfo[] = [];
    const reasons = new Map<string, number>();
    const start = total > 0 ? this.#next % total : 0;
    let visited = 0;
    for (; visited < total && feasible.length < wanted; visited++) {
      let index = start + visited;
      if (index >= total) index -= total;
      const node = nodes[index]!;
      let fits = true;
      for (let f = 0; f < filters.length; f++) {
        const result = filters[f]!.filter!(pod, node, filterStates[f]);
        if (result === undefined) continue;
        if (typeof result === "string") countReason(reasons, result);
        else for (const r of result) countReason(reasons, r);
        fits = false;
        break;
      }
      if (fits) feasible.push(node);
    }
    this.#next = total > 0 ? (start + visited) % total : 0;

    if (feasible.length === 0) {
      return { node: undefined, evaluated: visited, reasons, message: unschedulableMessage(total, reasons) };
    }
    if (feasible.length === 1 || scorers.length === 0) {
      return { node: feasible[0]!, evaluated: visited, feasible: feasible.length };
    }
    const totals = new Float64Array(feasible.length);
    const scores = new Float64Array(feasible.length);
    for (let s = 0; s < scorers.length; s++) {
      const plugin = scorers[s]!;
      const state = scoreStates[s];
      for (let j = 0; j < feasible.length; j++) scores[j] = plugin.score!(pod, feasible[j]!, state);
      plugin.normalize?.(scores, state);
      const weight = scoreWeights[s]!;
      for (let j = 0; j < feasible.length; j++) totals[j]! += scores[j]! * weight;
    }
    let best = 0;
    let ties = 1;
    for (let j = 1; j < feasible.length; j++) {
      if (totals[j]! > totals[best]!) {
        best = j;
        ties = 1;
      } else if (totals[j] === totals[best] && this.#random() * ++ties < 1) {
        best = j;
      }
    }
    return { node: feasible[best]!, evaluated: visited, feasible: feasible.length };
  }
}
