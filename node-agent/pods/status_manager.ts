/**
 * The status manager: pod workers hand it the status they computed, and it
 * writes `pods/status` only when that differs from what the API last got,
 * one write at a time per pod, the latest status winning (statuses set
 * while a write is in flight are coalesced into one more write). A failed
 * write is retried on the agent's clock.
 *
 * @module
 */

import { isDeepStrictEqual } from "node:util";
import { type Clock, NotFoundError, type Pod, type PodStatus, systemClock } from "@skiff/api";
import type { ApiClient } from "@skiff/client";

/** Options of {@linkcode StatusManager}. */
export interface StatusManagerOptions {
  /** Writes `pods/status`. */
  client: ApiClient;
  /** Time source for retries. */
  clock?: Clock;
  /** Where failed writes are reported. */
  log?: (line: string) => void;
  /** Ms before a failed write is retried (default 1000). */
  retryMs?: number;
}

interface Entry {
  namespace: string;
  name: string;
  /** The status the API holds, as far as we know. */
  written: PodStatus | undefined;
  /** The status to write next. */
  wanted: PodStatus;
  writing: Promise<void> | undefined;
  retry: number | undefined;
}

/** Merge-patch of `from` into `to` at the top level: changed keys, and null for keys removed. */
function statusPatch(from: PodStatus | undefined, to: PodStatus): Record<string, unknown> {
  const patch: Record<string, unknown> = { ...to };
  for (const key of Object.keys(from ?? {})) if (!(key in to)) patch[key] = null;
  return patch;
}

/** Writes pod statuses, only when they change. */
export class StatusManager {
  readonly #client: ApiClient;
  readonly #clock: Clock;
  readonly #log: (line: string) => void;
  readonly #retryMs: number;
  readonly #entries = new Map<string, Entry>();
  #stopped = false;

  /** Creates a manager writing through `client`. */
  constructor(options: StatusManagerOptions) {
    this.#client = options.client;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? (() => {});
    this.#retryMs = options.retryMs ?? 1000;
  }

  /**
   * Sets the status of `pod` (whose `status` is what the API holds, when
   * the manager has not written it yet); writes it unless unchanged.
   */
  set(pod: Pod, status: PodStatus): void {
    const uid = pod.metadata.uid ?? "";
    let entry = this.#entries.get(uid);
    if (!entry) {
      entry = {
        namespace: pod.metadata.namespace ?? "default",
        name: pod.metadata.name ?? "",
        written: pod.status,
        wanted: status,
        writing: undefined,
        retry: undefined,
      };
      this.#entries.set(uid, entry);
    }
    entry.wanted = status;
    this.#kick(uid, entry);
  }

  /** The status last set for a pod. */
  get(uid: string): PodStatus | undefined {
    return this.#entries.get(uid)?.wanted;
  }

  /** Resolves once the latest status of `uid` (or of every pod) is written or its write has failed. */
  async flush(uid?: string): Promise<void> {
    const uids = uid === undefined ? [...this.#entries.keys()] : [uid];
    for (const id of uids) {
      for (;;) {
        const entry = this.#entries.get(id);
        if (!entry) break;
        if (entry.writing) {
          await entry.writing;
          continue;
        }
        if (isDeepStrictEqual(entry.written, entry.wanted) || this.#stopped) break;
        this.#kick(id, entry);
        await entry.writing;
        if (!isDeepStrictEqual(entry.written, entry.wanted)) break;
      }
    }
  }

  /** Forgets a pod (it is gone). */
  forget(uid: string): void {
    const entry = this.#entries.get(uid);
    if (entry?.retry !== undefined) this.#clock.clearTimeout(entry.retry);
    this.#entries.delete(uid);
  }

  /** Stops writing; statuses set later are kept but not written. */
  stop(): void {
    this.#stopped = true;
    for (const entry of this.#entries.values()) {
      if (entry.retry !== undefined) this.#clock.clearTimeout(entry.retry);
      entry.retry = undefined;
    }
  }

  #kick(uid: string, entry: Entry): void {
    if (this.#stopped || entry.writing || entry.retry !== undefined) return;
    if (isDeepStrictEqual(entry.written, entry.wanted)) return;
    entry.writing = this.#write(uid, entry).finally(() => {
      entry.writing = undefined;
      if (this.#entries.get(uid) === entry) this.#kick(uid, entry);
    });
  }

  async #write(uid: string, entry: Entry): Promise<void> {
    const status = entry.wanted;
    try {
      await this.#client.kind<Pod>("v1", "Pod").patch(entry.name, { status: statusPatch(entry.written, status) }, {
        namespace: entry.namespace,
        subresource: "status",
      });
      entry.written = status;
    } catch (error) {
      if (error instanceof NotFoundError) {
        this.#entries.delete(uid);
        return;
      }
      this.#log(
        `Cannot write the status of pod ${entry.namespace}/${entry.name}: ${
          error instanceof Error ? error.message : error
        }; retrying in ${this.#retryMs / 1000}s`,
      );
      entry.retry = this.#clock.setTimeout(() => {
        entry.retry = undefined;
        this.#kick(uid, entry);
      }, this.#retryMs);
    }
  }
}
