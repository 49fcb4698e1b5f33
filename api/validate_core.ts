/**
 * Validation of Namespaces, Nodes, ConfigMaps, Secrets, Events, Bindings,
 * Evictions and Leases. Never throws.
 *
 * @module
 */

import { CIDR_MESSAGE, isCIDR } from "./_ip.ts";
import { at, Check, child, firstDifferences, isObj, type Obj, TAINT_EFFECTS } from "./_validation.ts";
import type { FieldError } from "./errors.ts";
import { configMapKeyErrors, labelValueErrors, qualifiedNameErrors, utf8Length } from "./names.ts";

/** Most bytes of data a ConfigMap or Secret may hold. */
export const MAX_DATA_BYTES = 1024 * 1024;
const REDACTED = "<secret contents redacted>";

/** Where standard base64 (with padding) goes wrong, Go style, or `undefined` when it is fine. */
export function base64Error(value: string): string | undefined {
  const text = value.replace(/[\r\n]/g, "");
  const bad = text.search(/[^A-Za-z0-9+/=]/);
  if (bad !== -1) return `illegal base64 data at input byte ${bad}`;
  const pad = text.indexOf("=");
  if (text.length % 4 !== 0 || (pad !== -1 && (pad < text.length - 2 || /[^=]/.test(text.slice(pad))))) {
    return `illegal base64 data at input byte ${pad === -1 ? text.length - (text.length % 4) : pad}`;
  }
  return undefined;
}

/** Decoded size of valid base64. */
function base64Size(value: string): number {
  const text = value.replace(/[\r\n]/g, "");
  return (text.length / 4) * 3 - (text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0);
}

/** Checks a map of data keys; values are base64 when `binary`. Returns the total size in bytes. */
function checkData(c: Check, value: unknown, path: string, options: { binary: boolean; redact: boolean }): number {
  let size = 0;
  for (const [key, v] of Object.entries(c.strMap(value, path) ?? {})) {
    c.name(key, at(path, key), configMapKeyErrors);
    if (options.binary) {
      const error = base64Error(v);
      if (error) c.invalid(at(path, key), options.redact ? REDACTED : v, error);
      else size += base64Size(v);
    } else size += utf8Length(v);
  }
  return size;
}

/** Checks `immutable`: once true, data cannot change and the flag cannot be unset. */
function checkImmutable(c: Check, obj: Obj, old: unknown, dataFields: readonly string[]): void {
  c.bool(obj.immutable, "immutable");
  if (!isObj(old) || old.immutable !== true) return;
  if (obj.immutable !== true) c.forbidden("immutable", "field is immutable when `immutable` is set");
  for (const field of dataFields) {
    if (firstDifferences(old[field], obj[field], "", 1).length > 0) {
      c.forbidden(field, "field is immutable when `immutable` is set");
    }
  }
}

/** Checks a ConfigMap: keys, base64 binaryData, no key in both maps, 1 MiB total; immutability on update. */
export function validateConfigMap(obj: unknown, old?: unknown): FieldError[] {
  const c = new Check();
  const cm = c.root(obj);
  if (!cm) return c.errors;
  let size = checkData(c, cm.data, "data", { binary: false, redact: false });
  size += checkData(c, cm.binaryData, "binaryData", { binary: true, redact: false });
  if (isObj(cm.data) && isObj(cm.binaryData)) {
    for (const key of Object.keys(cm.data)) {
      if (key in cm.binaryData) c.invalid(at("data", key), key, "duplicate of key present in binaryData");
    }
  }
  if (size > MAX_DATA_BYTES) c.tooLong("data", MAX_DATA_BYTES);
  checkImmutable(c, cm, old, ["data", "binaryData"]);
  return c.errors;
}

/** Keys each built-in Secret type requires. */
const SECRET_REQUIRED_KEYS: Readonly<Record<string, readonly string[]>> = {
  "kubernetes.io/dockercfg": [".dockercfg"],
  "kubernetes.io/dockerconfigjson": [".dockerconfigjson"],
  "kubernetes.io/ssh-auth": ["ssh-privatekey"],
  "kubernetes.io/tls": ["tls.crt", "tls.key"],
};

