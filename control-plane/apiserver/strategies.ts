/**
 * Storage rules that differ by kind, as Kubernetes' registry strategies:
 * what a create resets, how long a delete takes, which fields a field
 * selector may name.
 *
 * @module
 */

import type { KubeObject } from "@skiff/api";
import type { Strategy } from "./served_type.ts";

type Obj = Record<string, unknown>;

function field(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split(".")) {
    if (typeof cur !== "object" || cur === null) return undefined;
    cur = (cur as Obj)[part];
  }
  return cur;
}

function text(obj: unknown, path: string): string | undefined {
  const value = field(obj, path);
  if (value === undefined || value === null) return "";
  return typeof value === "object" ? undefined : String(value);
}

function labels(...paths: string[]): Record<string, (obj: KubeObject) => string | undefined> {
  return Object.fromEntries(paths.map((p) => [p, (obj: KubeObject) => text(obj, p)]));
}

function spec(obj: KubeObject): Obj {
  if (typeof obj.spec !== "object" || obj.spec === null || Array.isArray(obj.spec)) obj.spec = {};
  return obj.spec as Obj;
}

function status(obj: KubeObject): Obj {
  if (typeof obj.status !== "object" || obj.status === null || Array.isArray(obj.status)) obj.status = {};
  return obj.status as Obj;
}

const TERMINAL_PHASES = new Set(["Succeeded", "Failed"]);

const pod: Strategy = {
  prepareForCreate(obj) {
    obj.status = { phase: "Pending" };
  },
  gracePeriod(obj, requested) {
    const nodeName = field(obj, "spec.nodeName");
    if (!nodeName || TERMINAL_PHASES.has(String(field(obj, "status.phase")))) return 0;
    if (requested !== undefined) return Math.max(0, requested);
    const configured = field(obj, "spec.terminationGracePeriodSeconds");
    return typeof configured === "number" && configured >= 0 ? configured : 30;
  },
  fieldLabels: labels(
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
  ),
};

const namespace: Strategy = {
  prepareForCreate(obj) {
    obj.spec = { finalizers: ["kubernetes"] };
    obj.status = { phase: "Active" };
  },
  prepareForUpdate(obj, old, subresource) {
    if (subresource === "finalize") {
      const finalizers = spec(obj).finalizers;
      const kept = structuredClone(old);
      for (const key of Object.keys(obj)) delete obj[key];
      Object.assign(obj, kept);
      spec(obj).finalizers = finalizers;
      return;
    }
    obj.spec = structuredClone(old.spec ?? {});
    if (subresource !== "status") obj.status = structuredClone(old.status ?? {});
  },
  prepareForDelete(obj) {
    status(obj).phase = "Terminating";
  },
  deletionBlocked(obj) {
    const finalizers = field(obj, "spec.finalizers");
    return Array.isArray(finalizers) && finalizers.length > 0;
  },
  fieldLabels: labels("status.phase"),
};

const event: Strategy = {
  ttlSeconds: 3600,
  fieldLabels: labels(
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
  ),
};

const EXTERNAL_TYPES = new Set(["NodePort", "LoadBalancer"]);

/**
 * Services: a type change away from NodePort/LoadBalancer drops the fields
 * only those types may have (node ports, externalTrafficPolicy, health
 * check port) when the user left them as they were, as Kubernetes does.
 */
const service: Strategy = {
  prepareForCreate(obj) {
    delete obj.status;
  },
  prepareForUpdate(obj, old, subresource) {
    if (subresource === "status") return;
    const spec = (obj.spec ?? {}) as Obj;
    const before = (old.spec ?? {}) as Obj;
    if (EXTERNAL_TYPES.has(String(before.type)) && !EXTERNAL_TYPES.has(String(spec.type ?? "ClusterIP"))) {
      if (spec.externalTrafficPolicy === before.externalTrafficPolicy) delete spec.externalTrafficPolicy;
      if (spec.healthCheckNodePort === before.healthCheckNodePort) delete spec.healthCheckNodePort;
      const oldPorts = (Array.isArray(before.ports) ? before.ports : []) as Obj[];
      for (const port of (Array.isArray(spec.ports) ? spec.ports : []) as Obj[]) {
        if (oldPorts.some((p) => p.nodePort === port.nodePort)) delete port.nodePort;
      }
    }
  },
};

const resetStatus: Strategy = {
  prepareForCreate(obj) {
    delete obj.status;
  },
};

/** The strategy of a kind; types with a status subresource reset status on create. */
export function strategyFor(kind: string, hasStatus: boolean): Strategy {
  switch (kind) {
    case "Pod":
      return pod;
    case "Namespace":
      return namespace;
    case "Event":
      return event;
    case "Service":
      return service;
    case "Secret":
      return { fieldLabels: labels("type") };
    case "Node":
      return { fieldLabels: labels("spec.unschedulable") };
    case "ReplicaSet":
      return { ...resetStatus, fieldLabels: labels("status.replicas") };
    default:
      return hasStatus ? resetStatus : {};
  }
}
