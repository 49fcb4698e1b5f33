/**
 * The scheduler's volume side: the claims, volumes and StorageClasses it
 * keeps from informers (the {@linkcode VolumeLister} the VolumeBinding
 * plugin reads), and the bind step for pods with WaitForFirstConsumer
 * claims, as kube-scheduler's VolumeBinding Reserve and PreBind:
 *
 * 1. when a pod is assumed onto a node, each of its unbound
 *    WaitForFirstConsumer claims is assumed to be selected for that node,
 *    so the next pods sharing the claim go there too;
 * 2. before the pod is bound, each such claim gets
 *    `volume.kubernetes.io/selected-node`, which tells the PersistentVolume
 *    controller which volumes the node reaches and the node's provisioner
 *    to make one;
 * 3. the pod is bound only once every claim is bound, so the node agent
 *    finds its volumes ready. When a provisioner gives up on a claim (it
 *    takes the annotation away), the claim is deleted, or the wait times
 *    out, binding fails with a {@linkcode VolumeBindingError} and the pod
 *    is scheduled again.
 *
 * @module
 */

import {
  ANNOTATION_BIND_COMPLETED,
  ANNOTATION_SELECTED_NODE,
  type Clock,
  NotFoundError,
  type PersistentVolume,
  type PersistentVolumeClaim,
  type Pod,
  type StorageClass,
  systemClock,
} from "@skiff/api";
import type { ApiClient, Informer, SharedInformers } from "@skiff/client";
import { claimClassName, isDelayBinding } from "../controllers/volume_matching.ts";
import type { VolumeLister } from "./framework.ts";

/** How long a pod's binding waits for its claims to be bound, by default. */
export const DEFAULT_VOLUME_BIND_TIMEOUT_MS = 120_000;

/** Binding a pod's volumes failed; the pod is scheduled again. */
export class VolumeBindingError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "VolumeBindingError";
  }
}

/** A claim a pod's binding waits for. */
export interface PendingClaim {
  /** `namespace/name`. */
  key: string;
  /** Its namespace. */
  namespace: string;
  /** Its name. */
  name: string;
  /** True when the scheduler still has to set the selected node. */
  select: boolean;
}

interface Waiter {
  node: string;
  /** Claim key to the lowest revision that counts (older copies predate our annotation). */
  claims: Map<string, number>;
  settle(error?: VolumeBindingError): void;
}

function revision(obj: { metadata: { resourceVersion?: string } }): number {
  return Number(obj.metadata.resourceVersion ?? 0) || 0;
}

function isBound(claim: PersistentVolumeClaim): boolean {
  return Boolean(claim.spec?.volumeName) && claim.metadata.annotations?.[ANNOTATION_BIND_COMPLETED] === "yes";
}

/** Options of {@linkcode VolumeBinder}. */
export interface VolumeBinderOptions {
  /** How long a pod's binding waits for its claims (default 2 minutes). */
  bindTimeoutMs?: number;
}

/** Claims, volumes and classes for the scheduler, and the bind step of pods' claims. */
export class VolumeBinder implements VolumeLister {
  readonly #timeoutMs: number;
  #claims: Informer<PersistentVolumeClaim> | undefined;
  #volumes: Informer<PersistentVolume> | undefined;
  #classes: Informer<StorageClass> | undefined;
  #client: ApiClient | undefined;
  #clock: Clock = systemClock;
  /** Claim key to the node the scheduler assumed for it, until the claim shows its selected node. */
  #assumed = new Map<string, string>();
  #waiters = new Set<Waiter>();
  #stopped = false;

  /** Creates the binder; {@linkcode VolumeBinder.setup} connects it to the informers. */
  constructor(options: VolumeBinderOptions = {}) {
    const timeout = options.bindTimeoutMs ?? DEFAULT_VOLUME_BIND_TIMEOUT_MS;
    if (!(timeout > 0)) throw new RangeError(`bindTimeoutMs must be a positive number, got ${timeout}`);
    this.#timeoutMs = timeout;
  }

