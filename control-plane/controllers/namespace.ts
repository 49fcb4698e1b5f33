/**
 * The namespace controller: once a Namespace is being deleted, deletes
 * every namespaced object in it (every namespaced type the API serves that
 * can be listed and deleted), reports what remains in the namespace's
 * conditions, waits until nothing remains, then removes the `kubernetes`
 * finalizer through the namespace's `finalize` subresource, after which the
 * API server removes the namespace.
 *
 * @module
 */

import {
  type Condition,
  type KubeObject,
  type Namespace,
  NotFoundError,
  type Pod,
  RESOURCE_TYPES,
  type ResourceType,
} from "@skiff/api";
import type { Informer } from "@skiff/client";
import { type ControllerContext, QueueController } from "./controller.ts";
import { ignoreNotFound, messageOf, rfc3339 } from "./_workload.ts";

/** The finalizer of `spec.finalizers` this controller removes once the namespace is empty. */
export const NAMESPACE_FINALIZER = "kubernetes";

/** The types a namespace's deletion removes: every namespaced type that can be listed and deleted. */
export const NAMESPACED_TYPES: readonly ResourceType[] = RESOURCE_TYPES.filter((t) =>
  t.namespaced && t.verbs.includes("list") && t.verbs.includes("delete")
);

const POLL_MS = 1000;
const MAX_WAIT_MS = 15_000;

/** What is left in a namespace after a deletion pass. */
interface Remaining {
  /** Objects per resource (`pods`, `deployments.apps`). */
  byResource: Map<string, number>;
  /** Objects per finalizer they still carry. */
  byFinalizer: Map<string, number>;
  /** Deletions that failed. */
  failures: string[];
  /** When the longest graceful pod deletion ends (ms), 0 when none. */
  graceEnds: number;
}

/** The namespace controller. */
export class NamespaceController extends QueueController {
  #namespaces!: Informer<Namespace>;

  /** Creates the controller. */
  constructor() {
    super("namespace-controller", 2);
  }

  protected register(ctx: ControllerContext): void {
    this.#namespaces = ctx.informers.for<Namespace>("v1", "Namespace");
    const check = (ns: Namespace) => {
      if (ns.metadata.deletionTimestamp) this.enqueue(ns.metadata.name!);
    };
    this.#namespaces.on({ add: check, update: (_, ns) => check(ns) });
    ctx.informers.for<Pod>("v1", "Pod").on({
      delete: (pod) => {
        const ns = this.#namespaces.get(pod.metadata.namespace!);
        if (ns) check(ns);
      },
    });
  }

  async reconcile(name: string): Promise<void> {
    const cached = this.#namespaces.get(name);
    if (!cached?.metadata.deletionTimestamp || !cached.spec?.finalizers?.includes(NAMESPACE_FINALIZER)) return;
    const remaining = await this.#deleteContent(name);
    await this.#report(cached, remaining);
    if (remaining.byResource.size > 0 || remaining.failures.length > 0) {
      const now = this.ctx.clock.now();
      this.queue.addAfter(name, Math.min(MAX_WAIT_MS, Math.max(POLL_MS, remaining.graceEnds - now)));
      return;
    }
    const namespaces = this.ctx.client.kind<Namespace>("v1", "Namespace");
    const ns = await ignoreNotFound(namespaces.get(name));
    if (!ns) return;
    const finalizers = (ns.spec?.finalizers ?? []).filter((f) => f !== NAMESPACE_FINALIZER);
    await ignoreNotFound(
      this.ctx.client.request("PUT", namespaces.path(undefined, name, "finalize"), {
        body: { ...ns, spec: { ...ns.spec, finalizers } },
      }),
    );
    this.ctx.log(`namespace-controller: namespace ${name} is empty: finalized`);
  }

