/**
 * The table of resource types the API serves, and the lookup that resolves
 * what users type the way kubectl does: `po`, `pods`, `pod`, `Pod`,
 * `deployments.apps`, `deploy.apps`, `deployment.v1.apps`.
 *
 * Each entry carries the hooks the API server runs on writes:
 * `defaults(obj)` then `validate(obj, old?)`.
 *
 * @example
 * ```ts
 * import { resolveResource } from "./registry.ts";
 * const deploy = resolveResource("deploy");
 * deploy.plural; // "deployments"
 * deploy.defaults(obj);
 * const errors = deploy.validate(obj);
 * ```
 *
 * @module
 */

import { Check, isObj } from "./_validation.ts";
import {
  defaultDaemonSet,
  defaultDeployment,
  defaultEndpoints,
  defaultEndpointSlice,
  defaultNamespace,
  defaultNode,
  defaultPersistentVolume,
  defaultPersistentVolumeClaim,
  defaultPod,
  defaultReplicaSet,
  defaultSecret,
  defaultService,
  defaultStatefulSet,
  defaultStorageClass,
} from "./defaults.ts";
import { type FieldError, NotFoundError } from "./errors.ts";
import { dns1035LabelErrors, dns1123LabelErrors } from "./names.ts";
import {
  validateDaemonSet,
  validateDeployment,
  validateReplicaSet,
  validateScale,
  validateStatefulSet,
} from "./validate_apps.ts";
import {
  validateBinding,
  validateConfigMap,
  validateEvent,
  validateEviction,
  validateLease,
  validateNamespace,
  validateNode,
  validateSecret,
} from "./validate_core.ts";
import { type NameRule, validateObjectMeta, validateObjectMetaUpdate } from "./validate_meta.ts";
import { validateEndpoints, validateEndpointSlice, validateService } from "./validate_network.ts";
import { validatePod } from "./validate_pod.ts";
import { validatePersistentVolume, validatePersistentVolumeClaim, validateStorageClass } from "./validate_storage.ts";

/** API verbs, as listed in discovery. */
export type Verb = "create" | "delete" | "deletecollection" | "get" | "list" | "patch" | "update" | "watch";

/** Subresources Skiff serves. */
export type SubresourceName = "status" | "scale" | "binding" | "log" | "exec" | "eviction" | "certificate";

/** Checks an object (and, on update, the object it replaces). */
export type Validator = (obj: unknown, old?: unknown) => FieldError[];

/** A subresource of a resource type, e.g. `pods/binding`. */
export interface Subresource {
  /** `status`, `scale`, `binding`, `log`, `exec`, `eviction` or `certificate`. */
  readonly name: SubresourceName;
  /** API group of the body it takes or returns. */
  readonly group: string;
  /** API version of that body. */
  readonly version: string;
  /** Kind of that body: the parent's kind, `Scale`, `Binding`, `Eviction`, `PodExecOptions`. */
  readonly kind: string;
  /** Verbs it supports. */
  readonly verbs: readonly Verb[];
  /** Checks a body of its own kind (binding, eviction, scale); absent when the body is the parent object. */
  readonly validate?: Validator;
}

/** One resource type the API serves. */
export interface ResourceType {
  /** API group; `""` for core. */
  readonly group: string;
  /** API version, e.g. `v1`. */
  readonly version: string;
  /** `v1` for core, otherwise `group/version`. */
  readonly apiVersion: string;
  /** Kind, e.g. `Deployment`. */
  readonly kind: string;
  /** Kind of its lists, e.g. `DeploymentList`. */
  readonly listKind: string;
  /** Plural resource name used in URLs, e.g. `deployments`. */
  readonly plural: string;
  /** Singular name, e.g. `deployment`. */
  readonly singular: string;
  /** kubectl short names, e.g. `deploy`. */
  readonly shortNames: readonly string[];
  /** Whether objects live in a namespace. */
  readonly namespaced: boolean;
  /** Subresources served. */
  readonly subresources: readonly Subresource[];
  /** Verbs served on the resource itself. */
  readonly verbs: readonly Verb[];
  /** Categories, e.g. `all` for `kubectl get all`. */
  readonly categories: readonly string[];
  /** Whether the server bumps `metadata.generation` when the spec changes. */
  readonly tracksGeneration: boolean;
  /** Fills defaults in place, as the Kubernetes API server does; never throws. */
  defaults(obj: unknown): void;
  /** Checks metadata and content; with `old`, also the update rules. Never throws. */
  validate(obj: unknown, old?: unknown): FieldError[];
}

