/**
 * Kubernetes object semantics over the key-value {@linkcode Store}: keys,
 * uid, creationTimestamp, generation, resourceVersion, generateName,
 * conditional updates, graceful deletion, finalizers, and watch events in
 * Kubernetes' shape. One instance serves every resource type; per-type rules
 * come from the type's {@linkcode Strategy}.
 *
 * @module
 */

import {
  AlreadyExistsError,
  ApiError,
  BadRequestError,
  type Clock,
  CompactedError,
  ConflictError,
  type FieldError,
  InvalidError,
  type KubeList,
  type KubeObject,
  NotFoundError,
  recordUpdate,
  systemClock,
} from "@skiff/api";
import { encodeContinue, type KeyValue, type Store, type Watcher, type WatchEvent } from "../store/mod.ts";
import { hasSubresource, type ServedType } from "./served_type.ts";

/** Who is asking, as the API server's authentication saw it. */
export interface User {
  /** A name for logs and events, e.g. `admin` or `node:pi-3`. */
  name: string;
  /** The role that authorization checks. */
  role: "admin" | "viewer" | "node";
  /** For nodes: the node's name. */
  nodeName?: string;
}

/** The context handed to admission plugins. */
export interface AdmissionRequest {
  /** The operation. */
  operation: "create" | "update" | "delete";
  /** The resource type. */
  type: ServedType;
  /** The subresource written, if any. */
  subresource: string | undefined;
  /** The object as it will be stored (mutable for create and update). */
  object: KubeObject;
  /** The stored object before the change (update and delete). */
  old: KubeObject | undefined;
  /** Who asks. */
  user: User;
  /** True for a dry run: nothing will be written. */
  dryRun: boolean;
}

/** An admission plugin: may change the object, or throw to refuse the request. */
export type Admission = (request: AdmissionRequest, objects: ObjectStore) => void | Promise<void>;

/** Options of writes. */
export interface WriteOptions {
  /** The caller. */
  user: User;
  /** Validate and admit, but do not write. */
  dryRun?: boolean;
  /**
   * Records the write in `metadata.managedFields` as an Update by this
   * manager. Absent: managedFields are stored as the caller left them
   * (server-side apply sets them itself).
   */
  fieldManager?: string;
}

/** Options of {@linkcode ObjectStore.delete}. */
export interface DeleteObjectOptions extends WriteOptions {
  /** Seconds the object has to terminate; 0 deletes at once. */
  gracePeriodSeconds?: number;
  /** `Background` (default), `Foreground` or `Orphan`. */
  propagationPolicy?: string;
  /** Delete only if the object still has this uid and/or resourceVersion. */
  preconditions?: { uid?: string; resourceVersion?: string };
}

/** The outcome of a delete. */
export interface DeleteResult {
  /** The object: as deleted, or as updated with a deletionTimestamp. */
  object: KubeObject;
  /** True when it is gone from the store; false when it now waits for finalizers or grace. */
  deleted: boolean;
}

/** Options of a list. */
export interface ListObjectsOptions {
  /** Only objects whose labels and fields match. */
  filter?: (obj: KubeObject) => boolean;
  /** Page size; 0 or absent for everything. */
  limit?: number;
  /** A continue token from the previous page. */
  continue?: string;
  /** List at this revision (a string resourceVersion, "0" meaning now). */
  resourceVersion?: string;
}

/** A watch event in Kubernetes' shape. */
export interface ObjectEvent {
  /** ADDED, MODIFIED, DELETED. */
  type: "ADDED" | "MODIFIED" | "DELETED";
  /** The object after the change (for DELETED: its last state). */
  object: KubeObject;
  /** The store revision of the change. */
  revision: number;
}

/** Kubernetes' timestamp format: RFC 3339, whole seconds, UTC. */
export function timestamp(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/** A resourceVersion string as a store revision; BadRequest for anything else. */
export function parseResourceVersion(rv: string, what = "resourceVersion"): number {
  if (!/^[0-9]{1,15}$/.test(rv)) {
    throw new BadRequestError(`Invalid ${what} "${rv}": must be a resourceVersion returned by this server`);
  }
  return Number(rv);
}

/**
 * How often a write that lost a compare-and-swap race is retried against the
 * newer object. Concurrent writers to one object win one per commit, so the
 * last of N needs about N tries.
 */
const MAX_CONFLICT_RETRIES = 500;

const GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

function randomSuffix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(5));
  return [...bytes].map((b) => GENERATE_ALPHABET[b % GENERATE_ALPHABET.length]).join("");
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

