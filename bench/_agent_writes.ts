/**
 * What the agent writes to the API server, counted from watches: its
 * Node's updates (status), its Lease's renewals (heartbeats), the updates
 * of the pods of one namespace (status, as only the agent writes a running
 * pod) and the Events created there, so the agent benchmark can tell the
 * agent's status update rate over a window.
 *
 * @module
 */

import type { KubeObject } from "@skiff/api";
import type { ApiClient, ResourceClient } from "@skiff/client";

/** Writes seen, by what was written. */
export interface WriteCounts {
  /** Updates of the Node (status reports, labels). */
  node: number;
  /** Renewals of the node's Lease. */
  lease: number;
  /** Updates of pods (status). */
  pods: number;
  /** Events created. */
  events: number;
}

type Kind = keyof WriteCounts;

/** Counts the agent's writes of one node and one namespace as they are watched. */
export class WriteCounter {
  readonly #abort = new AbortController();
  readonly #counts: WriteCounts = { node: 0, lease: 0, pods: 0, events: 0 };
  readonly #loops: Promise<void>[];

  /** Starts watching the Node and Lease of `nodeName` and the pods and Events of `namespace`. */
  constructor(client: ApiClient, options: { nodeName: string; namespace: string }) {
    const { nodeName, namespace } = options;
    const byName = { fieldSelector: `metadata.name=${nodeName}` };
    this.#loops = [
      this.#watch(client.kind("v1", "Node"), "node", ["MODIFIED"], byName),
      this.#watch(client.kind("coordination.k8s.io/v1", "Lease"), "lease", ["ADDED", "MODIFIED"], {
        ...byName,
        namespace: "kube-node-lease",
      }),
      this.#watch(client.kind("v1", "Pod"), "pods", ["MODIFIED"], { namespace }),
      this.#watch(client.kind("v1", "Event"), "events", ["ADDED", "MODIFIED"], { namespace }),
    ];
  }

  /** The writes seen so far. */
  get counts(): WriteCounts {
    return { ...this.#counts };
  }

  /** Stops watching. */
  async close(): Promise<void> {
    this.#abort.abort();
    await Promise.all(this.#loops);
  }

  async #watch(
    resource: ResourceClient<KubeObject>,
    kind: Kind,
    types: string[],
    options: { namespace?: string; fieldSelector?: string },
  ): Promise<void> {
    const signal = this.#abort.signal;
    let resourceVersion: string | undefined;
    while (!signal.aborted) {
      try {
        // Only what happens after the start is counted; a watch that ends resumes where it was.
        resourceVersion ??= (await resource.list(options)).metadata?.resourceVersion ?? "0";
        for await (const event of resource.watch({ ...options, resourceVersion, signal })) {
          if (event.type === "BOOKMARK") continue;
          resourceVersion = event.object.metadata.resourceVersion ?? resourceVersion;
          if (types.includes(event.type)) this.#counts[kind]++;
        }
      } catch {
        if (signal.aborted) return;
        // A compacted revision: counting goes on from now.
        resourceVersion = undefined;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }
}

/** The writes per minute of each kind between two counts taken `seconds` apart. */
export function writesPerMinute(before: WriteCounts, after: WriteCounts, seconds: number): WriteCounts {
  const rate = (kind: Kind) => Number(((after[kind] - before[kind]) * 60 / seconds).toFixed(2));
  return { node: rate("node"), lease: rate("lease"), pods: rate("pods"), events: rate("events") };
}