const ALL_VERBS: readonly Verb[] = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
const READ_VERBS: readonly Verb[] = ["get", "list"];
const SUB_VERBS: readonly Verb[] = ["get", "patch", "update"];

interface Definition {
  group: string;
  version: string;
  kind: string;
  plural: string;
  shortNames?: string[];
  namespaced: boolean;
  subresources?: SubresourceName[];
  verbs?: readonly Verb[];
  categories?: string[];
  tracksGeneration?: boolean;
  nameRule?: NameRule;
  defaults?: (obj: unknown) => void;
  validate?: Validator;
}

const withMeta = (validate: Validator): Validator => (obj, old) => {
  const errors = validate(obj, old);
  const meta = isObj(obj) ? obj.metadata : undefined;
  return [...validateObjectMeta(meta, { namespaced: true }), ...errors];
};

function subresource(name: SubresourceName, parent: Definition): Subresource {
  switch (name) {
    case "status":
      return { name, group: parent.group, version: parent.version, kind: parent.kind, verbs: SUB_VERBS };
    case "scale":
      return { name, group: "autoscaling", version: "v1", kind: "Scale", verbs: SUB_VERBS, validate: validateScale };
    case "binding":
      return {
        name,
        group: "",
        version: "v1",
        kind: "Binding",
        verbs: ["create"],
        validate: withMeta(validateBinding),
      };
    case "eviction":
      return {
        name,
        group: "policy",
        version: "v1",
        kind: "Eviction",
        verbs: ["create"],
        validate: withMeta(validateEviction),
      };
    case "log":
      return { name, group: "", version: "v1", kind: "Pod", verbs: ["get"] };
    case "exec":
      return { name, group: "", version: "v1", kind: "PodExecOptions", verbs: ["create", "get"] };
    case "certificate":
      // A node's serving certificate for its logs and exec endpoint: POST a PKCS#10 request, get a signed certificate.
      return { name, group: "", version: "v1", kind: "NodeCertificate", verbs: ["create"] };
  }
}

function define(def: Definition): ResourceType {
  const body = def.validate ?? (() => []);
  const meta = { namespaced: def.namespaced, ...(def.nameRule ? { nameRule: def.nameRule } : {}) };
  return {
    group: def.group,
    version: def.version,
    apiVersion: def.group === "" ? def.version : `${def.group}/${def.version}`,
    kind: def.kind,
    listKind: `${def.kind}List`,
    plural: def.plural,
    singular: def.kind.toLowerCase(),
    shortNames: def.shortNames ?? [],
    namespaced: def.namespaced,
    subresources: (def.subresources ?? []).map((name) => subresource(name, def)),
    verbs: def.verbs ?? ALL_VERBS,
    categories: def.categories ?? [],
    tracksGeneration: def.tracksGeneration ?? false,
    defaults: def.defaults ?? (() => {}),
    validate(obj: unknown, old?: unknown): FieldError[] {
      if (!isObj(obj)) {
        const c = new Check();
        c.wrongType("", obj, "an object");
        return c.errors;
      }
      const errors = validateObjectMeta(obj.metadata, meta);
      if (isObj(old)) errors.push(...validateObjectMetaUpdate(obj.metadata, old.metadata));
      errors.push(...body(obj, isObj(old) ? old : undefined));
      return errors;
    },
  };
}

