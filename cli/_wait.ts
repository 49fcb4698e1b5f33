/**
 * Waits for deleted objects to be gone (`delete --wait`, `drain`), with
 * progress and a timeout that says what still holds each object.
 *
 * @module
 */

import { type KubeObject, NotFoundError, type ResourceType } from "@skiff/api";
import type { Connection } from "./_context.ts";
import type { Progress } from "./_progress.ts";
import { qualifiedKind } from "./_resources.ts";
import { sleep } from "./_watch.ts";

/** An object being waited for. */
export interface Awaited {
  /** Its type. */
  type: ResourceType;
  /** Its namespace (namespaced types). */
  namespace: string | undefined;
  /** Its name. */
  name: string;
  /** Its uid when deleted: an object recreated under the same name does not count. */
  uid: string | undefined;
}

/** Options of {@linkcode waitForDeletion}. */
export interface WaitOptions {
  /** Give up after this many milliseconds. */
  timeoutMs: number;
  /** Status line. */
  progress: Progress;
  /** What is being waited for, e.g. `to be deleted`. */
  what: string;
  /** Called as each object goes. */
  onGone?: (item: Awaited) => void;
  /** Stops waiting early. */
  signal?: AbortSignal;
  /** Milliseconds between checks (default 500). */
  intervalMs?: number;
}

/** What is left when the wait ends: each object still there, as last read. */
export type Remaining = { item: Awaited; object: KubeObject }[];

/** Waits until every item is gone or the timeout passes; returns those still there. */
export async function waitForDeletion(
  conn: Connection,
  items: readonly Awaited[],
  options: WaitOptions,
): Promise<Remaining> {
  const started = performance.now();
  let pending: Remaining = items.map((item) => ({ item, object: { metadata: {} } }));
  for (;;) {
    const next: Remaining = [];
    for (const entry of pending) {
      const { item } = entry;
      try {
        const object = await conn.client.resource(item.type).get(item.name, {
          ...(item.namespace !== undefined ? { namespace: item.namespace } : {}),
        });
        if (item.uid !== undefined && object.metadata.uid !== item.uid) options.onGone?.(item);
        else next.push({ item, object });
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
        options.onGone?.(item);
      }
    }
    pending = next;
    const elapsed = performance.now() - started;
    if (pending.length === 0 || elapsed >= options.timeoutMs || options.signal?.aborted) return pending;
    const first = pending[0]!.item;
    options.progress.update(
      `waiting for ${
        pending.length === 1 ? `${qualifiedKind(first.type)} "${first.name}"` : `${pending.length} objects`
      } ${options.what} (${Math.floor(elapsed / 1000)}s)`,
    );
    await sleep(Math.min(options.intervalMs ?? 500, Math.max(0, options.timeoutMs - elapsed)), options.signal);
  }
}

/** What holds a deleted object: finalizers, a node agent that has not stopped a pod, a grace period. */
export function holdReason(type: ResourceType, object: KubeObject): string {
  const finalizers = [
    ...(object.metadata.finalizers ?? []),
    ...(((object.spec as { finalizers?: string[] } | undefined)?.finalizers) ?? []),
  ];
  if (type.kind === "Namespace") {
    return finalizers.length > 0
      ? `it is still Terminating with finalizers [${
        finalizers.join(", ")
      }], which the namespace controller removes once everything in it is deleted: check that the control plane runs its controllers (\`skiff up\`)`
      : "it is still Terminating";
  }
  if (finalizers.length > 0) {
    return `it still has finalizers [${finalizers.join(", ")}]: whatever owns them must finish first`;
  }
  const nodeName = (object.spec as { nodeName?: string } | undefined)?.nodeName;
  if (type.kind === "Pod" && nodeName) {
    return `it is still stopping on node "${nodeName}" (grace period ${
      object.metadata.deletionGracePeriodSeconds ?? 0
    }s): check that node's agent, or delete with --grace-period=0 --force`;
  }
  return object.metadata.deletionTimestamp ? "it is still terminating" : "it still exists";
}
