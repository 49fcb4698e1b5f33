/**
 * Pure helpers for matching PersistentVolumeClaims with PersistentVolumes,
 * shared by the PersistentVolume controller (which binds) and the
 * scheduler's VolumeBinding plugin (which checks that a node can get a
 * pod's volumes): the same rules Kubernetes' binder applies.
 *
 * @module
 */

import {
  ANNOTATION_DEFAULT_STORAGE_CLASS,
  matchesNodeSelector,
  type NodeLike,
  type PersistentVolume,
  type PersistentVolumeClaim,
  Quantity,
  selectorFromLabelSelector,
  type StorageClass,
  toQuantity,
} from "@skiff/api";

/** The provisioner name of classes whose volumes are only made by hand. */
export const NO_PROVISIONER = "kubernetes.io/no-provisioner";

/** The class a claim asks for; `""` for none. */
export function claimClassName(claim: PersistentVolumeClaim): string {
  return claim.spec?.storageClassName ?? "";
}

/** The class a volume belongs to; `""` for none. */
export function volumeClassName(volume: PersistentVolume): string {
  return volume.spec?.storageClassName ?? "";
}

/** The storage a claim requests, or undefined when it names none (or an unreadable one). */
export function claimRequest(claim: PersistentVolumeClaim): Quantity | undefined {
  const request = claim.spec?.resources?.requests?.storage;
  if (request === undefined) return undefined;
  try {
    return toQuantity(request);
  } catch {
    return undefined;
  }
}

/** A volume's storage capacity, or undefined when it has none (or an unreadable one). */
export function volumeCapacity(volume: PersistentVolume): Quantity | undefined {
  const capacity = volume.spec?.capacity?.storage;
  if (capacity === undefined) return undefined;
  try {
    return toQuantity(capacity);
  } catch {
    return undefined;
  }
}

/** True when a claim of this class waits for its first pod's node before it is bound (WaitForFirstConsumer). */
export function isDelayBinding(storageClass: StorageClass | undefined): boolean {
  return storageClass?.volumeBindingMode === "WaitForFirstConsumer";
}

/**
 * True when `volume` is reserved for `claim`: its claimRef names the claim,
 * with the claim's uid or none yet (a volume pre-bound by name).
 */
export function isVolumeBoundToClaim(volume: PersistentVolume, claim: PersistentVolumeClaim): boolean {
  const ref = volume.spec?.claimRef;
  if (!ref) return false;
  if (ref.name !== claim.metadata.name || (ref.namespace ?? "") !== (claim.metadata.namespace ?? "")) return false;
  return !ref.uid || ref.uid === claim.metadata.uid;
}

/** True when a node with these labels (and name) may reach `volume`: it has no node affinity, or the node matches it. */
export function volumeReachableFrom(volume: PersistentVolume, node: NodeLike): boolean {
  const required = volume.spec?.nodeAffinity?.required;
  return !required || matchesNodeSelector(required, node);
}

/** True when the volume offers every access mode the claim asks for. */
export function accessModesFit(volume: PersistentVolume, claim: PersistentVolumeClaim): boolean {
  const offered = volume.spec?.accessModes ?? [];
  return (claim.spec?.accessModes ?? []).every((mode) => offered.includes(mode));
}

/**
 * Why `volume` cannot serve `claim` — class, access modes, volume mode,
 * size, selector — or undefined when it can. Node affinity is not checked.
 */
export function volumeMismatch(volume: PersistentVolume, claim: PersistentVolumeClaim): string | undefined {
  if (volumeClassName(volume) !== claimClassName(claim)) {
    return `storageClassName "${volumeClassName(volume)}" does not match the claim's "${claimClassName(claim)}"`;
  }
  if (!accessModesFit(volume, claim)) {
    return `access modes ${JSON.stringify(volume.spec?.accessModes ?? [])} do not include the claim's ${
      JSON.stringify(claim.spec?.accessModes ?? [])
    }`;
  }
  if ((volume.spec?.volumeMode ?? "Filesystem") !== (claim.spec?.volumeMode ?? "Filesystem")) {
    return `volumeMode ${volume.spec?.volumeMode ?? "Filesystem"} does not match the claim's ${
      claim.spec?.volumeMode ?? "Filesystem"
    }`;
  }
  const request = claimRequest(claim);
  const capacity = volumeCapacity(volume);
  if (request && (!capacity || capacity.cmp(request) < 0)) {
    return `capacity ${capacity?.toString() ?? "none"} is less than the claim's request ${request.toString()}`;
  }
  const selector = claim.spec?.selector;
  if (selector && !selectorFromLabelSelector(selector).matches(volume.metadata.labels)) {
    return "its labels do not match the claim's selector";
  }
  return undefined;
}

/** Options of {@linkcode findMatchingVolume}. */
export interface FindVolumeOptions {
  /**
   * The node the claim's pod goes to (scheduler), or the claim's selected
   * node (binder): only volumes reachable from it match. Absent: any node.
   */
  node?: NodeLike;
  /** The claim waits for its first pod: without a node only a volume pre-bound to it matches. */
  delayBinding?: boolean;
  /** Volumes not to pick (already chosen for another claim of the same pod). */
  excluded?: ReadonlySet<string>;
}

/**
 * The volume `claim` should be bound to: one already reserved for it
 * (pre-bound, when reachable from `node`), else the smallest Available
 * volume that fits it, as Kubernetes' binder picks; undefined when none.
 */
export function findMatchingVolume(
  claim: PersistentVolumeClaim,
  volumes: Iterable<PersistentVolume>,
  options: FindVolumeOptions = {},
): PersistentVolume | undefined {
  const request = claimRequest(claim) ?? Quantity.fromValue(0);
  let smallest: PersistentVolume | undefined;
  let smallestCapacity: Quantity | undefined;
  for (const volume of volumes) {
    if (volume.metadata.deletionTimestamp || options.excluded?.has(volume.metadata.name ?? "")) continue;
    const reachable = !options.node || volumeReachableFrom(volume, options.node);
    if (isVolumeBoundToClaim(volume, claim)) return reachable ? volume : undefined;
    if (options.delayBinding && !options.node) continue;
    if (volume.spec?.claimRef || volume.status?.phase !== "Available" || !reachable) continue;
    if (volumeMismatch(volume, claim) !== undefined) continue;
    const capacity = volumeCapacity(volume);
    if (!capacity || capacity.cmp(request) < 0) continue;
    if (!smallestCapacity || capacity.cmp(smallestCapacity) < 0) {
      smallest = volume;
      smallestCapacity = capacity;
    }
  }
  return smallest;
}

/**
 * The default StorageClass among `classes`: the one annotated
 * `storageclass.kubernetes.io/is-default-class: "true"`, the newest when
 * several are (as Kubernetes picks since 1.28); undefined when none is.
 */
export function pickDefaultStorageClass(classes: Iterable<StorageClass>): StorageClass | undefined {
  let best: StorageClass | undefined;
  for (const candidate of classes) {
    if (candidate.metadata.annotations?.[ANNOTATION_DEFAULT_STORAGE_CLASS] !== "true") continue;
    if (!best) {
      best = candidate;
      continue;
    }
    const a = Date.parse(candidate.metadata.creationTimestamp ?? "") || 0;
    const b = Date.parse(best.metadata.creationTimestamp ?? "") || 0;
    if (a > b || (a === b && (candidate.metadata.name ?? "") < (best.metadata.name ?? ""))) best = candidate;
  }
  return best;
}
