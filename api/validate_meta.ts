/**
 * Validation of object metadata, labels, annotations and label selectors,
 * shared by every kind. Each function returns Kubernetes-style field errors
 * and never throws, whatever it is given.
 *
 * @module
 */

import { at, Check, child, isObj } from "./_validation.ts";
import type { FieldError } from "./errors.ts";
import {
  ANNOTATIONS_MAX_BYTES,
  annotationsSize,
  dns1123LabelErrors,
  dns1123SubdomainErrors,
  labelValueErrors,
  qualifiedNameErrors,
} from "./names.ts";

/** A rule for object names: returns why a name is invalid (empty when valid). */
export type NameRule = (name: string) => string[];

/** How {@linkcode validateObjectMeta} checks a kind's metadata. */
export interface ObjectMetaOptions {
  /** Whether the kind lives in a namespace (then `namespace` is required, else forbidden). */
  namespaced: boolean;
  /** The rule for `name`; defaults to DNS-1123 subdomain. */
  nameRule?: NameRule;
}

/** Checks labels (keys are qualified names, values label values). */
export function validateLabels(labels: unknown, path: string): FieldError[] {
  const c = new Check();
  for (const [key, value] of Object.entries(c.strMap(labels, path) ?? {})) {
    c.name(key, path, qualifiedNameErrors);
    c.name(value, path, labelValueErrors);
  }
  return c.errors;
}

/** Checks annotations: keys are qualified names, and keys plus values total at most 256 KiB. */
export function validateAnnotations(annotations: unknown, path: string): FieldError[] {
  const c = new Check();
  const map = c.strMap(annotations, path);
  if (!map) return c.errors;
  for (const key of Object.keys(map)) {
    for (const m of qualifiedNameErrors(key.toLowerCase())) c.invalid(path, key, m);
  }
  if (annotationsSize(map) > ANNOTATIONS_MAX_BYTES) c.tooLong(path, ANNOTATIONS_MAX_BYTES);
  return c.errors;
}