function decodeBase64(value: string): string {
  const bytes = Uint8Array.from(atob(value.replace(/[\r\n]/g, "")), (ch) => ch.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/**
 * Checks a Secret: keys, base64 data, 1 MiB total, the keys its type
 * requires; on update, `type` and (when immutable) data cannot change.
 */
export function validateSecret(obj: unknown, old?: unknown): FieldError[] {
  const c = new Check();
  const secret = c.root(obj);
  if (!secret) return c.errors;
  let size = checkData(c, secret.data, "data", { binary: true, redact: true });
  size += checkData(c, secret.stringData, "stringData", { binary: false, redact: true });
  if (size > MAX_DATA_BYTES) c.tooLong("data", MAX_DATA_BYTES);
  const type = c.str(secret.type, "type") ?? "Opaque";
  const data = isObj(secret.data) ? secret.data : {};
  const has = (key: string) => key in data || (isObj(secret.stringData) && key in secret.stringData);
  for (const key of SECRET_REQUIRED_KEYS[type] ?? []) {
    if (!has(key)) c.required(at("data", key));
  }
  if (type === "kubernetes.io/basic-auth" && !has("username") && !has("password")) {
    c.required(at("data", "username"));
    c.required(at("data", "password"));
  }
  if (type === "kubernetes.io/service-account-token") {
    const meta = isObj(secret.metadata) ? secret.metadata : {};
    const annotations = isObj(meta.annotations) ? meta.annotations : {};
    if (!annotations["kubernetes.io/service-account.name"]) {
      c.required("metadata.annotations[kubernetes.io/service-account.name]");
    }
  }
  const jsonKey = { "kubernetes.io/dockerconfigjson": ".dockerconfigjson", "kubernetes.io/dockercfg": ".dockercfg" }[
    type
  ];
  const encoded = jsonKey ? data[jsonKey] : undefined;
  if (jsonKey && typeof encoded === "string" && !base64Error(encoded)) {
    try {
      JSON.parse(decodeBase64(encoded));
    } catch (e) {
      c.invalid(at("data", jsonKey), REDACTED, (e as Error).message);
    }
  }
  if (isObj(old) && (old.type ?? "Opaque") !== type) c.invalid("type", type, "field is immutable");
  checkImmutable(c, secret, old, ["data"]);
  return c.errors;
}

/** Checks a Namespace: finalizer names and phase. */
export function validateNamespace(obj: unknown): FieldError[] {
  const c = new Check();
  const ns = c.root(obj);
  if (!ns) return c.errors;
  const spec = c.obj(ns.spec, "spec");
  c.finalizers(spec?.finalizers, "spec.finalizers");
  const status = c.obj(ns.status, "status");
  c.oneOf(status?.phase, "status.phase", ["Active", "Terminating"]);
  return c.errors;
}

/**
 * Checks a Node: pod CIDRs, taints (unique by key and effect), status
 * quantities, addresses and conditions; on update, podCIDR and providerID
 * may only go from empty to set.
 */
export function validateNode(obj: unknown, old?: unknown): FieldError[] {
  const c = new Check();
  const node = c.root(obj);
  if (!node) return c.errors;
  const spec = c.obj(node.spec, "spec") ?? {};
  const podCIDR = c.str(spec.podCIDR, "spec.podCIDR");
  if (podCIDR && !isCIDR(podCIDR)) c.invalid("spec.podCIDR", podCIDR, CIDR_MESSAGE);
  const cidrs = c.strList(spec.podCIDRs, "spec.podCIDRs") ?? [];
  cidrs.forEach((cidr, i) => {
    if (!isCIDR(cidr)) c.invalid(at("spec.podCIDRs", i), cidr, CIDR_MESSAGE);
  });
  if (cidrs.length > 2) c.invalid("spec.podCIDRs", cidrs, "may specify no more than one CIDR for each IP family");
  if (podCIDR && cidrs.length > 0 && cidrs[0] !== podCIDR) {
    c.invalid(at("spec.podCIDRs", 0), cidrs[0], "must match spec.podCIDR");
  }
  c.bool(spec.unschedulable, "spec.unschedulable");
  c.str(spec.providerID, "spec.providerID");
  const seen = new Set<string>();
  for (const [taint, p] of c.objects(spec.taints, "spec.taints")) {
    const key = c.str(taint.key, child(p, "key")) ?? "";
    c.name(key, child(p, "key"), qualifiedNameErrors);
    const value = c.str(taint.value, child(p, "value")) ?? "";
    c.name(value, child(p, "value"), labelValueErrors);
    if (taint.effect == null || taint.effect === "") c.required(child(p, "effect"));
    const effect = c.oneOf(taint.effect, child(p, "effect"), TAINT_EFFECTS);
    c.str(taint.timeAdded, child(p, "timeAdded"));
    if (effect) {
      if (seen.has(`${key}:${effect}`)) c.duplicate(p, taint, "taints must be unique by key and effect pair");
      seen.add(`${key}:${effect}`);
    }
  }
  const status = c.obj(node.status, "status");
  if (status) {
    for (const field of ["capacity", "allocatable"]) {
      for (const [name, q] of Object.entries(c.obj(status[field], child("status", field)) ?? {})) {
        const p = at(child("status", field), name);
        if (!c.name(name, p, qualifiedNameErrors)) continue;
        const quantity = c.quantity(q, p);
        if (quantity && quantity.sign() < 0) c.invalid(p, quantity.toString(), "must be greater than or equal to 0");
      }
    }
    c.conditions(status.conditions, "status.conditions");
    for (const [address, p] of c.objects(status.addresses, "status.addresses")) {
      c.oneOf(address.type, child(p, "type"), ["ExternalDNS", "ExternalIP", "Hostname", "InternalDNS", "InternalIP"]);
      c.requiredStr(address.address, child(p, "address"));
    }
    const info = c.obj(status.nodeInfo, "status.nodeInfo");
    for (const [field, v] of Object.entries(info ?? {})) c.str(v, child("status.nodeInfo", field));
    c.objects(status.images, "status.images");
  }
  if (isObj(old)) {
    const before = isObj(old.spec) ? old.spec : {};
    if (before.podCIDR && before.podCIDR !== spec.podCIDR) {
      c.forbidden("spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid');
    }
    if (before.providerID && before.providerID !== spec.providerID) {
      c.forbidden("spec.providerID", 'node updates may not change providerID except from "" to valid');
    }
  }
  return c.errors;
}

const EVENT_INVOLVED_FIELDS = ["apiVersion", "kind", "namespace", "name", "uid", "resourceVersion", "fieldPath"];

/** Checks a core/v1 Event: involvedObject in the event's namespace, type Normal or Warning, count. */
export function validateEvent(obj: unknown): FieldError[] {
  const c = new Check();
  const event = c.root(obj);
  if (!event) return c.errors;
  const involved = c.obj(event.involvedObject, "involvedObject");
  if (event.involvedObject == null) c.required("involvedObject");
  for (const f of EVENT_INVOLVED_FIELDS) c.str(involved?.[f], child("involvedObject", f));
  const meta = isObj(event.metadata) ? event.metadata : {};
  const ns = involved?.namespace;
  if (typeof ns === "string" && ns !== "" && ns !== meta.namespace) {
    c.invalid("involvedObject.namespace", ns, "does not match event.namespace");
  }
  c.oneOf(event.type, "type", ["Normal", "Warning"]);
  c.int(event.count, "count", { min: 0 });
  for (
    const f of ["reason", "message", "action", "reportingInstance", "firstTimestamp", "lastTimestamp", "eventTime"]
  ) {
    c.str(event[f], f);
  }
  const reason = typeof event.reason === "string" ? event.reason : "";
  if (reason.length > 128) c.invalid("reason", reason, "can have at most 128 characters");
  const component = c.str(event.reportingComponent, "reportingComponent");
  if (component) c.name(component, "reportingComponent", qualifiedNameErrors);
  const source = c.obj(event.source, "source");
  c.str(source?.component, "source.component");
  c.str(source?.host, "source.host");
  return c.errors;
}

/** Checks a Binding: the target must name a node. */
export function validateBinding(obj: unknown): FieldError[] {
  const c = new Check();
  const binding = c.root(obj);
  if (!binding) return c.errors;
  const target = c.obj(binding.target, "target");
  if (binding.target == null) c.required("target");
  if (!target) return c.errors;
  c.requiredStr(target.name, "target.name");
  const kind = c.str(target.kind, "target.kind");
  if (kind && kind !== "Node") c.invalid("target.kind", kind, "must be empty or 'Node'");
  return c.errors;
}

/** Checks an Eviction's delete options. */
export function validateEviction(obj: unknown): FieldError[] {
  const c = new Check();
  const eviction = c.root(obj);
  if (!eviction) return c.errors;
  const options = c.obj(eviction.deleteOptions, "deleteOptions");
  if (!options) return c.errors;
  c.int(options.gracePeriodSeconds, "deleteOptions.gracePeriodSeconds", { int64: true, min: 0 });
  c.oneOf(options.propagationPolicy, "deleteOptions.propagationPolicy", ["Background", "Foreground", "Orphan"]);
  for (const v of c.strList(options.dryRun, "deleteOptions.dryRun") ?? []) {
    if (v !== "All") c.notSupported("deleteOptions.dryRun", v, ["All"]);
  }
  const pre = c.obj(options.preconditions, "deleteOptions.preconditions");
  c.str(pre?.uid, "deleteOptions.preconditions.uid");
  c.str(pre?.resourceVersion, "deleteOptions.preconditions.resourceVersion");
  return c.errors;
}

const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** Checks a Lease: positive duration, non-negative transitions, RFC 3339 times. */
export function validateLease(obj: unknown): FieldError[] {
  const c = new Check();
  const lease = c.root(obj);
  if (!lease) return c.errors;
  const spec = c.obj(lease.spec, "spec");
  if (!spec) return c.errors;
  c.str(spec.holderIdentity, "spec.holderIdentity");
  c.int(spec.leaseDurationSeconds, "spec.leaseDurationSeconds", { min: 1, message: "must be greater than 0" });
  c.int(spec.leaseTransitions, "spec.leaseTransitions", { min: 0 });
  for (const field of ["acquireTime", "renewTime"]) {
    const t = c.str(spec[field], child("spec", field));
    if (t && !MICRO_TIME.test(t)) c.invalid(child("spec", field), t, "must be an RFC 3339 time");
  }
  c.str(spec.strategy, "spec.strategy");
  c.str(spec.preferredHolder, "spec.preferredHolder");
  return c.errors;
}
