/**
 * The PersistentVolume controller (Kubernetes' "persistentvolume-binder"):
 * binds claims to volumes and keeps both phases true.
 *
 * - An unbound claim gets the smallest Available volume that fits it
 *   (class, access modes, volume mode, size, selector) or one reserved for
 *   it (`claimRef`, as dynamic provisioners make them). A claim whose class
 *   is WaitForFirstConsumer waits for the scheduler's
 *   `volume.kubernetes.io/selected-node` and then takes only volumes that
 *   node reaches (node affinity). With no volume to take, the claim is
 *   handed to its class's provisioner with `volume.kubernetes.io/storage-provisioner`.
 * - Binding writes the volume's `claimRef` and phase Bound, then the
 *   claim's `volumeName`, `pv.kubernetes.io/bind-completed`, and status
 *   (phase Bound, capacity, access modes).
 * - A volume whose claim is gone is Released; its reclaim policy decides
 *   what follows: Retain keeps it (and its data) until an admin clears its
 *   claimRef, Delete leaves it to its CSI provisioner (which deletes the
 *   storage and the volume), and a volume no provisioner can delete Fails.
 * - A claim without `storageClassName` gets the default class once one
 *   exists (retroactive default class assignment).
 *
 * One worker: a binding is several writes, and two at once could give one
 * volume to two claims; writes also carry the resourceVersion they were
 * decided on, so a stale cache fails with a conflict and is retried.
 *
 * @module
 */

import {
  ANNOTATION_BETA_STORAGE_PROVISIONER,
  ANNOTATION_BIND_COMPLETED,
  ANNOTATION_BOUND_BY_CONTROLLER,
  ANNOTATION_PROVISIONED_BY,
  ANNOTATION_SELECTED_NODE,
  ANNOTATION_STORAGE_PROVISIONER,
  type KubeObject,
  type Node,
  NotFoundError,
  type PersistentVolume,
  type PersistentVolumeClaim,
  type PersistentVolumeClaimStatus,
  type PersistentVolumeStatus,
  type StorageClass,
} from "@skiff/api";
import type { Informer } from "@skiff/client";
import { type ControllerContext, QueueController } from "./controller.ts";
import {
  claimClassName,
  findMatchingVolume,
  isDelayBinding,
  isVolumeBoundToClaim,
  NO_PROVISIONER,
  pickDefaultStorageClass,
  volumeMismatch,
} from "./volume_matching.ts";

const CLAIM = "claim/";
const VOLUME = "volume/";

type VolumePhase = NonNullable<PersistentVolumeStatus["phase"]>;
type ClaimPhase = NonNullable<PersistentVolumeClaimStatus["phase"]>;

function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

function revision(obj: KubeObject): number {
  return Number(obj.metadata.resourceVersion ?? 0) || 0;
}

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  return JSON.stringify(a ?? []) === JSON.stringify(b ?? []);
}

/** The PersistentVolume controller. */
export class PersistentVolumeController extends QueueController {
  #claims!: Informer<PersistentVolumeClaim>;
  #volumes!: Informer<PersistentVolume>;
  #classes!: Informer<StorageClass>;
  #nodes!: Informer<Node>;
  /** Objects this controller wrote, newer than the informers may show yet. */
  #written = new Map<string, KubeObject>();
  /** The last event told about each object (by uid), so a repeated sync does not repeat it. */
  #told = new Map<string, string>();

  /** Creates the controller. */
  constructor() {
    super("persistentvolume-controller", 1);
  }