const core = { group: "", version: "v1" };
const apps = { group: "apps", version: "v1" };

/**
 * Every resource type served, in discovery order. When a name matches
 * several types (`nodes` in core and metrics.k8s.io), the first wins, as
 * with kubectl's group priority.
 */
export const RESOURCE_TYPES: readonly ResourceType[] = [
  define({
    ...core,
    kind: "Namespace",
    plural: "namespaces",
    shortNames: ["ns"],
    namespaced: false,
    subresources: ["status"],
    nameRule: dns1123LabelErrors,
    defaults: defaultNamespace,
    validate: validateNamespace,
  }),
  define({
    ...core,
    kind: "Node",
    plural: "nodes",
    shortNames: ["no"],
    namespaced: false,
    subresources: ["status", "certificate"],
    defaults: defaultNode,
    validate: validateNode,
  }),
  define({
    ...core,
    kind: "Pod",
    plural: "pods",
    shortNames: ["po"],
    namespaced: true,
    subresources: ["status", "binding", "log", "exec", "eviction"],
    categories: ["all"],
    tracksGeneration: true,
    defaults: defaultPod,
    validate: validatePod,
  }),
  define({
    ...core,
    kind: "Binding",
    plural: "bindings",
    namespaced: true,
    verbs: ["create"],
    validate: validateBinding,
  }),
  define({
    ...core,
    kind: "Service",
    plural: "services",
    shortNames: ["svc"],
    namespaced: true,
    subresources: ["status"],
    categories: ["all"],
    tracksGeneration: true,
    nameRule: dns1035LabelErrors,
    defaults: defaultService,
    validate: validateService,
  }),
  define({
    ...core,
    kind: "Endpoints",
    plural: "endpoints",
    shortNames: ["ep"],
    namespaced: true,
    defaults: defaultEndpoints,
    validate: validateEndpoints,
  }),
  define({
    ...core,
    kind: "ConfigMap",
    plural: "configmaps",
    shortNames: ["cm"],
    namespaced: true,
    validate: validateConfigMap,
  }),
  define({
    ...core,
    kind: "Secret",
    plural: "secrets",
    namespaced: true,
    defaults: defaultSecret,
    validate: validateSecret,
  }),
  define({ ...core, kind: "Event", plural: "events", shortNames: ["ev"], namespaced: true, validate: validateEvent }),
  define({
    ...core,
    kind: "PersistentVolume",
    plural: "persistentvolumes",
    shortNames: ["pv"],
    namespaced: false,
    subresources: ["status"],
    tracksGeneration: true,
    defaults: defaultPersistentVolume,
    validate: validatePersistentVolume,
  }),
  define({
    ...core,
    kind: "PersistentVolumeClaim",
    plural: "persistentvolumeclaims",
    shortNames: ["pvc"],
    namespaced: true,
    subresources: ["status"],
    tracksGeneration: true,
    defaults: defaultPersistentVolumeClaim,
    validate: validatePersistentVolumeClaim,
  }),
  define({
    ...apps,
    kind: "Deployment",
    plural: "deployments",
    shortNames: ["deploy"],
    namespaced: true,
    subresources: ["status", "scale"],
    categories: ["all"],
    tracksGeneration: true,
    defaults: defaultDeployment,
    validate: validateDeployment,
  }),
  define({
    ...apps,
    kind: "ReplicaSet",
    plural: "replicasets",
    shortNames: ["rs"],
    namespaced: true,
    subresources: ["status", "scale"],
    categories: ["all"],
    tracksGeneration: true,
    defaults: defaultReplicaSet,
    validate: validateReplicaSet,
  }),
  define({
    ...apps,
    kind: "DaemonSet",
    plural: "daemonsets",
    shortNames: ["ds"],
    namespaced: true,
    subresources: ["status"],
    categories: ["all"],
    tracksGeneration: true,
    defaults: defaultDaemonSet,
    validate: validateDaemonSet,
  }),
  define({
    ...apps,
    kind: "StatefulSet",
    plural: "statefulsets",
    shortNames: ["sts"],
    namespaced: true,
    subresources: ["status", "scale"],
    categories: ["all"],
    tracksGeneration: true,
    defaults: defaultStatefulSet,
    validate: validateStatefulSet,
  }),
  define({
    group: "coordination.k8s.io",
    version: "v1",
    kind: "Lease",
    plural: "leases",
    namespaced: true,
    validate: validateLease,
  }),
  define({
    group: "storage.k8s.io",
    version: "v1",
    kind: "StorageClass",
    plural: "storageclasses",
    shortNames: ["sc"],
    namespaced: false,
    defaults: defaultStorageClass,
    validate: validateStorageClass,
  }),
  define({
    group: "discovery.k8s.io",
    version: "v1",
    kind: "EndpointSlice",
    plural: "endpointslices",
    namespaced: true,
    defaults: defaultEndpointSlice,
    validate: validateEndpointSlice,
  }),
  define({
    group: "authorization.k8s.io",
    version: "v1",
    kind: "SelfSubjectAccessReview",
    plural: "selfsubjectaccessreviews",
    namespaced: false,
    verbs: ["create"],
  }),
  define({
    group: "authorization.k8s.io",
    version: "v1",
    kind: "SelfSubjectRulesReview",
    plural: "selfsubjectrulesreviews",
    namespaced: false,
    verbs: ["create"],
  }),
  define({
    group: "metrics.k8s.io",
    version: "v1beta1",
    kind: "NodeMetrics",
    plural: "nodes",
    namespaced: false,
    verbs: READ_VERBS,
  }),
  define({
    group: "metrics.k8s.io",
    version: "v1beta1",
    kind: "PodMetrics",
    plural: "pods",
    namespaced: true,
    verbs: READ_VERBS,
  }),
];

