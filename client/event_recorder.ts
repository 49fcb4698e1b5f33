/**
 * Records core/v1 Events about objects, as client-go's recorder: repeats of
 * the same event (object, type, reason, message) bump `count` and
 * `lastTimestamp` on one Event instead of creating new ones. Recording never
 * blocks or fails the caller.
 *
 * @module
 */

import { type Clock, type KubeObject, NotFoundError, systemClock } from "@skiff/api";
import type { ApiClient } from "./api_client.ts";

/** Options of {@linkcode EventRecorder}. */
export interface EventRecorderOptions {
  /** Who reports (`skiff-scheduler`, `skiff-agent`). */
  component: string;
  /** The node, for agent events. */
  host?: string;
  /** Time source. */
  clock?: Clock;
  /** Called when an event cannot be written. */
  onError?: (err: unknown) => void;
}

interface Seen {
  name: string;
  namespace: string;
  count: number;
  first: string;
}

function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/** Writes Events. */
export class EventRecorder {
  #client: ApiClient;
  #options: EventRecorderOptions;
  #clock: Clock;
  #seen = new Map<string, Seen>();
  #pending = new Set<Promise<void>>();

  /** Creates a recorder writing through `client`. */
  constructor(client: ApiClient, options: EventRecorderOptions) {
    this.#client = client;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** Records an event about `obj`. */
  event(obj: KubeObject, type: "Normal" | "Warning", reason: string, message: string): void {
    const task = this.#record(obj, type, reason, message).catch((err) => this.#options.onError?.(err));
    this.#pending.add(task);
    task.finally(() => this.#pending.delete(task));
  }

  /** Resolves when every event recorded so far has been written (for tests and shutdown). */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  async #record(obj: KubeObject, type: string, reason: string, message: string): Promise<void> {
    const events = this.#client.kind("v1", "Event");
    const namespace = obj.metadata.namespace || "default";
    const key = [obj.metadata.uid ?? obj.metadata.name, type, reason, message].join("\u0000");
    const now = rfc3339(this.#clock.now());
    const seen = this.#seen.get(key);
    if (seen) {
      seen.count++;
      try {
        await events.patch(seen.name, { count: seen.count, lastTimestamp: now }, { namespace: seen.namespace });
        return;
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
        this.#seen.delete(key);
      }
    }
    if (this.#seen.size > 4096) this.#seen.clear();
    const name = `${obj.metadata.name}.${this.#clock.now().toString(16)}${
      Math.floor(Math.random() * 0xffff).toString(16)
    }`;
    await events.create({
      apiVersion: "v1",
      kind: "Event",
      metadata: { name, namespace },
      involvedObject: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: obj.metadata.name,
        namespace: obj.metadata.namespace,
        uid: obj.metadata.uid,
        resourceVersion: obj.metadata.resourceVersion,
      },
      type,
      reason,
      message,
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: this.#options.component, ...(this.#options.host ? { host: this.#options.host } : {}) },
      reportingComponent: this.#options.component,
      reportingInstance: this.#options.host ?? "",
    } as KubeObject);
    this.#seen.set(key, { name, namespace, count: 1, first: now });
  }
}