/** Kubernetes object storage over a {@linkcode Store}. */
export class ObjectStore {
  #store: Store;
  #clock: Clock;
  #admission: Admission[];
  #leases = new Map<number, Promise<number>>();

  /** Creates object storage over `store`. */
  constructor(store: Store, options: { clock?: Clock; admission?: Admission[] } = {}) {
    this.#store = store;
    this.#clock = options.clock ?? systemClock;
    this.#admission = options.admission ?? [];
  }

  /** The underlying store. */
  get store(): Store {
    return this.#store;
  }

  /** The clock used for timestamps. */
  get clock(): Clock {
    return this.#clock;
  }

  /** The key prefix of a type's objects, in one namespace or all. */
  prefix(type: ServedType, namespace?: string): string {
    const base = `/registry/${type.group || "core"}/${type.plural}/`;
    return type.namespaced && namespace ? `${base}${namespace}/` : base;
  }

  /** The key of one object. */
  key(type: ServedType, namespace: string | undefined, name: string): string {
    return type.namespaced ? `${this.prefix(type)}${namespace}/${name}` : `${this.prefix(type)}${name}`;
  }

  /** Decodes a stored value, setting resourceVersion, apiVersion and kind. */
  decode(kv: KeyValue): KubeObject {
    const obj = JSON.parse(kv.value) as KubeObject;
    obj.metadata.resourceVersion = String(kv.modRevision);
    return obj;
  }