  /**
   * Follows claims, volumes and classes through `informers` (for a new
   * term of leadership: what was assumed before is forgotten); `changed`
   * is called whenever one changes, so unschedulable pods are tried again.
   */
  setup(
    ctx: { client: ApiClient; informers: SharedInformers },
    options: { clock: Clock; changed: () => void },
  ): void {
    this.#client = ctx.client;
    this.#clock = options.clock;
    this.#assumed.clear();
    this.#stopped = false;
    const { changed } = options;
    this.#claims = ctx.informers.for<PersistentVolumeClaim>("v1", "PersistentVolumeClaim").on({
      add: () => changed(),
      update: (_old, claim) => {
        const key = `${claim.metadata.namespace}/${claim.metadata.name}`;
        if (claim.metadata.annotations?.[ANNOTATION_SELECTED_NODE] || claim.spec?.volumeName) this.#assumed.delete(key);
        this.#check(key);
        changed();
      },
      delete: (claim) => {
        const key = `${claim.metadata.namespace}/${claim.metadata.name}`;
        this.#assumed.delete(key);
        this.#check(key);
        changed();
      },
    });
    this.#volumes = ctx.informers.for<PersistentVolume>("v1", "PersistentVolume").on({
      add: () => changed(),
      update: () => changed(),
    });
    this.#classes = ctx.informers.for<StorageClass>("storage.k8s.io/v1", "StorageClass").on({
      add: () => changed(),
      update: () => changed(),
    });
  }

  /** True once {@linkcode VolumeBinder.stop} was called (until the next setup). */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Ends every wait for claims: those bindings fail, so the scheduler can stop. */
  stop(): void {
    this.#stopped = true;
    for (const waiter of [...this.#waiters]) {
      waiter.settle(new VolumeBindingError("binding volumes: the scheduler stopped before the claims were bound"));
    }
  }

  /** {@inheritDoc VolumeLister.claim} */
  claim(namespace: string, name: string): PersistentVolumeClaim | undefined {
    const key = `${namespace}/${name}`;
    const claim = this.#claims?.get(key);
    const node = this.#assumed.get(key);
    if (!claim || !node || claim.spec?.volumeName || claim.metadata.annotations?.[ANNOTATION_SELECTED_NODE]) {
      return claim;
    }
    return {
      ...claim,
      metadata: { ...claim.metadata, annotations: { ...claim.metadata.annotations, [ANNOTATION_SELECTED_NODE]: node } },
    };
  }

  /** {@inheritDoc VolumeLister.volume} */
  volume(name: string): PersistentVolume | undefined {
    return this.#volumes?.get(name);
  }

  /** {@inheritDoc VolumeLister.storageClass} */
  storageClass(name: string): StorageClass | undefined {
    return name ? this.#classes?.get(name) : undefined;
  }

  /** {@inheritDoc VolumeLister.volumes} */
  volumes(): Iterable<PersistentVolume> {
    return this.#volumes?.list() ?? [];
  }

  /**
   * The unbound WaitForFirstConsumer claims of `pod`, now that it goes to
   * `node`: those not yet selected for a node are assumed selected for it.
   * Call synchronously in the scheduling cycle; then
   * {@linkcode VolumeBinder.bindClaims}.
   */
  assume(pod: Pod, node: string): PendingClaim[] {
    const namespace = pod.metadata.namespace ?? "";
    const pending: PendingClaim[] = [];
    const seen = new Set<string>();
    for (const volume of pod.spec?.volumes ?? []) {
      const name = volume.persistentVolumeClaim?.claimName;
      if (!name || seen.has(name)) continue;
      seen.add(name);
      const claim = this.#claims?.get(`${namespace}/${name}`);
      if (!claim || claim.spec?.volumeName) continue;
      if (!isDelayBinding(this.storageClass(claimClassName(claim)))) continue;
      const key = `${namespace}/${name}`;
      const select = !claim.metadata.annotations?.[ANNOTATION_SELECTED_NODE];
      if (select) this.#assumed.set(key, node);
      pending.push({ key, namespace, name, select });
    }
    return pending;
  }

  /** Drops what {@linkcode VolumeBinder.assume} assumed for these claims (the pod's binding failed). */
  forget(claims: readonly PendingClaim[]): void {
    for (const claim of claims) if (claim.select) this.#assumed.delete(claim.key);
  }

  /**
   * Sets the selected node on the claims that need it, then resolves once
   * every claim is bound.
   *
   * @throws {VolumeBindingError} when a claim is gone, was given up by its
   * provisioner, or is not bound in time.
   */
  async bindClaims(claims: readonly PendingClaim[], node: string): Promise<void> {
    const client = this.#client;
    if (!client) throw new TypeError("VolumeBinder used before setup()");
    if (this.#stopped) throw new VolumeBindingError("binding volumes: the scheduler is stopping");
    const since = new Map<string, number>();
    for (const claim of claims) {
      if (!claim.select) {
        since.set(claim.key, 0);
        continue;
      }
      try {
        const updated = await client.kind<PersistentVolumeClaim>("v1", "PersistentVolumeClaim").patch(
          claim.name,
          { metadata: { annotations: { [ANNOTATION_SELECTED_NODE]: node } } },
          { namespace: claim.namespace },
        );
        since.set(claim.key, revision(updated));
      } catch (err) {
        if (err instanceof NotFoundError) {
          throw new VolumeBindingError(`persistentvolumeclaim "${claim.name}" not found`, { cause: err });
        }
        throw new VolumeBindingError(
          `Cannot select node "${node}" for persistentvolumeclaim "${claim.name}": ${
            err instanceof Error ? err.message : err
          }`,
          { cause: err },
        );
      }
    }
    await new Promise<void>((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        const left = [...waiter.claims.keys()].map((k) => `"${k}"`).join(", ");
        waiter.settle(
          new VolumeBindingError(
            `binding volumes: timed out after ${
              this.#timeoutMs / 1000
            } s waiting for persistentvolumeclaim(s) ${left} ` +
              `to be bound on node "${node}"; check that the node's volume provisioner runs`,
          ),
        );
      }, this.#timeoutMs);
      const waiter: Waiter = {
        node,
        claims: since,
        settle: (error) => {
          if (!this.#waiters.delete(waiter)) return;
          this.#clock.clearTimeout(timer);
          if (error) reject(error);
          else resolve();
        },
      };
      this.#waiters.add(waiter);
      for (const key of [...since.keys()]) this.#check(key);
      if (since.size === 0) waiter.settle();
    });
  }

  /** Advances every waiter on claim `key` with the claim as the informer now has it. */
  #check(key: string): void {
    const claim = this.#claims?.get(key);
    for (const waiter of [...this.#waiters]) {
      const from = waiter.claims.get(key);
      if (from === undefined) continue;
      const [, name] = key.split("/");
      if (!claim) {
        waiter.settle(new VolumeBindingError(`binding volumes: persistentvolumeclaim "${name}" was deleted`));
        continue;
      }
      if (revision(claim) < from) continue;
      if (isBound(claim)) {
        waiter.claims.delete(key);
        if (waiter.claims.size === 0) waiter.settle();
        continue;
      }
      const selected = claim.metadata.annotations?.[ANNOTATION_SELECTED_NODE];
      if (selected !== waiter.node) {
        waiter.settle(
          new VolumeBindingError(
            `binding volumes: persistentvolumeclaim "${name}" could not be provisioned on node "${waiter.node}" ` +
              `(see the claim's events); trying another node`,
          ),
        );
      }
    }
  }
}
