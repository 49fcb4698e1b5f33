/**
 * Pod garbage collection: force-deletes (grace period 0) pods bound to nodes
 * that no longer exist, which no agent will ever stop, and terminated pods
 * (Succeeded or Failed) beyond a threshold, oldest first.
 *
 * @module
 */

import { ConflictError, type Node, NotFoundError, type Pod } from "@skiff/api";
import type { Informer } from "@skiff/client";
import { type ControllerContext, QueueController } from "./controller.ts";
import { oldestFirst } from "./_workload.ts";

/** Options of {@linkcode PodGarbageCollector}. */
export interface PodGarbageCollectorOptions {
  /** Terminated pods kept before the oldest are deleted (default 1,000). */
  terminatedPodThreshold?: number;
  /** Seconds between passes (default 20); node deletions and finished pods trigger one at once. */
  periodSeconds?: number;
}

const KEY = "pods";
const isTerminated = (pod: Pod) => pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed";

/** The pod garbage collector. */
export class PodGarbageCollector extends QueueController {
  #pods!: Informer<Pod>;
  #nodes!: Informer<Node>;
  #threshold: number;
  #periodMs: number;

  /** Creates the collector. */
  constructor(options: PodGarbageCollectorOptions = {}) {
    super("pod-garbage-collector", 1);
    this.#threshold = options.terminatedPodThreshold ?? 1000;
    if (!Number.isInteger(this.#threshold) || this.#threshold < 0) {
      throw new RangeError(`Invalid terminatedPodThreshold ${this.#threshold}: must be a whole number of at least 0`);
    }
    this.#periodMs = (options.periodSeconds ?? 20) * 1000;
  }

  protected register(ctx: ControllerContext): void {
    this.#pods = ctx.informers.for<Pod>("v1", "Pod");
    this.#nodes = ctx.informers.for<Node>("v1", "Node");
    this.#nodes.on({ delete: () => this.enqueue(KEY) });
    this.#pods.on({
      add: (pod) => {
        if (isTerminated(pod)) this.enqueue(KEY);
      },
      update: (old, pod) => {
        if (isTerminated(pod) && !isTerminated(old)) this.enqueue(KEY);
      },
    });
    this.enqueue(KEY);
  }

  async reconcile(): Promise<void> {
    try {
      await this.#collectOrphans();
      await this.#collectTerminated();
    } finally {
      this.queue.addAfter(KEY, this.#periodMs);
    }
  }

  async #collectOrphans(): Promise<void> {
    const nodes = this.ctx.client.kind<Node>("v1", "Node");
    const missing = new Map<string, boolean>();
    for (const pod of this.#pods.list()) {
      const node = pod.spec?.nodeName;
      if (!node || this.#nodes.get(node)) continue;
      if (!missing.has(node)) {
        missing.set(
          node,
          await nodes.get(node).then(() => false, (err) => {
            if (err instanceof NotFoundError) return true;
            throw err;
          }),
        );
      }
      if (!missing.get(node)) continue;
      if (await this.#forceDelete(pod)) {
        this.ctx.recorder.event(
          pod,
          "Normal",
          "PodGarbageCollected",
          `Deleted pod ${pod.metadata.namespace}/${pod.metadata.name}: it is bound to node "${node}", which no longer exists`,
        );
      }
    }
  }

  async #collectTerminated(): Promise<void> {
    const terminated = this.#pods.list().filter((p) => isTerminated(p) && !p.metadata.deletionTimestamp);
    const excess = terminated.length - this.#threshold;
    if (excess <= 0) return;
    let deleted = 0;
    for (const pod of terminated.sort(oldestFirst).slice(0, excess)) {
      if (await this.#forceDelete(pod)) deleted++;
    }
    this.ctx.log(
      `pod-garbage-collector: deleted the ${deleted} oldest terminated pod(s) beyond the threshold of ${this.#threshold}`,
    );
  }

  /** Deletes a pod at once; false when it was already gone or replaced. */
  async #forceDelete(pod: Pod): Promise<boolean> {
    try {
      await this.ctx.client.kind<Pod>("v1", "Pod").delete(pod.metadata.name!, {
        namespace: pod.metadata.namespace!,
        gracePeriodSeconds: 0,
        preconditions: { uid: pod.metadata.uid! },
      });
      return true;
    } catch (err) {
      if (err instanceof NotFoundError || err instanceof ConflictError) return false;
      throw err;
    }
  }
}
