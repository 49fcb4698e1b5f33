/**
 * Storage admission, as Kubernetes' admission plugins of the same names:
 *
 * - DefaultStorageClass: a claim created without `storageClassName` gets
 *   the default class (annotated `storageclass.kubernetes.io/is-default-class: "true"`).
 * - StorageObjectInUseProtection: new claims get the
 *   `kubernetes.io/pvc-protection` finalizer, new volumes
 *   `kubernetes.io/pv-protection`, which their controllers remove once
 *   nothing uses them.
 *
 * And the storage half of NodeRestriction: what a node agent may write of
 * PersistentVolumes (only volumes whose node affinity pins them to it) and
 * of claims (only annotations and status of claims selected for it).
 *
 * @module
 */

import {
  ANNOTATION_SELECTED_NODE,
  FINALIZER_PV_PROTECTION,
  FINALIZER_PVC_PROTECTION,
  type KubeObject,
  LABEL_HOSTNAME,
  type PersistentVolume,
  type StorageClass,
} from "@skiff/api";
import { pickDefaultStorageClass } from "../controllers/volume_matching.ts";
import type { Admission } from "./object_store.ts";
import type { ServedType } from "./served_type.ts";

/** DefaultStorageClass: a claim created without `storageClassName` gets the default class, when there is one. */
export function defaultStorageClassAdmission(classType: ServedType): Admission {
  return async (req, objects) => {
    if (req.operation !== "create" || req.type.kind !== "PersistentVolumeClaim") return;
    const spec = req.object.spec as { storageClassName?: string | null } | undefined;
    if (!spec || (spec.storageClassName !== undefined && spec.storageClassName !== null)) return;
    const classes = await objects.list(classType, undefined);
    const fallback = pickDefaultStorageClass(classes.items as StorageClass[]);
    if (fallback) spec.storageClassName = fallback.metadata.name;
  };
}

/** StorageObjectInUseProtection: the protection finalizer on every new claim and volume. */
export const storageObjectInUseProtection: Admission = (req) => {
  if (req.operation !== "create") return;
  const finalizer = req.type.kind === "PersistentVolumeClaim"
    ? FINALIZER_PVC_PROTECTION
    : req.type.kind === "PersistentVolume"
    ? FINALIZER_PV_PROTECTION
    : undefined;
  if (!finalizer) return;
  const finalizers = req.object.metadata.finalizers ?? [];
  if (!finalizers.includes(finalizer)) req.object.metadata.finalizers = [...finalizers, finalizer];
};

/**
 * The node a volume's node affinity pins it to: every required term
 * demands `kubernetes.io/hostname In [node]` (or `metadata.name In [node]`)
 * of that one node. Undefined when the volume may land elsewhere.
 */
export function volumePinnedNode(volume: KubeObject | undefined): string | undefined {
  const terms = (volume as PersistentVolume | undefined)?.spec?.nodeAffinity?.required?.nodeSelectorTerms;
  if (!Array.isArray(terms) || terms.length === 0) return undefined;
  let pinned: string | undefined;
  for (const term of terms) {
    const requirements = [
      ...(term?.matchExpressions ?? []).filter((e) => e?.key === LABEL_HOSTNAME),
      ...(term?.matchFields ?? []).filter((f) => f?.key === "metadata.name"),
    ];
    const names = requirements.filter((r) => r.operator === "In" && r.values?.length === 1).map((r) => r.values![0]!);
    const name = names[0];
    if (name === undefined || (pinned !== undefined && pinned !== name)) return undefined;
    pinned = name;
  }
  return pinned;
}

function selectedNode(obj: KubeObject | undefined): string | undefined {
  return obj?.metadata.annotations?.[ANNOTATION_SELECTED_NODE];
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/**
 * Why node `node` may not make this PersistentVolume or PersistentVolumeClaim
 * write, or undefined when it may: a volume (created, changed or deleted,
 * before and after) must be pinned to the node; a claim must be one the
 * scheduler selected the node for, and only its annotations and status may
 * change, the selection only by being taken away.
 */
export function nodeStorageWriteRefusal(
  node: string,
  req: { type: ServedType; operation: string; object: KubeObject; old: KubeObject | undefined },
): string | undefined {
  if (req.type.kind === "PersistentVolume") {
    for (const volume of [req.object, req.old]) {
      if (volume && volumePinnedNode(volume) !== node) {
        return `node "${node}" may write only persistent volumes whose node affinity pins them to it ` +
          `(${LABEL_HOSTNAME} In [${node}])`;
      }
    }
    return undefined;
  }
  if (req.type.kind !== "PersistentVolumeClaim") return undefined;
  if (req.operation !== "update" || selectedNode(req.old) !== node) {
    return `node "${node}" may change only claims whose ${ANNOTATION_SELECTED_NODE} is "${node}"`;
  }
  const now = selectedNode(req.object);
  if (now !== undefined && now !== node) {
    return `node "${node}" may not select another node for a claim`;
  }
  const meta = (o: KubeObject) => {
    const { annotations: _a, resourceVersion: _rv, managedFields: _m, ...rest } = o.metadata;
    return rest;
  };
  if (!same(req.object.spec, req.old!.spec) || !same(meta(req.object), meta(req.old!))) {
    return `node "${node}" may change only the annotations and status of a claim`;
  }
  return undefined;
}
