/**
 * The garbage collector: follows ownerReferences across every kind Skiff
 * serves (Events and Namespaces aside). An object whose every owner is gone
 * (matched by uid) is deleted; an owner deleted in the foreground
 * (finalizer `foregroundDeletion`) has its dependents deleted and keeps the
 * finalizer until none that blocks it remains; an owner deleted with
 * `orphan` has its reference removed from its dependents, then the
 * finalizer. Owners are looked up by uid in the informers' caches, or with
 * a GET when the cache does not (yet) have them.
 *
 * @module
 */

import {
  ConflictError,
  type KubeObject,
  NotFoundError,
  type OwnerReference,
  RESOURCE_TYPES,
  resourceForKind,
  type ResourceType,
} from "@skiff/api";
import type { Informer } from "@skiff/client";
import { type ControllerContext, objectKey, QueueController } from "./controller.ts";
import { messageOf, stableJson } from "./_workload.ts";

/** Finalizer of an owner deleted with `propagationPolicy: Foreground`. */
export const FOREGROUND_FINALIZER = "foregroundDeletion";
/** Finalizer of an owner deleted with `propagationPolicy: Orphan`. */
export const ORPHAN_FINALIZER = "orphan";

const NOT_COLLECTED = new Set(["Event", "Namespace"]);

/** The types the collector follows: every served type it can list, watch, patch and delete, but Events and Namespaces. */
export const COLLECTED_TYPES: readonly ResourceType[] = RESOURCE_TYPES.filter((t) =>
  !NOT_COLLECTED.has(t.kind) &&
  (["list", "watch", "patch", "delete"] as const).every((verb) => t.verbs.includes(verb))
);

const isDeleting = (obj: KubeObject, finalizer: string) =>
  Boolean(obj.metadata.deletionTimestamp) && (obj.metadata.finalizers ?? []).includes(finalizer);

/** The garbage collector. */
export class GarbageCollector extends QueueController {
  #informers = new Map<string, Informer>();
  #types = new Map<string, ResourceType>();
  /** uid -> queue key of every object seen. */
  #byUid = new Map<string, string>();
  /** owner uid -> queue keys of its dependents. */
  #dependents = new Map<string, Set<string>>();

  /** Creates the collector. */
  constructor() {
    super("garbage-collector", 4);
  }

  protected register(ctx: ControllerContext): void {
    for (const type of COLLECTED_TYPES) {
      const informer = ctx.informers.for(type.apiVersion, type.kind);
      this.#informers.set(type.kind, informer);
      this.#types.set(type.kind, type);
      const keyOf = (obj: KubeObject) => `${type.kind}:${objectKey(obj)}`;
      informer.on({
        add: (obj) => {
          this.#index(keyOf(obj), undefined, obj);
          if (obj.metadata.ownerReferences?.length || obj.metadata.deletionTimestamp) this.enqueue(keyOf(obj));
        },
        update: (old, obj) => {
          const key = keyOf(obj);
          this.#index(key, old, obj);
          const changed = old === obj ||
            stableJson([old.metadata.ownerReferences, old.metadata.finalizers, old.metadata.deletionTimestamp]) !==
              stableJson([obj.metadata.ownerReferences, obj.metadata.finalizers, obj.metadata.deletionTimestamp]);
          if (!changed) return;
          this.enqueue(key);
          this.#enqueueOwners(old);
          this.#enqueueOwners(obj);
        },
        delete: (obj) => {
          this.#index(keyOf(obj), obj, undefined);
          for (const dependent of this.#dependents.get(obj.metadata.uid!) ?? []) this.enqueue(dependent);
          this.#enqueueOwners(obj);
        },
      });
    }
  }

  #index(key: string, old: KubeObject | undefined, obj: KubeObject | undefined): void {
    for (const ref of old?.metadata.ownerReferences ?? []) {
      const set = this.#dependents.get(ref.uid);
      set?.delete(key);
      if (set?.size === 0) this.#dependents.delete(ref.uid);
    }
    if (old?.metadata.uid && this.#byUid.get(old.metadata.uid) === key) this.#byUid.delete(old.metadata.uid);
    if (!obj) return;
    if (obj.metadata.uid) this.#byUid.set(obj.metadata.uid, key);
    for (const ref of obj.metadata.ownerReferences ?? []) {
      let set = this.#dependents.get(ref.uid);
      if (!set) this.#dependents.set(ref.uid, set = new Set());
      set.add(key);
    }
  }

  #enqueueOwners(obj: KubeObject): void {
    for (const ref of obj.metadata.ownerReferences ?? []) {
      const key = this.#byUid.get(ref.uid);
      if (key) this.enqueue(key);
    }
  }

  #lookup(key: string): { type: ResourceType; obj: KubeObject | undefined } {
    const colon = key.indexOf(":");
    const kind = key.slice(0, colon);
    return { type: this.#types.get(kind)!, obj: this.#informers.get(kind)?.get(key.slice(colon + 1)) };
  }

