/**
 * VolumeBinding: a pod goes only where its PersistentVolumeClaims can be
 * served, with kube-scheduler's reasons:
 *
 * - a claim that does not exist, is being deleted, or is unbound in an
 *   Immediate class (waiting for its binder) rules the pod out everywhere;
 * - a bound claim's volume must be reachable from the node (its node
 *   affinity): a node-local volume keeps its pods on its node
 *   ("node(s) had volume node affinity conflict");
 * - an unbound WaitForFirstConsumer claim needs, on the node, an Available
 *   volume that fits it, or its class's provisioner. A provisioner is
 *   node-local when it is csi-local or some node advertises it (label
 *   `csi.skiff.dev/<driver>: "true"`, set by the node agent's provisioner);
 *   then only nodes advertising it qualify, and only while the free bytes
 *   they report (`capacity.csi.skiff.dev/<driver>`) cover the requests. A
 *   claim already selected for a node goes nowhere else.
 *
 * The scheduler's {@linkcode VolumeBinder} sets the selected node on the
 * claims and waits for them to be bound before binding the pod.
 *
 * @module
 */

import {
  ANNOTATION_CSI_CAPACITY_PREFIX,
  ANNOTATION_SELECTED_NODE,
  LABEL_CSI_DRIVER_PREFIX,
  LOCAL_CSI_DRIVER,
  type PersistentVolume,
  type PersistentVolumeClaim,
  type StorageClass,
} from "@skiff/api";
import {
  claimClassName,
  claimRequest,
  findMatchingVolume,
  isDelayBinding,
  NO_PROVISIONER,
  volumeReachableFrom,
} from "../../controllers/volume_matching.ts";
import type { NodeInfo, Plugin, PluginConfig, PodInfo, Snapshot, VolumeLister } from "../framework.ts";

/** The plugin's name. */
export const VOLUME_BINDING = "VolumeBinding";
/** A bound volume's node affinity excludes the node. */
export const REASON_VOLUME_NODE_CONFLICT = "node(s) had volume node affinity conflict";
/** An unbound claim finds no volume on the node and cannot get one made there. */
export const REASON_VOLUME_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind";
/** The node's provisioner reports too few free bytes for the claims it would make. */
export const REASON_NOT_ENOUGH_STORAGE = "node(s) did not have enough free storage";
/** A claim is bound to a volume that does not exist. */
export const REASON_VOLUME_MISSING = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";
/** An unbound claim of an Immediate class (its binder has not bound it yet). */
export const REASON_UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims";

/** Why a node cannot provision volumes of `driver`. */
export function noDriverReason(driver: string): string {
  return `node(s) did not have CSI driver ${driver} to provision volumes`;
}

/** An unbound WaitForFirstConsumer claim of the pod. */
interface ClaimToBind {
  claim: PersistentVolumeClaim;
  storageClass: StorageClass;
  /** Bytes requested (0 when unknown). */
  bytes: number;
  /** The node it is already selected for. */
  selectedNode: string | undefined;
  /** The class's provisioner makes volumes only on nodes that advertise it. */
  nodeLocal: boolean;
}

/** What the plugin works out once per pod. */
export interface VolumeBindingState {
  /** Why no node can take the pod. */
  rejection: string | undefined;
  /** The volumes of the pod's bound claims. */
  bound: PersistentVolume[];
  /** A bound claim's volume does not exist. */
  missingVolume: boolean;
  /** Unbound WaitForFirstConsumer claims. */
  toBind: ClaimToBind[];
  /** Where volumes that fit come from. */
  volumes: VolumeLister;
}

/** The claim names a pod's volumes use, each once. */
export function podClaimNames(pod: PodInfo): string[] {
  const names = (pod.pod.spec?.volumes ?? []).flatMap((v) => v.persistentVolumeClaim?.claimName ?? []);
  return [...new Set(names)];
}

/** True when `node` advertises that its agent provisions volumes of `driver`. */
export function nodeProvisions(node: NodeInfo, driver: string): boolean {
  return node.labels[`${LABEL_CSI_DRIVER_PREFIX}${driver}`] === "true";
}