  /** Deletes every object in the namespace not already being deleted; says what is left. */
  async #deleteContent(namespace: string): Promise<Remaining> {
    const remaining: Remaining = { byResource: new Map(), byFinalizer: new Map(), failures: [], graceEnds: 0 };
    for (const type of NAMESPACED_TYPES) {
      const client = this.ctx.client.resource(type);
      const resource = type.group ? `${type.plural}.${type.group}` : type.plural;
      let items: KubeObject[];
      try {
        items = (await client.listAll({ namespace })).items;
      } catch (err) {
        remaining.failures.push(`cannot list ${resource}: ${messageOf(err)}`);
        continue;
      }
      for (const obj of items) {
        if (obj.metadata.deletionTimestamp) continue;
        try {
          await client.delete(obj.metadata.name!, { namespace, preconditions: { uid: obj.metadata.uid! } });
        } catch (err) {
          if (!(err instanceof NotFoundError)) {
            remaining.failures.push(`cannot delete ${resource} "${obj.metadata.name}": ${messageOf(err)}`);
          }
        }
      }
      if (items.length === 0) continue;
      const left = (await client.listAll({ namespace })).items;
      if (left.length === 0) continue;
      remaining.byResource.set(resource, left.length);
      for (const obj of left) {
        for (const f of obj.metadata.finalizers ?? []) {
          remaining.byFinalizer.set(f, (remaining.byFinalizer.get(f) ?? 0) + 1);
        }
        const ends = Date.parse(obj.metadata.deletionTimestamp ?? "") || 0;
        remaining.graceEnds = Math.max(remaining.graceEnds, ends);
      }
    }
    return remaining;
  }

  /** Writes the deletion conditions Kubernetes reports on a terminating namespace, when they change. */
  async #report(ns: Namespace, remaining: Remaining): Promise<void> {
    const list = (m: Map<string, number>, what: (k: string, n: number) => string) =>
      [...m].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => what(k, n)).join(", ");
    const conditions: [string, boolean, string, string][] = [
      remaining.failures.length > 0
        ? [
          "NamespaceDeletionContentFailure",
          true,
          "ContentDeletionFailed",
          `Failed to delete all resource types, ${remaining.failures.length} remaining: ${
            remaining.failures.join(", ")
          }`,
        ]
        : [
          "NamespaceDeletionContentFailure",
          false,
          "ContentDeleted",
          "All content successfully deleted, may be waiting on finalization",
        ],
      remaining.byResource.size > 0
        ? [
          "NamespaceContentRemaining",
          true,
          "SomeResourcesRemain",
          `Some resources are remaining: ${list(remaining.byResource, (r, n) => `${r} has ${n} resource instances`)}`,
        ]
        : ["NamespaceContentRemaining", false, "ContentRemoved", "All content successfully removed"],
      remaining.byFinalizer.size > 0
        ? [
          "NamespaceFinalizersRemaining",
          true,
          "SomeFinalizersRemain",
          `Some content in the namespace has finalizers remaining: ${
            list(remaining.byFinalizer, (f, n) => `${f} in ${n} resource instances`)
          }`,
        ]
        : [
          "NamespaceFinalizersRemaining",
          false,
          "ContentHasNoFinalizers",
          "All content-preserving finalizers finished",
        ],
    ];
    const before = ns.status?.conditions ?? [];
    const time = rfc3339(this.ctx.clock.now());
    let changed = false;
    const next: Condition[] = conditions.map(([type, state, reason, message]) => {
      const old = before.find((c) => c.type === type);
      const status = state ? "True" : "False";
      if (old?.status === status && old.reason === reason && old.message === message) return old;
      changed = true;
      return {
        type,
        status,
        reason,
        message,
        lastTransitionTime: old?.status === status ? old.lastTransitionTime ?? time : time,
      };
    });
    if (!changed) return;
    await ignoreNotFound(
      this.ctx.client.kind<Namespace>("v1", "Namespace").patch(ns.metadata.name!, {
        status: { conditions: [...before.filter((c) => !conditions.some(([t]) => t === c.type)), ...next] },
      }, { subresource: "status" }),
    );
  }
}
