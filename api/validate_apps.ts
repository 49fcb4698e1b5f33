/**
 * Validation of apps/v1 workloads (Deployment, ReplicaSet, DaemonSet,
 * StatefulSet) and autoscaling/v1 Scale. The selector and pod-template
 * rules are shared by all four workloads. Never throws.
 *
 * @module
 */

import { Check, child, firstDifferences, isObj, type Obj } from "./_validation.ts";
import type { FieldError } from "./errors.ts";
import { dns1123LabelErrors } from "./names.ts";
import type { LabelSelector } from "./meta.ts";
import { type Labels, selectorFromLabelSelector } from "./selectors.ts";
import { validateAnnotations, validateLabels, validateLabelSelector } from "./validate_meta.ts";
import { validatePodTemplateSpec } from "./validate_pod.ts";
import { validatePersistentVolumeClaimSpec } from "./validate_storage.ts";

const PERCENT_MESSAGE =
  "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')";

/**
 * The rules every workload shares: selector present, valid, not empty and
 * matching the template's labels; the template valid with restartPolicy
 * Always and no activeDeadlineSeconds; counts non-negative.
 */
function checkWorkloadSpec(
  c: Check,
  spec: Obj,
  kind: string,
  extraVolumes: readonly string[] = [],
): void {
  if ("replicas" in spec) c.int(spec.replicas, "spec.replicas", { min: 0 });
  c.int(spec.minReadySeconds, "spec.minReadySeconds", { min: 0 });
  c.int(spec.revisionHistoryLimit, "spec.revisionHistoryLimit", { min: 0 });
  const selector = isObj(spec.selector) ? spec.selector : undefined;
  if (spec.selector == null) c.required("spec.selector");
  const selectorErrors = validateLabelSelector(spec.selector, "spec.selector");
  c.add(selectorErrors);
  const empty = selector && Object.keys(isObj(selector.matchLabels) ? selector.matchLabels : {}).length +
          (Array.isArray(selector.matchExpressions) ? selector.matchExpressions.length : 0) === 0;
  if (empty) c.invalid("spec.selector", selector, `empty selector is invalid for ${kind.toLowerCase()}`);
  c.add(validatePodTemplateSpec(spec.template, "spec.template", { extraVolumes }));
  const template = isObj(spec.template) ? spec.template : undefined;
  if (!template) return;
  const meta = isObj(template.metadata) ? template.metadata : {};
  const labels = isObj(meta.labels) ? meta.labels : {};
  if (selector && !empty && selectorErrors.length === 0) {
    let matches = false;
    try {
      matches = selectorFromLabelSelector(selector as LabelSelector).matches(labels as Labels);
    } catch {
      // An unparseable selector was reported by validateLabelSelector.
    }
    if (!matches) {
      c.invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`");
    }
  }
  const podSpec = isObj(template.spec) ? template.spec : {};
  if (podSpec.restartPolicy != null && podSpec.restartPolicy !== "Always") {
    c.notSupported("spec.template.spec.restartPolicy", podSpec.restartPolicy, ["Always"]);
  }
  if (podSpec.activeDeadlineSeconds != null) {
    c.invalid(
      "spec.template.spec.activeDeadlineSeconds",
      podSpec.activeDeadlineSeconds,
      `activeDeadlineSeconds in ${kind} is not Supported`,
    );
  }
}

/** Checks an int-or-percent field (`maxSurge`, `maxUnavailable`); returns it when valid. */
function intOrPercent(c: Check, value: unknown, path: string): number | string | undefined {
  const v = c.intOrString(value, path);
  if (typeof v === "string" && !/^[0-9]+%$/.test(v)) {
    c.invalid(path, v, PERCENT_MESSAGE);
    return undefined;
  }
  if (typeof v === "number" && v < 0) {
    c.invalid(path, v, "must be greater than or equal to 0");
    return undefined;
  }
  return v;
}

const isZero = (v: number | string | undefined) => v === 0 || v === "0%";

/** Checks `rollingUpdate` with maxUnavailable and maxSurge (Deployment, DaemonSet). */
function checkRollingUpdate(c: Check, value: unknown, path: string): void {
  const ru = c.obj(value, path);
  if (!ru) return;
  const unavailable = intOrPercent(c, ru.maxUnavailable, child(path, "maxUnavailable"));
  const surge = intOrPercent(c, ru.maxSurge, child(path, "maxSurge"));
  if (isZero(unavailable) && (isZero(surge) || ru.maxSurge == null)) {
    c.invalid(child(path, "maxUnavailable"), unavailable, "may not be 0 when `maxSurge` is 0");
  }
  if (typeof unavailable === "string" && Number(unavailable.slice(0, -1)) > 100) {
    c.invalid(child(path, "maxUnavailable"), unavailable, "must not be greater than 100%");
  }
}

function checkSelectorImmutable(c: Check, spec: Obj, old: unknown): void {
  const before = isObj(old) && isObj(old.spec) ? old.spec.selector : undefined;
  if (before !== undefined && firstDifferences(before, spec.selector, "", 1).length > 0) {
    c.invalid("spec.selector", spec.selector, "field is immutable");
  }
}

/** Non-negative counters of a workload's status. */
function checkStatusCounts(c: Check, status: unknown, fields: readonly string[]): void {
  const s = c.obj(status, "status");
  if (!s) return;
  for (const f of fields) c.int(s[f], child("status", f), { min: 0, int64: f === "observedGeneration" });
  c.conditions(s.conditions, "status.conditions");
}

const spec = (obj: Obj): Obj => (isObj(obj.spec) ? obj.spec : {});

/** Checks a Deployment's spec and status; with `old`, that the selector is unchanged. */
export function validateDeployment(obj: unknown, old?: unknown): FieldError[] {
  const c = new Check();
  const d = c.root(obj);
  if (!d) return c.errors;
  if (d.spec != null && !isObj(d.spec)) c.wrongType("spec", d.spec, "an object");
  const s = spec(d);
  checkWorkloadSpec(c, s, "Deployment");
  const strategy = c.obj(s.strategy, "spec.strategy");
  if (strategy) {
    const type = c.oneOf(strategy.type, "spec.strategy.type", ["Recreate", "RollingUpdate"]);
    if (type === "Recreate" && strategy.rollingUpdate != null) {
      c.forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'");
    }
    checkRollingUpdate(c, strategy.rollingUpdate, "spec.strategy.rollingUpdate");
  }
  const deadline = c.int(s.progressDeadlineSeconds, "spec.progressDeadlineSeconds", { min: 0 });
  const minReady = typeof s.minReadySeconds === "number" ? s.minReadySeconds : 0;
  if (deadline !== undefined && deadline <= minReady) {
    c.invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds");
  }
  c.bool(s.paused, "spec.paused");
  checkStatusCounts(c, d.status, [
    "observedGeneration",
    "replicas",
    "updatedReplicas",
    "readyReplicas",
    "availableReplicas",
    "unavailableReplicas",
    "collisionCount",
  ]);
  if (old !== undefined) checkSelectorImmutable(c, s, old);
  return c.errors;
}

/** Checks a ReplicaSet's spec and status; with `old`, that the selector is unchanged. */
export function validateReplicaSet(obj: unknown, old?: unknown): FieldError[] {
  const c = new Check();
  const rs = c.root(obj);
  if (!rs) return c.errors;
  if (rs.spec != null && !isObj(rs.spec)) c.wrongType("spec", rs.spec, "an object");
  // Kubernetes words the empty-selector error for ReplicaSets as for Deployments.
  checkWorkloadSpec(c, spec(rs), "Deployment");
  checkStatusCounts(c, rs.status, [
    "observedGeneration",
    "replicas",
    "fullyLabeledReplicas",
    "readyReplicas",
    "availableReplicas",
  ]);
  if (old !== undefined) checkSelectorImmutable(c, spec(rs), old);
  return c.errors;
}

/** Checks a DaemonSet's spec and status; with `old`, that the selector is unchanged. */
export function validateDaemonSet(obj: unknown, old?: unknown): FieldError[] {
  const c = new Check();
  const ds = c.root(obj);
  if (!ds) return c.errors;
  if (ds.spec != null && !isObj(ds.spec)) c.wrongType("spec", ds.spec, "an object");
  const s = spec(ds);
  checkWorkloadSpec(c, s, "DaemonSet");
  const strategy = c.obj(s.updateStrategy, "spec.updateStrategy");
  if (strategy) {
    c.oneOf(strategy.type, "spec.updateStrategy.type", ["OnDelete", "RollingUpdate"]);
    checkRollingUpdate(c, strategy.rollingUpdate, "spec.updateStrategy.rollingUpdate");
  }
  checkStatusCounts(c, ds.status, [
    "observedGeneration",
    "currentNumberScheduled",
    "numberMisscheduled",
    "desiredNumberScheduled",
    "numberReady",
    "updatedNumberScheduled",
    "numberAvailable",
    "numberUnavailable",
    "collisionCount",
  ]);
  if (old !== undefined) checkSelectorImmutable(c, s, old);
  return c.errors;
}

const STATEFULSET_MUTABLE = [
  "replicas",
  "ordinals",
  "template",
  "updateStrategy",
  "revisionHistoryLimit",
  "persistentVolumeClaimRetentionPolicy",
  "minReadySeconds",
];

function checkClaimTemplates(c: Check, value: unknown): string[] {
  const names: string[] = [];
  for (const [claim, p] of c.objects(value, "spec.volumeClaimTemplates")) {
    const meta = c.obj(claim.metadata, child(p, "metadata"));
    const name = c.requiredStr(meta?.name, child(child(p, "metadata"), "name"));
    if (name) {
      c.name(name, child(child(p, "metadata"), "name"), dns1123LabelErrors);
      names.push(name);
    }
    c.add(validateLabels(meta?.labels, child(child(p, "metadata"), "labels")));
    c.add(validateAnnotations(meta?.annotations, child(child(p, "metadata"), "annotations")));
    c.add(validatePersistentVolumeClaimSpec(claim.spec, child(p, "spec")));
  }
  return names;
}

/** Checks a StatefulSet's spec and status; with `old`, that only mutable fields changed. */
export function validateStatefulSet(obj: unknown, old?: unknown): FieldError[] {
  const c = new Check();
  const sts = c.root(obj);
  if (!sts) return c.errors;
  if (sts.spec != null && !isObj(sts.spec)) c.wrongType("spec", sts.spec, "an object");
  const s = spec(sts);
  const claims = checkClaimTemplates(c, s.volumeClaimTemplates);
  checkWorkloadSpec(c, s, "StatefulSet", claims);
  const serviceName = c.str(s.serviceName, "spec.serviceName");
  if (serviceName) c.name(serviceName, "spec.serviceName", dns1123LabelErrors);
  const policy = c.str(s.podManagementPolicy, "spec.podManagementPolicy");
  if (policy !== undefined && policy !== "OrderedReady" && policy !== "Parallel") {
    c.invalid("spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'");
  }
  const strategy = c.obj(s.updateStrategy, "spec.updateStrategy");
  if (strategy) {
    const type = c.str(strategy.type, "spec.updateStrategy.type");
    if (type !== undefined && type !== "RollingUpdate" && type !== "OnDelete") {
      c.invalid("spec.updateStrategy", strategy, "must be 'RollingUpdate' or 'OnDelete'");
    }
    const ru = c.obj(strategy.rollingUpdate, "spec.updateStrategy.rollingUpdate");
    if (ru && type === "OnDelete") {
      c.invalid("spec.updateStrategy.rollingUpdate", ru, "only allowed for updateStrategy 'RollingUpdate'");
    }
    if (ru) {
      c.int(ru.partition, "spec.updateStrategy.rollingUpdate.partition", { min: 0 });
      const unavailable = intOrPercent(c, ru.maxUnavailable, "spec.updateStrategy.rollingUpdate.maxUnavailable");
      if (isZero(unavailable)) {
        c.invalid("spec.updateStrategy.rollingUpdate.maxUnavailable", unavailable, "must be greater than 0");
      }
    }
  }
  const retention = c.obj(s.persistentVolumeClaimRetentionPolicy, "spec.persistentVolumeClaimRetentionPolicy");
  for (const field of ["whenDeleted", "whenScaled"]) {
    c.oneOf(retention?.[field], child("spec.persistentVolumeClaimRetentionPolicy", field), ["Retain", "Delete"]);
  }
  const ordinals = c.obj(s.ordinals, "spec.ordinals");
  c.int(ordinals?.start, "spec.ordinals.start", { min: 0 });
  checkStatusCounts(c, sts.status, [
    "observedGeneration",
    "replicas",
    "readyReplicas",
    "currentReplicas",
    "updatedReplicas",
    "availableReplicas",
    "collisionCount",
  ]);
  if (isObj(old)) {
    const before = spec(old);
    const frozen = (o: Obj) => Object.fromEntries(Object.entries(o).filter(([k]) => !STATEFULSET_MUTABLE.includes(k)));
    const changed = firstDifferences(frozen(before), frozen(s), "spec");
    if (changed.length > 0) {
      c.forbidden(
        "spec",
        `updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden; changed: ${
          changed.join(", ")
        }`,
      );
    }
  }
  return c.errors;
}

/** Checks a Scale (the `scale` subresource): replicas must be a non-negative integer. */
export function validateScale(obj: unknown): FieldError[] {
  const c = new Check();
  const scale = c.root(obj);
  if (!scale) return c.errors;
  const s = c.obj(scale.spec, "spec");
  c.int(s?.replicas, "spec.replicas", { min: 0 });
  const status = c.obj(scale.status, "status");
  c.int(status?.replicas, "status.replicas", { min: 0 });
  c.str(status?.selector, "status.selector");
  return c.errors;
}
