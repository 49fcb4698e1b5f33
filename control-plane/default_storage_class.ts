/**
 * The StorageClass a new cluster starts with: `local`, the default class,
 * whose volumes csi-local makes on the node the claim's first pod was
 * scheduled to (WaitForFirstConsumer) and deletes with the claim (Delete).
 *
 * @module
 */

import {
  ANNOTATION_DEFAULT_STORAGE_CLASS,
  DEFAULT_STORAGE_CLASS,
  type KubeObject,
  LOCAL_CSI_DRIVER,
  type StorageClass,
} from "@skiff/api";
import type { ObjectStore, ServedType, User } from "./apiserver/mod.ts";

/** The default StorageClass, as created at first start. */
export function localStorageClass(): StorageClass {
  return {
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: {
      name: DEFAULT_STORAGE_CLASS,
      annotations: { [ANNOTATION_DEFAULT_STORAGE_CLASS]: "true" },
    },
    provisioner: LOCAL_CSI_DRIVER,
    reclaimPolicy: "Delete",
    volumeBindingMode: "WaitForFirstConsumer",
    allowVolumeExpansion: false,
  };
}

/**
 * Creates {@linkcode localStorageClass} when the cluster has no
 * StorageClass at all (a first start, or every class was deleted); a
 * cluster with classes of its own is left alone. Returns true when it
 * created the class.
 */
export async function ensureDefaultStorageClass(
  objects: ObjectStore,
  classType: ServedType,
  user: User,
): Promise<boolean> {
  const existing = await objects.list(classType, undefined, { limit: 1 });
  if (existing.items.length > 0) return false;
  await objects.create(classType, undefined, localStorageClass() as KubeObject, { user });
  return true;
}