  protected register(ctx: ControllerContext): void {
    this.#claims = ctx.informers.for<PersistentVolumeClaim>("v1", "PersistentVolumeClaim");
    this.#volumes = ctx.informers.for<PersistentVolume>("v1", "PersistentVolume");
    this.#classes = ctx.informers.for<StorageClass>("storage.k8s.io/v1", "StorageClass");
    this.#nodes = ctx.informers.for<Node>("v1", "Node");
    const claimKey = (claim: PersistentVolumeClaim) => `${CLAIM}${claim.metadata.namespace}/${claim.metadata.name}`;
    this.#claims.on({
      add: (claim) => this.enqueue(claimKey(claim)),
      update: (_old, claim) => this.enqueue(claimKey(claim)),
      delete: (claim) => {
        this.#written.delete(claimKey(claim));
        this.#told.delete(claim.metadata.uid ?? "");
        for (const volume of this.#volumes.list()) {
          const ref = volume.spec?.claimRef;
          if (ref?.name === claim.metadata.name && ref?.namespace === claim.metadata.namespace) {
            this.enqueue(`${VOLUME}${volume.metadata.name}`);
          }
        }
      },
    });
    this.#volumes.on({
      add: (volume) => {
        this.enqueue(`${VOLUME}${volume.metadata.name}`);
        this.#enqueueUnboundClaims();
      },
      update: (_old, volume) => {
        this.enqueue(`${VOLUME}${volume.metadata.name}`);
        if (!volume.spec?.claimRef || !volume.spec.claimRef.uid) this.#enqueueUnboundClaims();
      },
      delete: (volume) => {
        this.#written.delete(`${VOLUME}${volume.metadata.name}`);
        this.#told.delete(volume.metadata.uid ?? "");
        const ref = volume.spec?.claimRef;
        if (ref?.name) this.enqueue(`${CLAIM}${ref.namespace}/${ref.name}`);
      },
    });
    this.#classes.on({
      add: () => this.#enqueueUnboundClaims(),
      update: () => this.#enqueueUnboundClaims(),
    });
  }

  #enqueueUnboundClaims(): void {
    for (const claim of this.#claims.list()) {
      if (!claim.spec?.volumeName) this.enqueue(`${CLAIM}${claim.metadata.namespace}/${claim.metadata.name}`);
    }
  }

  async reconcile(key: string): Promise<void> {
    if (key.startsWith(CLAIM)) {
      const claim = this.#claim(key.slice(CLAIM.length));
      if (claim) await this.#syncClaim(claim);
      return;
    }
    const volume = this.#volume(key.slice(VOLUME.length));
    if (volume) await this.#syncVolume(volume);
  }

  /** The freshest copy of an object: the informer's, or what this controller wrote when that is newer. */
  #fresh<T extends KubeObject>(key: string, cached: T | undefined): T | undefined {
    const written = this.#written.get(key) as T | undefined;
    if (!cached) {
      this.#written.delete(key);
      return undefined;
    }
    if (written && written.metadata.uid === cached.metadata.uid && revision(written) > revision(cached)) {
      return written;
    }
    this.#written.delete(key);
    return cached;
  }

  #claim(key: string): PersistentVolumeClaim | undefined {
    return this.#fresh(`${CLAIM}${key}`, this.#claims.get(key));
  }

  #volume(name: string): PersistentVolume | undefined {
    return this.#fresh(`${VOLUME}${name}`, this.#volumes.get(name));
  }

  #class(name: string): StorageClass | undefined {
    return name ? this.#classes.get(name) : undefined;
  }

  #tell(obj: KubeObject, type: "Normal" | "Warning", reason: string, message: string): void {
    const uid = obj.metadata.uid ?? "";
    const said = `${type}\u0000${reason}\u0000${message}`;
    if (this.#told.get(uid) === said) return;
    if (this.#told.size > 10_000) this.#told.clear();
    this.#told.set(uid, said);
    this.ctx.recorder.event(obj, type, reason, message);
  }

  // ---------------------------------------------------------------- claims

  async #syncClaim(claim: PersistentVolumeClaim): Promise<void> {
    if (!claim.spec?.volumeName) return await this.#syncUnboundClaim(claim);
    const name = claim.spec.volumeName;
    const volume = this.#volume(name);
    const completed = claim.metadata.annotations?.[ANNOTATION_BIND_COMPLETED] === "yes";
    if (!volume) {
      if (completed || claim.status?.phase === "Bound" || claim.status?.phase === "Lost") {
        await this.#setClaimPhase(claim, "Lost");
        this.#tell(
          claim,
          "Warning",
          "ClaimLost",
          `Bound claim has lost its PersistentVolume "${name}": it no longer exists. Data on the volume is lost!`,
        );
      } else {
        await this.#setClaimPhase(claim, "Pending");
      }
      return;
    }
    if (!volume.spec?.claimRef) {
      const mismatch = volumeMismatch(volume, claim);
      if (mismatch) {
        await this.#setClaimPhase(claim, "Pending");
        this.#tell(claim, "Warning", "VolumeMismatch", `Cannot bind to requested volume "${name}": ${mismatch}`);
        return;
      }
      await this.#bind(volume, claim);
      return;
    }
    if (isVolumeBoundToClaim(volume, claim)) {
      await this.#bind(volume, claim);
      return;
    }
    if (completed) {
      await this.#setClaimPhase(claim, "Lost");
      this.#tell(
        claim,
        "Warning",
        "ClaimMisbound",
        `Two claims are bound to the same volume "${name}", this one is bound incorrectly`,
      );
      return;
    }
    await this.#setClaimPhase(claim, "Pending");
    this.#tell(claim, "Warning", "FailedBinding", `volume "${name}" already bound to a different claim.`);
  }

  async #syncUnboundClaim(claim: PersistentVolumeClaim): Promise<void> {
    if (claim.metadata.deletionTimestamp) return;
    if (claim.spec?.storageClassName === undefined) {
      const fallback = pickDefaultStorageClass(this.#classes.list());
      if (fallback) {
        await this.#patchClaim(claim, { spec: { storageClassName: fallback.metadata.name } });
        return;
      }
    }
    const className = claimClassName(claim);
    const storageClass = this.#class(className);
    const delay = isDelayBinding(storageClass);
    const selected = claim.metadata.annotations?.[ANNOTATION_SELECTED_NODE];
    const node = selected ? this.#nodes.get(selected) ?? { metadata: { name: selected } } : undefined;
    const volumes = this.#volumes.list().map((v) => this.#volume(v.metadata.name!) ?? v);
    const volume = findMatchingVolume(claim, volumes, { ...(node ? { node } : {}), delayBinding: delay });
    if (volume) {
      await this.#bind(volume, claim);
      return;
    }
    await this.#setClaimPhase(claim, "Pending");
    if (delay && !selected) {
      this.#tell(claim, "Normal", "WaitForFirstConsumer", "waiting for first consumer to be created before binding");
      return;
    }
    if (!className) {
      this.#tell(
        claim,
        "Normal",
        "FailedBinding",
        "no persistent volumes available for this claim and no storage class is set",
      );
      return;
    }
    if (!storageClass) {
      this.#tell(claim, "Warning", "ProvisioningFailed", `storageclass.storage.k8s.io "${className}" not found`);
      return;
    }
    const provisioner = storageClass.provisioner;
    if (provisioner === NO_PROVISIONER) {
      this.#tell(
        claim,
        "Normal",
        "FailedBinding",
        `no persistent volumes available for this claim and storage class "${className}" provisions none`,
      );
      return;
    }
    const annotations = claim.metadata.annotations ?? {};
    if (
      annotations[ANNOTATION_STORAGE_PROVISIONER] !== provisioner ||
      annotations[ANNOTATION_BETA_STORAGE_PROVISIONER] !== provisioner
    ) {
      const patched = await this.#patchClaim(claim, {
        metadata: {
          annotations: {
            [ANNOTATION_STORAGE_PROVISIONER]: provisioner,
            [ANNOTATION_BETA_STORAGE_PROVISIONER]: provisioner,
          },
        },
      });
      if (!patched) return;
    }
    this.#tell(
      claim,
      "Normal",
      "ExternalProvisioning",
      `Waiting for a volume to be created either by the external provisioner '${provisioner}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.`,
    );
  }

  /** Binds `volume` and `claim` to each other; each write is skipped when already done. */
  async #bind(volume: PersistentVolume, claim: PersistentVolumeClaim): Promise<void> {
    const name = volume.metadata.name!;
    const ref = volume.spec?.claimRef;
    let bound: PersistentVolume | undefined = volume;
    if (!ref || ref.uid !== claim.metadata.uid) {
      bound = await this.#patchVolume(volume, {
        metadata: {
          resourceVersion: volume.metadata.resourceVersion,
          ...(!ref ? { annotations: { [ANNOTATION_BOUND_BY_CONTROLLER]: "yes" } } : {}),
        },
        spec: {
          claimRef: {
            kind: "PersistentVolumeClaim",
            apiVersion: "v1",
            namespace: claim.metadata.namespace,
            name: claim.metadata.name,
            uid: claim.metadata.uid,
            resourceVersion: claim.metadata.resourceVersion,
          },
        },
      });
      if (!bound) return;
    }
    bound = await this.#setVolumePhase(bound, "Bound");
    if (!bound) return;
    let current: PersistentVolumeClaim | undefined = claim;
    const annotations = claim.metadata.annotations ?? {};
    if (claim.spec?.volumeName !== name || annotations[ANNOTATION_BIND_COMPLETED] !== "yes") {
      current = await this.#patchClaim(claim, {
        metadata: {
          resourceVersion: claim.metadata.resourceVersion,
          annotations: {
            [ANNOTATION_BIND_COMPLETED]: "yes",
            ...(!claim.spec?.volumeName ? { [ANNOTATION_BOUND_BY_CONTROLLER]: "yes" } : {}),
          },
        },
        spec: { volumeName: name },
      });
      if (!current) return;
    }
    const capacity = bound.spec?.capacity ?? {};
    const modes = bound.spec?.accessModes ?? [];
    const status = current.status ?? {};
    if (
      status.phase !== "Bound" || !sameList(status.accessModes, modes) ||
      JSON.stringify(status.capacity ?? {}) !== JSON.stringify(capacity)
    ) {
      const updated = await this.#patchClaimStatus(current, { phase: "Bound", accessModes: modes, capacity });
      if (updated && status.phase !== "Bound") this.#told.delete(claim.metadata.uid ?? "");
    }
  }

  async #setClaimPhase(claim: PersistentVolumeClaim, phase: ClaimPhase): Promise<void> {
    if (claim.status?.phase === phase) return;
    await this.#patchClaimStatus(claim, { phase });
  }

  // --------------------------------------------------------------- volumes

  async #syncVolume(volume: PersistentVolume): Promise<void> {
    const ref = volume.spec?.claimRef;
    if (!ref?.name) {
      await this.#setVolumePhase(volume, "Available");
      return;
    }
    const claimKey = `${ref.namespace ?? ""}/${ref.name}`;
    if (!ref.uid) {
      const claim = this.#claim(claimKey);
      if (claim && !claim.spec?.volumeName) this.enqueue(`${CLAIM}${claimKey}`);
      await this.#setVolumePhase(volume, "Available");
      return;
    }
    let claim = this.#claim(claimKey);
    if (claim && claim.metadata.uid !== ref.uid) claim = undefined;
    if (!claim) {
      // The informer may lag behind a claim created a moment ago: ask the API before releasing.
      claim = await this.#readClaim(ref.namespace ?? "", ref.name);
      if (claim && claim.metadata.uid !== ref.uid) claim = undefined;
    }
    if (!claim) {
      await this.#release(volume);
      return;
    }
    if (!claim.spec?.volumeName) {
      this.enqueue(`${CLAIM}${claimKey}`);
      return;
    }
    if (claim.spec.volumeName === volume.metadata.name) {
      await this.#setVolumePhase(volume, "Bound");
      return;
    }
    // The claim is bound to another volume.
    if (volume.metadata.annotations?.[ANNOTATION_PROVISIONED_BY]) {
      await this.#release(volume);
    } else if (volume.metadata.annotations?.[ANNOTATION_BOUND_BY_CONTROLLER] === "yes") {
      await this.#patchVolume(volume, {
        metadata: { resourceVersion: volume.metadata.resourceVersion },
        spec: { claimRef: null },
      });
    }
  }

  async #readClaim(namespace: string, name: string): Promise<PersistentVolumeClaim | undefined> {
    try {
      return await this.ctx.client.kind<PersistentVolumeClaim>("v1", "PersistentVolumeClaim").get(name, { namespace });
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  /** Marks a volume whose claim is gone Released and applies its reclaim policy. */
  async #release(volume: PersistentVolume): Promise<void> {
    const name = volume.metadata.name!;
    const policy = volume.spec?.persistentVolumeReclaimPolicy ?? "Retain";
    if (volume.status?.phase === "Failed") return;
    if (policy === "Recycle") {
      await this.#setVolumePhase(volume, "Failed", "Recycle is not supported: use the Retain or Delete reclaim policy");
      this.#tell(volume, "Warning", "VolumeFailedRecycle", "Recycle is not supported: use Retain or Delete");
      return;
    }
    if (policy === "Delete" && !volume.spec?.csi) {
      const message = `error getting deleter volume plugin for volume "${name}": no deletable volume plugin matched`;
      await this.#setVolumePhase(volume, "Failed", message);
      this.#tell(volume, "Warning", "VolumeFailedDelete", message);
      return;
    }
    const released = await this.#setVolumePhase(volume, "Released");
    if (!released) return;
    if (policy === "Delete") {
      const driver = volume.spec!.csi!.driver;
      this.#tell(
        volume,
        "Normal",
        "ExternalDeleting",
        `waiting for a volume to be deleted either by the external provisioner '${driver}' or manually by the system administrator. If volume deletion is delayed, please verify that the provisioner is running and correctly registered.`,
      );
    }
  }

  async #setVolumePhase(
    volume: PersistentVolume,
    phase: VolumePhase,
    message?: string,
  ): Promise<PersistentVolume | undefined> {
    if (volume.status?.phase === phase && (message === undefined || volume.status.message === message)) return volume;
    return await this.#write(
      `${VOLUME}${volume.metadata.name}`,
      () =>
        this.ctx.client.kind<PersistentVolume>("v1", "PersistentVolume").patch(volume.metadata.name!, {
          status: {
            phase,
            message: message ?? null,
            lastPhaseTransitionTime: rfc3339(this.ctx.clock.now()),
          },
        }, { subresource: "status" }),
    );
  }

  // ---------------------------------------------------------------- writes

  #patchVolume(volume: PersistentVolume, patch: unknown): Promise<PersistentVolume | undefined> {
    return this.#write(
      `${VOLUME}${volume.metadata.name}`,
      () => this.ctx.client.kind<PersistentVolume>("v1", "PersistentVolume").patch(volume.metadata.name!, patch),
    );
  }

  #patchClaim(claim: PersistentVolumeClaim, patch: unknown): Promise<PersistentVolumeClaim | undefined> {
    return this.#write(
      `${CLAIM}${claim.metadata.namespace}/${claim.metadata.name}`,
      () =>
        this.ctx.client.kind<PersistentVolumeClaim>("v1", "PersistentVolumeClaim").patch(claim.metadata.name!, patch, {
          namespace: claim.metadata.namespace!,
        }),
    );
  }

  #patchClaimStatus(
    claim: PersistentVolumeClaim,
    status: PersistentVolumeClaimStatus,
  ): Promise<PersistentVolumeClaim | undefined> {
    return this.#write(
      `${CLAIM}${claim.metadata.namespace}/${claim.metadata.name}`,
      () =>
        this.ctx.client.kind<PersistentVolumeClaim>("v1", "PersistentVolumeClaim").patch(
          claim.metadata.name!,
          { status },
          { namespace: claim.metadata.namespace!, subresource: "status" },
        ),
    );
  }

  /** Runs a write and remembers its result; undefined when the object is gone. Conflicts throw (and retry). */
  async #write<T extends KubeObject>(key: string, write: () => Promise<T>): Promise<T | undefined> {
    try {
      const written = await write();
      this.#written.set(key, written);
      return written;
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }
}
