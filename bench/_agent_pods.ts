/**
 * When each pod of a namespace turned Running, and when the agent's Events
 * about it (Pulled, Created, Started) arrived, seen on two watches
 * (relisted whenever a watch ends or fails), so the agent benchmark waits
 * for a pod without polling the API server and can tell where its start
 * time went.
 *
 * @module
 */

import type { KubeObject, Pod } from "@skiff/api";
import type { ApiClient, ResourceClient } from "@skiff/client";

/** What was seen of one pod, as `performance.now()` times of this process. */
export interface PodTimeline {
  /** When the pod was first seen with phase Running. */
  running: number;
  /** When the first Event of each reason about it arrived. */
  events: Record<string, number>;
}

interface EventObject extends KubeObject {
  involvedObject?: { kind?: string; name?: string };
  reason?: string;
}

/** Watches the pods of one namespace and the Events about them. */
export class PodWatch {
  readonly #pods: ResourceClient<Pod>;
  readonly #namespace: string;
  readonly #abort = new AbortController();
  readonly #running = new Map<string, number>();
  readonly #events = new Map<string, Record<string, number>>();
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #loops: Promise<void>[];
  #failure: Error | undefined;

  /** Starts watching the pods of `namespace` and its Events. */
  constructor(client: ApiClient, namespace: string) {
    this.#pods = client.kind<Pod>("v1", "Pod");
    this.#namespace = namespace;
    this.#loops = [
      this.#watch(this.#pods, (pod, deleted) => this.#seenPod(pod, deleted)),
      this.#watch(client.kind<EventObject>("v1", "Event"), (event, deleted) => {
        if (!deleted) this.#seenEvent(event);
      }),
    ];
  }

  /**
   * Resolves once pod `name` has been seen with phase Running, with what
   * was seen of it.
   *
   * @throws {Error} after `timeoutMs`, with the pod's status and the watches' last failure
   */
  async untilRunning(name: string, timeoutMs: number): Promise<PodTimeline> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const running = this.#running.get(name);
      if (running !== undefined) return { running, events: { ...this.#events.get(name) } };
      const left = deadline - Date.now();
      if (left <= 0) {
        const pod = await this.#pods.get(name, { namespace: this.#namespace }).catch(() => undefined);
        const watch = this.#failure ? `; a watch last failed: ${this.#failure.message}` : "";
        throw new Error(
          `Pod "${name}" was not Running within ${timeoutMs / 1000} s: ${
            JSON.stringify(pod?.status ?? "not found")
          }${watch}`,
        );
      }
      await new Promise<void>((resolve) => {
        const waiters = this.#waiters.get(name) ?? new Set();
        const timer = setTimeout(done, Math.min(left, 1000));
        function done() {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        }
        waiters.add(done);
        this.#waiters.set(name, waiters);
      });
    }
  }

  /** Stops watching. */
  async close(): Promise<void> {
    this.#abort.abort();
    await Promise.all(this.#loops);
  }

  #seenPod(pod: Pod, deleted: boolean): void {
    const name = pod.metadata.name ?? "";
    if (deleted) {
      this.#running.delete(name);
      this.#events.delete(name);
      return;
    }
    if (pod.status?.phase !== "Running" || this.#running.has(name)) return;
    this.#running.set(name, performance.now());
    for (const wake of this.#waiters.get(name) ?? []) wake();
  }

  #seenEvent(event: EventObject): void {
    const name = event.involvedObject?.name;
    if (event.involvedObject?.kind !== "Pod" || !name || !event.reason) return;
    const seen = this.#events.get(name) ?? {};
    seen[event.reason] ??= performance.now();
    this.#events.set(name, seen);
  }

  async #watch<T extends KubeObject>(
    resource: ResourceClient<T>,
    seen: (object: T, deleted: boolean) => void,
  ): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      try {
        const list = await resource.list({ namespace: this.#namespace });
        this.#failure = undefined;
        for (const object of list.items) seen(object, false);
        const events = resource.watch({
          namespace: this.#namespace,
          resourceVersion: list.metadata?.resourceVersion ?? "0",
          signal,
        });
        for await (const event of events) {
          if (event.type !== "BOOKMARK") seen(event.object, event.type === "DELETED");
        }
      } catch (error) {
        if (signal.aborted) return;
        // Relisted after a pause: a compacted revision or a dropped stream is not the end.
        this.#failure = error instanceof Error ? error : new Error(String(error));
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }
}