  #encode(obj: KubeObject): string {
    const { resourceVersion: _rv, ...metadata } = obj.metadata;
    return JSON.stringify({ ...obj, metadata });
  }

  /** `pods "web" not found` */
  notFound(type: ServedType, name: string): NotFoundError {
    return new NotFoundError(`${type.plural}${type.group ? `.${type.group}` : ""} "${name}" not found`, {
      details: { name, group: type.group, kind: type.plural },
    });
  }

  #conflict(type: ServedType, name: string, detail: string, cause?: unknown): ConflictError {
    return new ConflictError(
      `Operation cannot be fulfilled on ${type.plural}${type.group ? `.${type.group}` : ""} "${name}": ${detail}`,
      { details: { name, group: type.group, kind: type.plural }, cause },
    );
  }

  /** Reads one object; `NotFoundError` if absent. */
  async get(type: ServedType, namespace: string | undefined, name: string): Promise<KubeObject> {
    const kv = await this.#store.get(this.key(type, namespace, name));
    if (!kv) throw this.notFound(type, name);
    return this.decode(kv);
  }

  /** Reads one object, or undefined if absent. */
  async find(type: ServedType, namespace: string | undefined, name: string): Promise<KubeObject | undefined> {
    const kv = await this.#store.get(this.key(type, namespace, name));
    return kv ? this.decode(kv) : undefined;
  }

  /**
   * Lists objects of a type (in a namespace, or all), filtered, one page at a
   * time. Pages are filled up to `limit` matching objects even when the
   * filter drops many, and all pages are read at the first page's revision.
   */
  async list(type: ServedType, namespace: string | undefined, options: ListObjectsOptions = {}): Promise<KubeList> {
    const prefix = this.prefix(type, namespace);
    const limit = options.limit && options.limit > 0 ? options.limit : 0;
    const items: KubeObject[] = [];
    let cont = options.continue;
    let revision: number | undefined;
    if (options.resourceVersion && options.resourceVersion !== "0" && !cont) {
      revision = parseResourceVersion(options.resourceVersion);
    }
    let remaining = 0;
    let next: string | undefined;
    for (;;) {
      const want = limit === 0 ? 0 : Math.max(limit - items.length, options.filter ? 100 : 0);
      const page = await this.#store.list(prefix, {
        ...(want ? { limit: want } : {}),
        ...(cont ? { continue: cont } : {}),
        ...(revision !== undefined && !cont ? { revision } : {}),
      });
      revision = page.revision;
      for (let i = 0; i < page.items.length; i++) {
        const obj = this.decode(page.items[i]!);
        if (options.filter && !options.filter(obj)) continue;
        items.push(obj);
        if (limit > 0 && items.length === limit) {
          const consumed = i + 1;
          if (consumed < page.items.length || page.continue) {
            next = encodeContinue({
              prefix,
              revision: page.revision,
              lastKey: this.key(type, obj.metadata.namespace, obj.metadata.name!),
            });
            remaining = page.remaining + (page.items.length - consumed);
          }
          break;
        }
      }
      if ((limit > 0 && items.length === limit) || !page.continue) break;
      cont = page.continue;
    }
    const list: KubeList = {
      apiVersion: type.group ? `${type.group}/${type.version}` : type.version,
      kind: `${type.kind}List`,
      metadata: { resourceVersion: String(revision ?? this.#store.currentRevision()) },
      items,
    };
    if (next) {
      list.metadata.continue = next;
      if (!options.filter) list.metadata.remainingItemCount = remaining;
    }
    return list;
  }

  /**
   * Creates an object: sets uid, creationTimestamp, generation, a generated
   * name if asked; defaults, validates and admits it; records the write in
   * managedFields when `fieldManager` is set; writes it unless dry run.
   * `AlreadyExistsError` if the name is taken.
   */
  async create(
    type: ServedType,
    namespace: string | undefined,
    input: KubeObject,
    options: WriteOptions,
  ): Promise<KubeObject> {
    const obj = clone(input);
    obj.metadata ??= {};
    const meta = obj.metadata;
    if (type.namespaced) meta.namespace = namespace;
    else delete meta.namespace;
    const generated = !meta.name && typeof meta.generateName === "string" && meta.generateName !== "";
    for (const field of ["uid", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"] as const) {
      delete meta[field];
    }
    meta.creationTimestamp = timestamp(this.#clock.now());
    meta.uid = crypto.randomUUID();
    if (type.tracksGeneration) meta.generation = 1;
    else delete meta.generation;
    type.strategy.prepareForCreate?.(obj);
    for (let attempt = 0;; attempt++) {
      if (generated) meta.name = `${meta.generateName}${randomSuffix()}`;
      let candidate = clone(obj);
      type.defaults(candidate);
      this.#validate(type, candidate, undefined);
      await this.#admit({
        operation: "create",
        type,
        subresource: undefined,
        object: candidate,
        old: undefined,
        ...options,
      });
      this.#validate(type, candidate, undefined);
      if (options.fieldManager !== undefined) {
        candidate = this.#record(type, undefined, candidate, options.fieldManager, undefined);
      }
      if (options.dryRun) return candidate;
      const lease = await this.#leaseFor(type, 0);
      try {
        const result = await this.#store.create(
          this.key(type, namespace, candidate.metadata.name!),
          this.#encode(candidate),
          lease ? { lease } : {},
        );
        candidate.metadata.resourceVersion = String(result.revision);
        return candidate;
      } catch (err) {
        if (err instanceof NotFoundError && lease && attempt < 3) {
          this.#forgetLeases();
          continue;
        }
        if (!(err instanceof AlreadyExistsError)) throw err;
        if (generated && attempt < 8) continue;
        throw new AlreadyExistsError(
          `${type.plural}${type.group ? `.${type.group}` : ""} "${candidate.metadata.name}" already exists`,
          { details: { name: candidate.metadata.name!, group: type.group, kind: type.plural }, cause: err },
        );
      }
    }
  }

  /**
   * Replaces an object (PUT), or its status (`subresource: "status"`).
   * A resourceVersion in the object makes the write conditional
   * (`ConflictError` when stale); without one, the update is retried on
   * concurrent changes.
   */
  update(
    type: ServedType,
    namespace: string | undefined,
    name: string,
    input: KubeObject,
    options: WriteOptions & { subresource?: string },
  ): Promise<KubeObject> {
    return this.guaranteedUpdate(type, namespace, name, () => clone(input), { ...options, checkResourceVersion: true });
  }

  /**
   * Reads the object, asks `mutate` for its new state and writes it
   * conditionally on the revision read; on a conflict, reads and asks again
   * (unless `expected` pins a revision, or `checkResourceVersion` finds one
   * in the new state: a stale one fails with `ConflictError`). The heart of
   * update, patch and status writes.
   *
   * `subresource` decides what may change: `status` changes only status;
   * `binding` spec and status (the pod's node and its PodScheduled
   * condition); anything else (the main resource, `scale`) all but status,
   * when the type has a status subresource.
   */
  async guaranteedUpdate(
    type: ServedType,
    namespace: string | undefined,
    name: string,
    mutate: (current: KubeObject) => KubeObject | Promise<KubeObject>,
    options: WriteOptions & { subresource?: string; expected?: number; checkResourceVersion?: boolean },
  ): Promise<KubeObject> {
    for (let attempt = 0;; attempt++) {
      const kv = await this.#store.get(this.key(type, namespace, name));
      if (!kv) throw this.notFound(type, name);
      const current = this.decode(kv);
      const stale = () =>
        this.#conflict(
          type,
          name,
          "the object has been modified; please apply your changes to the latest version and try again",
        );
      if (options.expected !== undefined && options.expected !== kv.modRevision) throw stale();
      const next = await mutate(clone(current));
      this.#checkIdentity(type, namespace, name, next);
      const pinned = options.checkResourceVersion ? next.metadata.resourceVersion : undefined;
      if (pinned !== undefined && pinned !== null && pinned !== "") {
        if (typeof pinned !== "string") {
          throw new BadRequestError(`Invalid metadata.resourceVersion ${JSON.stringify(pinned)}: must be a string`);
        }
        if (parseResourceVersion(pinned, "metadata.resourceVersion") !== kv.modRevision) throw stale();
      }
      const retry = options.expected === undefined && !pinned && attempt < MAX_CONFLICT_RETRIES;
      let updated = this.#prepareUpdate(type, next, current, options.subresource);
      await this.#admit({
        operation: "update",
        type,
        subresource: options.subresource,
        object: updated,
        old: current,
        user: options.user,
        dryRun: options.dryRun ?? false,
      });
      this.#validate(type, updated, options.subresource === "binding" ? undefined : current);
      if (options.fieldManager !== undefined) {
        updated = this.#record(type, current, updated, options.fieldManager, options.subresource);
      }
      if (sameObject(updated, current)) return current;
      if (options.dryRun) return updated;
      if (this.#releasable(type, updated)) {
        try {
          await this.#store.delete(this.key(type, namespace, name), { expectedRevision: kv.modRevision });
          return updated;
        } catch (err) {
          if (err instanceof ConflictError && retry) continue;
          throw this.#mapWriteError(type, name, err);
        }
      }
      const lease = await this.#leaseFor(type, kv.lease);
      try {
        const result = await this.#store.update(this.key(type, namespace, name), this.#encode(updated), {
          expectedRevision: kv.modRevision,
          ...(lease ? { lease } : {}),
        });
        updated.metadata.resourceVersion = String(result.revision);
        return updated;
      } catch (err) {
        if (err instanceof ConflictError && retry) continue;
        if (err instanceof NotFoundError && lease && lease !== kv.lease && attempt < MAX_CONFLICT_RETRIES) {
          this.#forgetLeases();
          continue;
        }
        throw this.#mapWriteError(type, name, err);
      }
    }
  }

  /**
   * True when a write leaves an object whose deletion was requested with
   * nothing holding it: no finalizers, no grace period left to run, and
   * nothing kind-specific (a namespace's spec.finalizers). It is then
   * deleted instead of written, as Kubernetes does.
   */
  #releasable(type: ServedType, obj: KubeObject): boolean {
    const meta = obj.metadata;
    return Boolean(meta.deletionTimestamp) && (meta.finalizers ?? []).length === 0 &&
      Number(meta.deletionGracePeriodSeconds ?? 0) === 0 && !type.strategy.deletionBlocked?.(obj);
  }

  #record(
    type: ServedType,
    previous: KubeObject | undefined,
    updated: KubeObject,
    manager: string,
    subresource: string | undefined,
  ): KubeObject {
    const recorded = recordUpdate(previous, updated, {
      manager,
      now: new Date(this.#clock.now()),
      ...(subresource ? { subresource } : {}),
      ...(subresource !== "status" && hasSubresource(type, "status") ? { ignoredFields: ["status"] } : {}),
    });
    if (recorded.metadata.managedFields?.length === 0) delete recorded.metadata.managedFields;
    return recorded;
  }

  /**
   * The lease to attach to a write of `type`: for kinds that expire
   * (`strategy.ttlSeconds`, Events), one shared lease per minute that
   * outlives every object written in that minute by the ttl, so an object
   * goes between ttl and ttl + 60 s after its last write, and the store
   * grants one lease a minute however many events are written. Other kinds
   * keep the lease they have (`current`).
   */
  async #leaseFor(type: ServedType, current: number): Promise<number> {
    const ttl = type.strategy.ttlSeconds;
    if (!ttl) return current;
    const now = this.#clock.now();
    const minute = Math.floor(now / 60_000);
    let lease = this.#leases.get(minute);
    if (!lease) {
      for (const old of this.#leases.keys()) if (old < minute) this.#leases.delete(old);
      const seconds = Math.ceil(((minute + 1) * 60_000 + ttl * 1000 - now) / 1000);
      lease = this.#store.grantLease(seconds).then((granted) => granted.id);
      const pending = lease;
      lease.catch(() => {
        if (this.#leases.get(minute) === pending) this.#leases.delete(minute);
      });
      this.#leases.set(minute, lease);
    }
    return await lease;
  }

  /** Forgets the cached leases after the store refused one (revoked, or expired by a clock jump). */
  #forgetLeases(): void {
    this.#leases.clear();
  }

  #mapWriteError(type: ServedType, name: string, err: unknown): unknown {
    if (err instanceof ConflictError) {
      return this.#conflict(
        type,
        name,
        "the object has been modified; please apply your changes to the latest version and try again",
        err,
      );
    }
    if (err instanceof NotFoundError) return this.notFound(type, name);
    return err;
  }

  #checkIdentity(type: ServedType, namespace: string | undefined, name: string, obj: KubeObject): void {
    if (typeof obj !== "object" || obj === null || typeof obj.metadata !== "object" || obj.metadata === null) {
      throw new BadRequestError("The object has no metadata");
    }
    if (obj.metadata.name !== undefined && obj.metadata.name !== name) {
      throw new BadRequestError(
        `the name of the object (${String(obj.metadata.name)}) does not match the name on the URL (${name})`,
      );
    }
    if (
      type.namespaced && obj.metadata.namespace !== undefined && obj.metadata.namespace !== "" &&
      obj.metadata.namespace !== namespace
    ) {
      throw new BadRequestError(
        "the namespace of the provided object does not match the namespace sent on the request",
      );
    }
  }

  /** The object to store for an update of `current`, keeping what the endpoint may not change. */
  #prepareUpdate(type: ServedType, next: KubeObject, current: KubeObject, subresource: string | undefined): KubeObject {
    let updated: KubeObject;
    if (subresource === "status") {
      updated = clone(current);
      if ("status" in next) updated.status = next.status;
      else delete updated.status;
      if (next.metadata.managedFields !== undefined) updated.metadata.managedFields = next.metadata.managedFields;
    } else {
      updated = next;
      if (subresource !== "binding" && hasSubresource(type, "status")) {
        if ("status" in current) updated.status = clone(current.status);
        else delete updated.status;
      }
    }
    const meta = updated.metadata;
    const old = current.metadata;
    if (meta.uid !== undefined && meta.uid !== null && meta.uid !== "" && meta.uid !== old.uid) {
      throw this.#conflict(
        type,
        old.name!,
        `Precondition failed: UID in precondition: ${String(meta.uid)}, UID in object meta: ${old.uid}`,
      );
    }
    meta.name = old.name;
    if (type.namespaced) meta.namespace = old.namespace;
    meta.uid = old.uid;
    meta.creationTimestamp = old.creationTimestamp;
    if (old.deletionTimestamp) {
      meta.deletionTimestamp = old.deletionTimestamp;
      if (old.deletionGracePeriodSeconds !== undefined) {
        meta.deletionGracePeriodSeconds = old.deletionGracePeriodSeconds;
      }
    } else {
      delete meta.deletionTimestamp;
      delete meta.deletionGracePeriodSeconds;
    }
    delete meta.resourceVersion;
    updated.apiVersion = current.apiVersion;
    updated.kind = current.kind;
    type.strategy.prepareForUpdate?.(updated, current, subresource);
    type.defaults(updated);
    if (type.tracksGeneration) {
      meta.generation = (old.generation ?? 1) + (specChanged(updated, current) ? 1 : 0);
    } else {
      delete meta.generation;
    }
    return updated;
  }

  /**
   * Deletes an object as Kubernetes does: at once when nothing holds it;
   * otherwise sets deletionTimestamp (and bumps generation) and leaves it to
   * finalizers and, for pods on a node, to the node's graceful shutdown. A
   * second delete may only shorten the grace period; one that shortens it to
   * 0 deletes an object no finalizer holds.
   */
  async delete(
    type: ServedType,
    namespace: string | undefined,
    name: string,
    options: DeleteObjectOptions,
  ): Promise<DeleteResult> {
    const policy = options.propagationPolicy ?? type.strategy.defaultPropagation ?? "Background";
    if (!["Background", "Foreground", "Orphan"].includes(policy)) {
      throw new BadRequestError(
        `Invalid propagationPolicy "${policy}": supported values are "Background", "Foreground", "Orphan"`,
      );
    }
    for (let attempt = 0;; attempt++) {
      const kv = await this.#store.get(this.key(type, namespace, name));
      if (!kv) throw this.notFound(type, name);
      const current = this.decode(kv);
      const pre = options.preconditions;
      if (pre?.uid && pre.uid !== current.metadata.uid) {
        throw this.#conflict(
          type,
          name,
          `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`,
        );
      }
      if (pre?.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion) {
        throw this.#conflict(
          type,
          name,
          `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion}`,
        );
      }
      await this.#admit({
        operation: "delete",
        type,
        subresource: undefined,
        object: current,
        old: current,
        user: options.user,
        dryRun: options.dryRun ?? false,
      });
      const next = clone(current);
      const meta = next.metadata;
      const finalizers = new Set(meta.finalizers ?? []);
      if (policy === "Foreground") finalizers.add("foregroundDeletion");
      if (policy === "Orphan") finalizers.add("orphan");
      if (finalizers.size > 0) meta.finalizers = [...finalizers];
      let grace = Math.max(0, type.strategy.gracePeriod?.(current, options.gracePeriodSeconds) ?? 0);
      const now = this.#clock.now();
      if (!current.metadata.deletionTimestamp) {
        meta.deletionTimestamp = timestamp(now + grace * 1000);
        meta.deletionGracePeriodSeconds = grace;
        if (type.tracksGeneration) meta.generation = (meta.generation ?? 1) + 1;
      } else {
        const existing = Number(current.metadata.deletionGracePeriodSeconds ?? 0);
        if (grace < existing) {
          meta.deletionTimestamp = timestamp(now + grace * 1000);
          meta.deletionGracePeriodSeconds = grace;
        } else {
          grace = existing;
        }
      }
      type.strategy.prepareForDelete?.(next);
      if (this.#releasable(type, next)) {
        if (options.dryRun) return { object: current, deleted: true };
        try {
          await this.#store.delete(this.key(type, namespace, name), { expectedRevision: kv.modRevision });
          return { object: current, deleted: true };
        } catch (err) {
          if (err instanceof ConflictError && attempt < MAX_CONFLICT_RETRIES) continue;
          throw this.#mapWriteError(type, name, err);
        }
      }
      if (sameObject(next, current)) return { object: current, deleted: false };
      if (options.dryRun) return { object: next, deleted: false };
      const lease = await this.#leaseFor(type, kv.lease);
      try {
        const result = await this.#store.update(this.key(type, namespace, name), this.#encode(next), {
          expectedRevision: kv.modRevision,
          ...(lease ? { lease } : {}),
        });
        next.metadata.resourceVersion = String(result.revision);
        return { object: next, deleted: false };
      } catch (err) {
        if (err instanceof ConflictError && attempt < MAX_CONFLICT_RETRIES) continue;
        if (err instanceof NotFoundError && lease && lease !== kv.lease && attempt < MAX_CONFLICT_RETRIES) {
          this.#forgetLeases();
          continue;
        }
        throw this.#mapWriteError(type, name, err);
      }
    }
  }

  /**
   * Watches a type's objects after `afterRevision` (undefined: from now).
   * Events whose object stops (or starts) matching `filter` are reported as
   * DELETED (or ADDED), as Kubernetes does.
   */
  watch(
    type: ServedType,
    namespace: string | undefined,
    options: { afterRevision?: number; filter?: (obj: KubeObject) => boolean; signal?: AbortSignal },
  ): { watcher: Watcher; events: (batch: WatchEvent[]) => ObjectEvent[] } {
    const watcher = this.#store.watch(this.prefix(type, namespace), {
      ...(options.afterRevision !== undefined ? { afterRevision: options.afterRevision } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const filter = options.filter;
    const events = (batch: WatchEvent[]): ObjectEvent[] => {
      const out: ObjectEvent[] = [];
      for (const ev of batch) {
        const object = this.decode(ev.kv);
        if (ev.type === "delete") {
          if (!filter || filter(object)) out.push({ type: "DELETED", object, revision: ev.revision });
          continue;
        }
        const matches = !filter || filter(object);
        const before = ev.prev ? (!filter || filter(this.decode(ev.prev))) : false;
        if (matches) {
          out.push({ type: ev.created || !before ? "ADDED" : "MODIFIED", object, revision: ev.revision });
        } else if (before) {
          out.push({ type: "DELETED", object, revision: ev.revision });
        }
      }
      return out;
    };
    return { watcher, events };
  }

  #validate(type: ServedType, obj: KubeObject, old: KubeObject | undefined): void {
    let errors: readonly FieldError[];
    try {
      errors = type.validate(obj, old);
    } catch (cause) {
      if (cause instanceof ApiError) throw cause;
      throw new InvalidError(type.kind, obj.metadata?.name ?? "", [{
        field: "",
        type: "FieldValueInvalid",
        message: `Invalid value: ${cause instanceof Error ? cause.message : String(cause)}`,
      }], { group: type.group, cause });
    }
    if (errors.length > 0) {
      throw new InvalidError(type.kind, obj.metadata?.name ?? "", errors, { group: type.group });
    }
  }

  async #admit(request: Omit<AdmissionRequest, "dryRun"> & { dryRun?: boolean }): Promise<void> {
    const full: AdmissionRequest = { ...request, dryRun: request.dryRun ?? false };
    for (const plugin of this.#admission) await plugin(full, this);
  }
}

/** True when two objects are the same apart from resourceVersion. */
function sameObject(a: KubeObject, b: KubeObject): boolean {
  const strip = (o: KubeObject) => {
    const { resourceVersion: _rv, ...meta } = o.metadata;
    return { ...o, metadata: meta };
  };
  return stableStringify(strip(a)) === stableStringify(strip(b));
}

/** True when anything but metadata and status differs (what bumps generation). */
function specChanged(a: KubeObject, b: KubeObject): boolean {
  const strip = (o: KubeObject) => {
    const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o;
    return rest;
  };
  return stableStringify(strip(a)) !== stableStringify(strip(b));
}

/** JSON with object keys sorted, for comparisons that ignore key order. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
      return sorted;
    }
    return v;
  });
}

/** Maps a store CompactedError to Kubernetes' 410 "too old resource version". */
export function tooOld(err: CompactedError, requested: string): CompactedError {
  return new CompactedError(
    `too old resource version: ${requested} (${err.compactRevision})`,
    { compactRevision: err.compactRevision, cause: err },
  );
}
