/**
 * Admission plugins: checks that need the object (or other objects) and so
 * cannot be made by authorization alone.
 *
 * @module
 */

import { ForbiddenError, INITIAL_NAMESPACES, type KubeObject, LB_LEASE_PREFIX, NotFoundError } from "@skiff/api";
import type { Admission } from "./object_store.ts";
import type { ServedType } from "./served_type.ts";
import { nodeStorageWriteRefusal } from "./storage_admission.ts";

/**
 * NamespaceLifecycle: a namespaced object may be created only in a namespace
 * that exists and is not being deleted, and the namespaces the cluster
 * creates for itself (`default`, `kube-system`, `kube-public`,
 * `kube-node-lease`) may not be deleted.
 */
export function namespaceLifecycle(namespaceType: ServedType): Admission {
  return async (req, objects) => {
    if (req.operation === "delete" && req.type === namespaceType) {
      const name = req.object.metadata.name ?? "";
      if (INITIAL_NAMESPACES.includes(name)) {
        throw new ForbiddenError(`namespaces "${name}" is forbidden: this namespace may not be deleted`, {
          details: { name, kind: "namespaces", group: "" },
        });
      }
      return;
    }
    if (req.operation !== "create" || !req.type.namespaced) return;
    const name = req.object.metadata.namespace;
    if (!name) return;
    const ns = await objects.find(namespaceType, undefined, name);
    if (!ns) {
      throw new NotFoundError(`namespaces "${name}" not found: create it first (kubectl create namespace ${name})`, {
        details: { name, kind: "namespaces", group: "" },
      });
    }
    if (ns.metadata.deletionTimestamp && req.type.kind !== "Event") {
      throw new ForbiddenError(
        `${req.type.plural} "${req.object.metadata.name ?? ""}" is forbidden: unable to create new content in ` +
          `namespace ${name} because it is being terminated`,
      );
    }
  };
}

function nodeNameOf(obj: KubeObject | undefined): string | undefined {
  return (obj?.spec as { nodeName?: string } | undefined)?.nodeName;
}

/**
 * NodeRestriction: a node may write only its own Node and Lease, and only
 * the status of (and the final delete of) pods bound to it; it may not
 * change its own labels in the `node-restriction.kubernetes.io/` space; it
 * may write only PersistentVolumes pinned to it and claims selected for it
 * ({@linkcode nodeStorageWriteRefusal}).
 */
export const nodeRestriction: Admission = (req) => {
  const user = req.user;
  if (user.role !== "node") return;
  const node = user.nodeName;
  const refuse = (why: string): never => {
    throw new ForbiddenError(`${req.type.plural} "${req.object.metadata.name ?? ""}" is forbidden: ${why}`);
  };
  switch (req.type.kind) {
    case "Node":
      if (req.object.metadata.name !== node) refuse(`node "${node}" may not change node "${req.object.metadata.name}"`);
      for (const key of Object.keys(req.object.metadata.labels ?? {})) {
        const before = req.old?.metadata.labels?.[key];
        if (key.startsWith("node-restriction.kubernetes.io/") && before !== req.object.metadata.labels?.[key]) {
          refuse(`node "${node}" may not set the label "${key}"`);
        }
      }
      return;
    case "Lease": {
      const { name = "", namespace } = req.object.metadata;
      if (namespace === "kube-system" && name.startsWith(LB_LEASE_PREFIX)) {
        // A LoadBalancer address lease: a node may take it for itself or give it up, never hand it to another.
        const holder = (req.object.spec as { holderIdentity?: string } | undefined)?.holderIdentity ?? "";
        if (holder !== "" && holder !== node) refuse(`node "${node}" may not make "${holder}" the holder`);
        return;
      }
      if (name !== node || namespace !== "kube-node-lease") {
        refuse(`node "${node}" may write only its own lease kube-node-lease/${node}`);
      }
      return;
    }
    case "Pod":
      if (nodeNameOf(req.old ?? req.object) !== node) {
        refuse(`node "${node}" may change only pods bound to it`);
      }
      return;
    case "PersistentVolume":
    case "PersistentVolumeClaim": {
      const why = nodeStorageWriteRefusal(node ?? "", req);
      if (why) refuse(why);
      return;
    }
    case "Event": {
      const involved = req.object.involvedObject as { kind?: string; name?: string } | undefined;
      if (involved?.kind === "Node" && involved.name !== node) {
        refuse(`node "${node}" may not report events of other nodes`);
      }
      return;
    }
  }
};