function matches(type: ResourceType, name: string): boolean {
  return name === type.plural || name === type.singular || type.shortNames.includes(name) ||
    name === type.kind.toLowerCase();
}

function first(name: string, filter: (t: ResourceType) => boolean): ResourceType | undefined {
  return RESOURCE_TYPES.find((t) => filter(t) && matches(t, name));
}

/**
 * Finds the resource type a user means, like kubectl: plural, singular,
 * short name or kind (any case), optionally qualified by group
 * (`deploy.apps`) or by version and group (`deployments.v1.apps`).
 */
export function findResource(name: string): ResourceType | undefined {
  if (typeof name !== "string") return undefined;
  const text = name.trim().toLowerCase();
  if (text === "") return undefined;
  const direct = first(text, () => true);
  if (direct) return direct;
  const parts = text.split(".");
  const resource = parts[0] as string;
  if (parts.length >= 3) {
    const version = parts[1];
    const group = parts.slice(2).join(".");
    const found = first(resource, (t) => t.group === group && t.version === version);
    if (found) return found;
  }
  if (parts.length >= 2) {
    const group = parts.slice(1).join(".");
    return first(resource, (t) => t.group === group);
  }
  return undefined;
}

/**
 * Like {@linkcode findResource}, but throws when nothing matches.
 *
 * @throws {NotFoundError} naming what was typed
 */
export function resolveResource(name: string): ResourceType {
  const found = findResource(name);
  if (!found) {
    throw new NotFoundError(`The server doesn't have a resource type ${JSON.stringify(String(name))}`);
  }
  return found;
}

/** The resource type served at `/apis/<group>/<version>/<plural>` (or `/api/v1/<plural>` for group `""`). */
export function resourceFor(group: string, version: string, plural: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((t) => t.group === group && t.version === version && t.plural === plural);
}

/** The resource type of objects with this `apiVersion` and `kind` (as in a manifest). */
export function resourceForKind(apiVersion: string, kind: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((t) => t.apiVersion === apiVersion && t.kind === kind);
}