  #dependentsOf(owner: KubeObject): { key: string; type: ResourceType; obj: KubeObject }[] {
    const out: { key: string; type: ResourceType; obj: KubeObject }[] = [];
    for (const key of this.#dependents.get(owner.metadata.uid!) ?? []) {
      const { type, obj } = this.#lookup(key);
      if (obj?.metadata.ownerReferences?.some((r) => r.uid === owner.metadata.uid)) out.push({ key, type, obj });
    }
    return out;
  }

  async reconcile(key: string): Promise<void> {
    const { type, obj } = this.#lookup(key);
    if (!obj) return;
    if (isDeleting(obj, ORPHAN_FINALIZER)) {
      await this.#orphanDependents(obj);
      await this.#removeFinalizer(type, obj, ORPHAN_FINALIZER);
      return;
    }
    if (isDeleting(obj, FOREGROUND_FINALIZER)) {
      await this.#deleteDependents(type, obj);
      return;
    }
    if (obj.metadata.deletionTimestamp || !obj.metadata.ownerReferences?.length) return;
    await this.#collect(type, obj);
  }

  /**
   * The owner a reference points to: the object (by uid, from the cache or
   * a GET), undefined when it is gone, or "unknown" when its kind is not one
   * Skiff serves (such a reference keeps the dependent).
   */
  async #owner(dependent: KubeObject, ref: OwnerReference): Promise<KubeObject | undefined | "unknown"> {
    const type = resourceForKind(ref.apiVersion, ref.kind);
    if (!type) return "unknown";
    if (type.namespaced && !dependent.metadata.namespace) return undefined;
    const cached = this.#byUid.get(ref.uid);
    if (cached) {
      const { obj } = this.#lookup(cached);
      if (obj?.metadata.uid === ref.uid) return obj;
    }
    try {
      const live = await this.ctx.client.kind(ref.apiVersion, ref.kind).get(ref.name, {
        ...(type.namespaced ? { namespace: dependent.metadata.namespace! } : {}),
      });
      return live.metadata.uid === ref.uid ? live : undefined;
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  /** Deletes a dependent whose owners are all gone (or being deleted in the foreground); drops references to gone owners. */
  async #collect(type: ResourceType, obj: KubeObject): Promise<void> {
    const solid: OwnerReference[] = [];
    const dangling: OwnerReference[] = [];
    const waiting: OwnerReference[] = [];
    for (const ref of obj.metadata.ownerReferences ?? []) {
      const owner = await this.#owner(obj, ref);
      if (owner === undefined) dangling.push(ref);
      else if (owner !== "unknown" && isDeleting(owner, FOREGROUND_FINALIZER)) waiting.push(ref);
      else solid.push(ref);
    }
    if (solid.length === 0) {
      const foreground = waiting.length > 0 && (this.#dependents.get(obj.metadata.uid!)?.size ?? 0) > 0;
      await this.#delete(type, obj, foreground ? "Foreground" : "Background");
      return;
    }
    const unblock = waiting.some((r) => r.blockOwnerDeletion);
    if (dangling.length === 0 && !unblock) return;
    const gone = new Set(dangling.map((r) => r.uid));
    const refs = (obj.metadata.ownerReferences ?? [])
      .filter((r) => !gone.has(r.uid))
      .map((r) => waiting.some((w) => w.uid === r.uid) ? { ...r, blockOwnerDeletion: false } : r);
    await this.#patchOwners(type, obj, refs);
  }

  async #delete(type: ResourceType, obj: KubeObject, policy: "Foreground" | "Background"): Promise<void> {
    try {
      await this.ctx.client.resource(type).delete(obj.metadata.name!, {
        ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
        propagationPolicy: policy,
        preconditions: { uid: obj.metadata.uid! },
      });
    } catch (err) {
      if (err instanceof NotFoundError || err instanceof ConflictError) return;
      this.ctx.recorder.event(obj, "Warning", "FailedGarbageCollection", `Cannot delete: ${messageOf(err)}`);
      throw err;
    }
  }

  async #patchOwners(type: ResourceType, obj: KubeObject, refs: OwnerReference[]): Promise<void> {
    try {
      await this.ctx.client.resource(type).patch(obj.metadata.name!, {
        metadata: {
          ownerReferences: refs.length > 0 ? refs : null,
          uid: obj.metadata.uid,
          resourceVersion: obj.metadata.resourceVersion,
        },
      }, { ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}) });
    } catch (err) {
      if (err instanceof NotFoundError) return;
      throw err;
    }
  }

  /** Foreground deletion: deletes the owner's dependents; lets the owner go once none blocks it. */
  async #deleteDependents(type: ResourceType, owner: KubeObject): Promise<void> {
    const dependents = this.#dependentsOf(owner);
    for (const { key, obj } of dependents) if (!obj.metadata.deletionTimestamp) this.enqueue(key);
    const blocking = dependents.some(({ obj }) =>
      obj.metadata.ownerReferences?.some((r) => r.uid === owner.metadata.uid && r.blockOwnerDeletion)
    );
    if (!blocking) await this.#removeFinalizer(type, owner, FOREGROUND_FINALIZER);
  }

  /** Orphan deletion: removes the owner's reference from each dependent. */
  async #orphanDependents(owner: KubeObject): Promise<void> {
    for (const { type, obj } of this.#dependentsOf(owner)) {
      const refs = (obj.metadata.ownerReferences ?? []).filter((r) => r.uid !== owner.metadata.uid);
      await this.#patchOwners(type, obj, refs);
    }
  }

  async #removeFinalizer(type: ResourceType, obj: KubeObject, finalizer: string): Promise<void> {
    const finalizers = (obj.metadata.finalizers ?? []).filter((f) => f !== finalizer);
    try {
      await this.ctx.client.resource(type).patch(obj.metadata.name!, {
        metadata: {
          finalizers: finalizers.length > 0 ? finalizers : null,
          resourceVersion: obj.metadata.resourceVersion,
        },
      }, { ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}) });
    } catch (err) {
      if (err instanceof NotFoundError) return;
      throw err;
    }
  }
}
