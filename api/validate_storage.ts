/**
 * Validation of PersistentVolumes, PersistentVolumeClaims and
 * StorageClasses. Never throws.
 *
 * @module
 */

import { Check, child, firstDifferences, isObj, type Obj } from "./_validation.ts";
import type { FieldError } from "./errors.ts";
import { dns1123SubdomainErrors, qualifiedNameErrors } from "./names.ts";
import { validateLabelSelector } from "./validate_meta.ts";
import { validateNodeSelector } from "./validate_pod.ts";

const ACCESS_MODES = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"];
const VOLUME_MODES = ["Block", "Filesystem"];
const PV_SOURCES = ["hostPath", "local", "csi", "nfs"];

function checkAccessModes(c: Check, value: unknown, path: string, detail: string): void {
  const modes = c.strList(value, path) ?? [];
  if (modes.length === 0 && (value == null || Array.isArray(value))) c.required(path, detail);
  for (const mode of modes) {
    if (!ACCESS_MODES.includes(mode)) c.notSupported(path, mode, ACCESS_MODES);
  }
  if (modes.includes("ReadWriteOncePod") && modes.length > 1) {
    c.forbidden(path, "may not use ReadWriteOncePod with other access modes");
  }
}

function checkStorageClassName(c: Check, value: unknown, path: string): void {
  const name = c.str(value, path);
  if (name) c.name(name, path, dns1123SubdomainErrors);
}

/** Checks a claim's spec (also used for StatefulSet volumeClaimTemplates). */
export function validatePersistentVolumeClaimSpec(spec: unknown, path = "spec"): FieldError[] {
  const c = new Check();
  if (spec != null && !isObj(spec)) {
    c.wrongType(path, spec, "an object");
    return c.errors;
  }
  const s: Obj = isObj(spec) ? spec : {};
  checkAccessModes(c, s.accessModes, child(path, "accessModes"), "at least 1 access mode is required");
  c.add(validateLabelSelector(s.selector, child(path, "selector")));
  const resources = c.obj(s.resources, child(path, "resources"));
  const requests = c.obj(resources?.requests, child(child(path, "resources"), "requests"));
  const storagePath = `${child(path, "resources")}[storage]`;
  if (requests?.storage == null) c.required(storagePath);
  else {
    const q = c.quantity(requests.storage, storagePath);
    if (q && q.sign() <= 0) c.invalid(storagePath, q.toString(), "must be greater than zero");
  }
  const limits = c.obj(resources?.limits, child(child(path, "resources"), "limits"));
  if (limits?.storage != null) c.quantity(limits.storage, `${child(path, "resources")}.limits[storage]`);
  c.str(s.volumeName, child(path, "volumeName"));
  checkStorageClassName(c, s.storageClassName, child(path, "storageClassName"));
  c.oneOf(s.volumeMode, child(path, "volumeMode"), VOLUME_MODES);
  const source = c.obj(s.dataSource, child(path, "dataSource"));
  if (source) {
    c.requiredStr(source.kind, child(child(path, "dataSource"), "kind"));
    c.requiredStr(source.name, child(child(path, "dataSource"), "name"));
    c.str(source.apiGroup, child(child(path, "dataSource"), "apiGroup"));
  }
  return c.errors;
}

function storageRequest(spec: unknown): unknown {
  if (!isObj(spec) || !isObj(spec.resources) || !isObj(spec.resources.requests)) return undefined;
  return spec.resources.requests.storage;
}

/**
 * Checks a PersistentVolumeClaim; with `old`, that only
 * `resources.requests` changed (and only grew), or that `volumeName` was
 * set for the first time (binding).
 */