/** The free bytes `node` reports for `driver`, or undefined when it reports none. */
export function nodeFreeBytes(node: NodeInfo, driver: string): number | undefined {
  const value = node.node.metadata.annotations?.[`${ANNOTATION_CSI_CAPACITY_PREFIX}${driver}`];
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

/** Works out the pod's claims; undefined when it uses none. */
export function volumeBindingState(
  pod: PodInfo,
  snapshot: Snapshot,
  volumes: VolumeLister,
): VolumeBindingState | undefined {
  const names = podClaimNames(pod);
  if (names.length === 0) return undefined;
  const state: VolumeBindingState = { rejection: undefined, bound: [], missingVolume: false, toBind: [], volumes };
  let unboundImmediate = false;
  for (const name of names) {
    const claim = volumes.claim(pod.namespace, name);
    if (!claim) return { ...state, rejection: `persistentvolumeclaim "${name}" not found` };
    if (claim.metadata.deletionTimestamp) {
      return { ...state, rejection: `persistentvolumeclaim "${name}" is being deleted` };
    }
    const volumeName = claim.spec?.volumeName;
    if (volumeName) {
      const volume = volumes.volume(volumeName);
      if (volume) state.bound.push(volume);
      else state.missingVolume = true;
      continue;
    }
    const className = claimClassName(claim);
    const storageClass = volumes.storageClass(className);
    if (className && !storageClass) {
      return { ...state, rejection: `storageclass.storage.k8s.io "${className}" not found` };
    }
    if (!storageClass || !isDelayBinding(storageClass)) {
      unboundImmediate = true;
      continue;
    }
    const request = claimRequest(claim);
    const driver = storageClass.provisioner;
    state.toBind.push({
      claim,
      storageClass,
      bytes: request ? Number(request.value()) : 0,
      selectedNode: claim.metadata.annotations?.[ANNOTATION_SELECTED_NODE],
      nodeLocal: driver === LOCAL_CSI_DRIVER || snapshot.nodes.some((n) => nodeProvisions(n, driver)),
    });
  }
  if (unboundImmediate) state.rejection = REASON_UNBOUND_IMMEDIATE;
  return state;
}

/** Why `node` cannot serve the pod's claims, or undefined when it can. */
export function volumeBindingFilter(node: NodeInfo, state: VolumeBindingState): string[] | undefined {
  const reasons = new Set<string>();
  if (state.missingVolume) reasons.add(REASON_VOLUME_MISSING);
  for (const volume of state.bound) {
    if (!volumeReachableFrom(volume, node.node)) reasons.add(REASON_VOLUME_NODE_CONFLICT);
  }
  const taken = new Set<string>();
  const wanted = new Map<string, number>();
  for (const item of state.toBind) {
    if (item.selectedNode !== undefined && item.selectedNode !== node.name) {
      reasons.add(REASON_VOLUME_BIND_CONFLICT);
      continue;
    }
    const match = findMatchingVolume(item.claim, state.volumes.volumes(), { node: node.node, excluded: taken });
    if (match) {
      taken.add(match.metadata.name ?? "");
      continue;
    }
    const driver = item.storageClass.provisioner;
    if (driver === NO_PROVISIONER) {
      reasons.add(REASON_VOLUME_BIND_CONFLICT);
      continue;
    }
    if (!item.nodeLocal) continue;
    if (!nodeProvisions(node, driver)) {
      reasons.add(noDriverReason(driver));
      continue;
    }
    wanted.set(driver, (wanted.get(driver) ?? 0) + item.bytes);
  }
  for (const [driver, bytes] of wanted) {
    const free = nodeFreeBytes(node, driver);
    if (free !== undefined && bytes > free) reasons.add(REASON_NOT_ENOUGH_STORAGE);
  }
  return reasons.size > 0 ? [...reasons] : undefined;
}

/** The plugin over `volumes` (the scheduler's claims, volumes and classes). */
export function volumeBinding(config: PluginConfig): Plugin<VolumeBindingState> {
  const volumes = config.volumes;
  return {
    name: VOLUME_BINDING,
    prepare: (pod, snapshot) => volumes ? volumeBindingState(pod, snapshot, volumes) : undefined,
    preFilter: (_pod, state) => state.rejection,
    filter: (_pod, node, state) => volumeBindingFilter(node, state),
  };
}