/** Checks a structured label selector (matchLabels and matchExpressions). */
export function validateLabelSelector(selector: unknown, path: string): FieldError[] {
  const c = new Check();
  const sel = c.obj(selector, path);
  if (!sel) return c.errors;
  c.add(validateLabels(sel.matchLabels, child(path, "matchLabels")));
  for (const [expr, p] of c.objects(sel.matchExpressions, child(path, "matchExpressions"))) {
    const values = c.strList(expr.values, child(p, "values")) ?? [];
    const operator = c.str(expr.operator, child(p, "operator"));
    if (operator === "In" || operator === "NotIn") {
      if (values.length === 0) {
        c.required(child(p, "values"), "must be specified when `operator` is 'In' or 'NotIn'");
      }
    } else if (operator === "Exists" || operator === "DoesNotExist") {
      if (values.length > 0) {
        c.forbidden(
          child(p, "values"),
          "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        );
      }
    } else if (typeof expr.operator === "string" || expr.operator == null) {
      c.invalid(child(p, "operator"), operator ?? "", "not a valid selector operator");
    }
    const key = c.str(expr.key, child(p, "key")) ?? "";
    if (typeof expr.key === "string" || expr.key === undefined) {
      c.name(key, child(p, "key"), qualifiedNameErrors);
    }
    values.forEach((v, i) => c.name(v, at(child(p, "values"), i), labelValueErrors));
  }
  return c.errors;
}

/** Kubernetes allows a trailing dash in `generateName`: check it as if it were a letter. */
function maskTrailingDash(prefix: string): string {
  return prefix.length > 1 && prefix.endsWith("-") ? `${prefix.slice(0, -1)}a` : prefix;
}

/**
 * Checks object metadata: name (or generateName), namespace, labels,
 * annotations, ownerReferences, finalizers and the system fields' types.
 */
export function validateObjectMeta(
  meta: unknown,
  options: ObjectMetaOptions,
  path = "metadata",
): FieldError[] {
  const c = new Check();
  if (meta === undefined || meta === null) {
    c.required(child(path, "name"), "name or generateName is required");
    return c.errors;
  }
  const m = c.obj(meta, path);
  if (!m) return c.errors;
  const rule = options.nameRule ?? dns1123SubdomainErrors;
  const generateName = c.str(m.generateName, child(path, "generateName"));
  if (generateName) c.name(maskTrailingDash(generateName), child(path, "generateName"), rule);
  const name = c.str(m.name, child(path, "name"));
  if (name) c.name(name, child(path, "name"), rule);
  else if (!generateName && (m.name === undefined || m.name === null || m.name === "")) {
    c.required(child(path, "name"), "name or generateName is required");
  }
  const namespace = c.str(m.namespace, child(path, "namespace"));
  if (options.namespaced) {
    if (namespace) c.name(namespace, child(path, "namespace"), dns1123LabelErrors);
    else if (m.namespace == null || m.namespace === "") c.required(child(path, "namespace"));
  } else if (namespace) {
    c.forbidden(child(path, "namespace"), "not allowed on this type");
  }
  c.add(validateLabels(m.labels, child(path, "labels")));
  c.add(validateAnnotations(m.annotations, child(path, "annotations")));
  checkOwnerReferences(c, m.ownerReferences, child(path, "ownerReferences"));
  checkFinalizers(c, m.finalizers, child(path, "finalizers"));
  for (const field of ["uid", "resourceVersion", "creationTimestamp", "deletionTimestamp"]) {
    c.str(m[field], child(path, field));
  }
  c.int(m.generation, child(path, "generation"), { int64: true, min: 0 });
  c.int(m.deletionGracePeriodSeconds, child(path, "deletionGracePeriodSeconds"), { int64: true });
  c.objects(m.managedFields, child(path, "managedFields"));
  return c.errors;
}

function checkOwnerReferences(c: Check, value: unknown, path: string): void {
  const controllers: string[] = [];
  for (const [ref, p] of c.objects(value, path)) {
    const apiVersion = c.str(ref.apiVersion, child(p, "apiVersion")) ?? "";
    const version = apiVersion.includes("/") ? apiVersion.split("/")[1] : apiVersion;
    if (!version) c.invalid(child(p, "apiVersion"), apiVersion, "version must not be empty");
    for (const field of ["kind", "name", "uid"]) {
      const v = c.str(ref[field], child(p, field)) ?? "";
      if (v === "") c.invalid(child(p, field), v, `${field} must not be empty`);
    }
    if (c.bool(ref.controller, child(p, "controller"))) controllers.push(String(ref.name));
    c.bool(ref.blockOwnerDeletion, child(p, "blockOwnerDeletion"));
  }
  if (controllers.length > 1) {
    c.invalid(
      path,
      value,
      `Only one reference can have Controller set to true. Found "true" in references for ${controllers.join(" and ")}`,
    );
  }
}

function checkFinalizers(c: Check, value: unknown, path: string): void {
  const finalizers = c.finalizers(value, path);
  if (finalizers.includes("orphan") && finalizers.includes("foregroundDeletion")) {
    c.invalid(path, finalizers, "finalizer orphan and foregroundDeletion cannot be both set");
  }
}

/**
 * Checks an update of metadata: name, namespace, uid and creationTimestamp
 * cannot change (an empty uid or timestamp in the new object means
 * "unchanged"), and no finalizer may be added once deletion has started.
 */
export function validateObjectMetaUpdate(
  meta: unknown,
  old: unknown,
  path = "metadata",
): FieldError[] {
  const c = new Check();
  if (!isObj(meta) || !isObj(old)) return c.errors;
  for (const field of ["name", "namespace"]) {
    if ((meta[field] ?? "") !== (old[field] ?? "")) {
      c.invalid(child(path, field), meta[field] ?? "", "field is immutable");
    }
  }
  for (const field of ["uid", "creationTimestamp"]) {
    if (meta[field] != null && meta[field] !== "" && old[field] != null && meta[field] !== old[field]) {
      c.invalid(child(path, field), meta[field], "field is immutable");
    }
  }
  if (old.deletionTimestamp && Array.isArray(meta.finalizers)) {
    const before = new Set(Array.isArray(old.finalizers) ? old.finalizers : []);
    const added = meta.finalizers.filter((f) => !before.has(f));
    if (added.length > 0) {
      c.forbidden(
        child(path, "finalizers"),
        `no new finalizers can be added if the object is being deleted, found new finalizers ${
          added.map((f) => JSON.stringify(f)).join(", ")
        }`,
      );
    }
  }
  return c.errors;
}