export function validatePersistentVolumeClaim(input: unknown, old?: unknown): FieldError[] {
  const c = new Check();
  const obj = c.root(input);
  if (!obj) return c.errors;
  c.add(validatePersistentVolumeClaimSpec(obj.spec, "spec"));
  const status = c.obj(obj.status, "status");
  if (status) {
    c.oneOf(status.phase, "status.phase", ["Pending", "Bound", "Lost"]);
    for (const [name, q] of Object.entries(c.obj(status.capacity, "status.capacity") ?? {})) {
      c.quantity(q, `status.capacity[${name}]`);
    }
  }
  if (!isObj(old)) return c.errors;
  const spec = isObj(obj.spec) ? obj.spec : {};
  const before = isObj(old.spec) ? old.spec : {};
  const comparable = (s: Obj, base: Obj): Obj => ({
    ...s,
    resources: undefined,
    volumeName: base.volumeName ? s.volumeName : undefined,
    storageClassName: base.storageClassName == null ? undefined : s.storageClassName,
  });
  const changed = firstDifferences(comparable(before, before), comparable(spec, before), "spec");
  if (changed.length > 0) {
    c.forbidden(
      "spec",
      `spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims; changed: ${
        changed.join(", ")
      }`,
    );
  }
  const next = new Check().quantity(storageRequest(spec), "");
  const prev = new Check().quantity(storageRequest(before), "");
  if (next && prev && next.cmp(prev) < 0) {
    c.forbidden("spec.resources.requests.storage", "field can not be less than previous value");
  }
  return c.errors;
}

/** Checks a PersistentVolume; with `old`, that its source and volumeMode are unchanged. */
export function validatePersistentVolume(input: unknown, old?: unknown): FieldError[] {
  const c = new Check();
  const obj = c.root(input);
  if (!obj) return c.errors;
  if (obj.spec != null && !isObj(obj.spec)) {
    c.wrongType("spec", obj.spec, "an object");
    return c.errors;
  }
  const s: Obj = isObj(obj.spec) ? obj.spec : {};
  const capacity = c.obj(s.capacity, "spec.capacity");
  if (!capacity || Object.keys(capacity).length === 0) {
    if (s.capacity == null || capacity) c.required("spec.capacity");
  } else if (!("storage" in capacity) || Object.keys(capacity).length > 1) {
    c.notSupported("spec.capacity", capacity, ["storage"]);
  }
  if (capacity?.storage != null) {
    const q = c.quantity(capacity.storage, "spec.capacity[storage]");
    if (q && q.sign() <= 0) c.invalid("spec.capacity[storage]", q.toString(), "must be greater than zero");
  }
  checkAccessModes(c, s.accessModes, "spec.accessModes", "");
  c.oneOf(s.persistentVolumeReclaimPolicy, "spec.persistentVolumeReclaimPolicy", ["Delete", "Recycle", "Retain"]);
  checkStorageClassName(c, s.storageClassName, "spec.storageClassName");
  c.oneOf(s.volumeMode, "spec.volumeMode", VOLUME_MODES);
  c.strList(s.mountOptions, "spec.mountOptions");
  const claimRef = c.obj(s.claimRef, "spec.claimRef");
  if (claimRef) {
    for (const f of ["apiVersion", "kind", "namespace", "name", "uid", "resourceVersion"]) {
      c.str(claimRef[f], child("spec.claimRef", f));
    }
  }
  const affinity = c.obj(s.nodeAffinity, "spec.nodeAffinity");
  if (affinity) c.add(validateNodeSelector(affinity.required, "spec.nodeAffinity.required"));
  const sources = PV_SOURCES.filter((k) => s[k] != null);
  if (sources.length === 0) c.required("spec", "must specify a volume type");
  for (const extra of sources.slice(1)) c.forbidden(child("spec", extra), "may not specify more than 1 volume type");
  const source = (name: string) => c.obj(s[name], child("spec", name));
  const hostPath = source("hostPath");
  if (hostPath) {
    const path = c.requiredStr(hostPath.path, "spec.hostPath.path");
    if (path?.split("/").includes("..")) c.invalid("spec.hostPath.path", path, "must not contain '..'");
    c.str(hostPath.type, "spec.hostPath.type");
  }
  const local = source("local");
  if (local) {
    c.requiredStr(local.path, "spec.local.path");
    c.str(local.fsType, "spec.local.fsType");
    if (!affinity) c.required("spec.nodeAffinity", "Local volume requires node affinity");
  }
  const csi = source("csi");
  if (csi) {
    const driver = c.requiredStr(csi.driver, "spec.csi.driver");
    if (driver) c.name(driver.toLowerCase(), "spec.csi.driver", dns1123SubdomainErrors);
    c.requiredStr(csi.volumeHandle, "spec.csi.volumeHandle");
    c.strMap(csi.volumeAttributes, "spec.csi.volumeAttributes");
    c.bool(csi.readOnly, "spec.csi.readOnly");
  }
  const nfs = source("nfs");
  if (nfs) {
    c.requiredStr(nfs.server, "spec.nfs.server");
    const path = c.requiredStr(nfs.path, "spec.nfs.path");
    if (path && !path.startsWith("/")) c.invalid("spec.nfs.path", path, "must be an absolute path");
  }
  const status = c.obj(obj.status, "status");
  c.oneOf(status?.phase, "status.phase", ["Pending", "Available", "Bound", "Released", "Failed"]);
  if (isObj(old) && isObj(old.spec)) {
    const before = old.spec;
    const pick = (o: Obj) => Object.fromEntries(PV_SOURCES.map((k) => [k, o[k]]));
    if (firstDifferences(pick(before), pick(s), "", 1).length > 0) {
      c.forbidden("spec.persistentvolumesource", "spec.persistentvolumesource is immutable after creation");
    }
    if ((before.volumeMode ?? "Filesystem") !== (s.volumeMode ?? "Filesystem")) {
      c.invalid("spec.volumeMode", s.volumeMode ?? null, "field is immutable");
    }
    if (before.nodeAffinity != null && firstDifferences(before.nodeAffinity, s.nodeAffinity, "", 1).length > 0) {
      c.invalid("spec.nodeAffinity", s.nodeAffinity ?? null, "field is immutable");
    }
  }
  return c.errors;
}

/** Checks a StorageClass; with `old`, that provisioner, parameters, reclaim and binding modes are unchanged. */
export function validateStorageClass(input: unknown, old?: unknown): FieldError[] {
  const c = new Check();
  const obj = c.root(input);
  if (!obj) return c.errors;
  const provisioner = c.requiredStr(obj.provisioner, "provisioner");
  if (provisioner) c.name(provisioner.toLowerCase(), "provisioner", qualifiedNameErrors);
  c.strMap(obj.parameters, "parameters");
  c.oneOf(obj.reclaimPolicy, "reclaimPolicy", ["Delete", "Retain"]);
  c.oneOf(obj.volumeBindingMode, "volumeBindingMode", ["Immediate", "WaitForFirstConsumer"]);
  c.strList(obj.mountOptions, "mountOptions");
  c.bool(obj.allowVolumeExpansion, "allowVolumeExpansion");
  for (const [topology, p] of c.objects(obj.allowedTopologies, "allowedTopologies")) {
    for (const [expr, ep] of c.objects(topology.matchLabelExpressions, child(p, "matchLabelExpressions"))) {
      const key = c.requiredStr(expr.key, child(ep, "key"));
      if (key) c.name(key, child(ep, "key"), qualifiedNameErrors);
      const values = c.strList(expr.values, child(ep, "values")) ?? [];
      if (values.length === 0) c.required(child(ep, "values"), "must specify as least one value for key");
    }
  }
  if (isObj(old)) {
    for (const field of ["provisioner", "parameters", "reclaimPolicy"]) {
      if (firstDifferences(old[field], obj[field], "", 1).length > 0) {
        c.forbidden(field, `updates to ${field} are forbidden.`);
      }
    }
    if ((old.volumeBindingMode ?? null) !== (obj.volumeBindingMode ?? null)) {
      c.invalid("volumeBindingMode", obj.volumeBindingMode ?? null, "field is immutable");
    }
  }
  return c.errors;
}
