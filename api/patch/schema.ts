/**
 * Patch strategy metadata of the built-in Kubernetes kinds Skiff serves:
 * which lists merge by which key, which are sets of scalars, which objects
 * are replaced or retain only the keys a patch names. It is what Kubernetes
 * keeps in its Go struct tags (`patchStrategy`, `patchMergeKey`) and in its
 * OpenAPI list markers (`+listType`, `+listMapKey`, `+structType`), copied
 * from `k8s.io/api` as kubectl 1.32 carries them.
 *
 * Only fields that differ from the defaults are listed. The defaults are:
 * objects merge key by key; a list with no strategy is replaced whole by a
 * strategic merge patch and is atomic for server-side apply; a field not in
 * the schema gets the defaults.
 *
 * Kinds not listed here (custom resources) have no schema: strategic merge
 * falls back to JSON merge patch semantics, and server-side apply treats
 * every list as atomic, as Kubernetes does for a custom resource without list
 * markers.
 *
 * @module
 */

/** Patch metadata of one field, and of the fields below it. */
export interface PatchSchema {
  /**
   * The `patchStrategy` struct tag: `merge` merges a list (by
   * {@linkcode PatchSchema.patchMergeKey} for objects, as a set for scalars),
   * `replace` replaces an object whole, `retainKeys` makes an object keep only
   * the keys a patch's `$retainKeys` directive names.
   */
  readonly patchStrategy?:
    | "merge"
    | "replace"
    | "retainKeys"
    | "merge,retainKeys";
  /** The `patchMergeKey` struct tag: the field identifying a list item. */
  readonly patchMergeKey?: string;
  /**
   * The `+listType` marker used by server-side apply. When absent it follows
   * the patch strategy: `map` for a merge list with a key, `set` for a merge
   * list of scalars, `atomic` otherwise.
   */
  readonly listType?: "atomic" | "set" | "map";
  /** The `+listMapKey` markers; default: the patch merge key alone. */
  readonly listMapKeys?: readonly string[];
  /** Values the server defaults for absent list map keys (ports' `protocol`). */
  readonly listMapKeyDefaults?: Readonly<Record<string, string | number>>;
  /** `+structType=atomic` or `+mapType=atomic`: applied and owned as a whole. */
  readonly atomic?: boolean;
  /**
   * The fields of this object, or of each item when this is a list. A list
   * field is recognised by its patch strategy, merge key or list type, so a
   * list of objects with neither strategy nor key says `listType: "atomic"`.
   */
  readonly fields?: Readonly<Record<string, PatchSchema>>;
}

/** The schema of `key` below `schema`, if the schema lists it. */
export function fieldSchema(
  schema: PatchSchema | undefined,
  key: string,
): PatchSchema | undefined {
  const fields = schema?.fields;
  return fields && Object.hasOwn(fields, key) ? fields[key] : undefined;
}

/** True when a strategic merge patch merges this list instead of replacing it. */
export function mergesList(schema: PatchSchema | undefined): boolean {
  return schema?.patchStrategy === "merge" ||
    schema?.patchStrategy === "merge,retainKeys";
}

/** True when this field's patch strategy includes `retainKeys`. */
export function retainsKeys(schema: PatchSchema | undefined): boolean {
  return schema?.patchStrategy === "retainKeys" ||
    schema?.patchStrategy === "merge,retainKeys";
}

/** The server-side apply list type of a list field. */
export function listTypeOf(
  schema: PatchSchema | undefined,
): "atomic" | "set" | "map" {
  if (schema?.listType) return schema.listType;
  if (!mergesList(schema)) return "atomic";
  return schema?.patchMergeKey ? "map" : "set";
}

/** The keys identifying an item of a `map` list. */
export function listMapKeysOf(
  schema: PatchSchema | undefined,
): readonly string[] {
  if (schema?.listMapKeys) return schema.listMapKeys;
  return schema?.patchMergeKey ? [schema.patchMergeKey] : [];
}

function mergeBy(key: string, more: PatchSchema = {}): PatchSchema {
  return { patchStrategy: "merge", patchMergeKey: key, ...more };
}

const conditions = mergeBy("type");

const objectMeta: PatchSchema = {
  fields: {
    ownerReferences: mergeBy("uid"),
    finalizers: { patchStrategy: "merge" },
  },
};

const labelSelector: PatchSchema = { atomic: true };

const containerFields: Record<string, PatchSchema> = {
  ports: mergeBy("containerPort", {
    listMapKeys: ["containerPort", "protocol"],
    listMapKeyDefaults: { protocol: "TCP" },
  }),
  env: mergeBy("name"),
  volumeMounts: mergeBy("mountPath"),
  volumeDevices: mergeBy("devicePath"),
  resources: {
    fields: { claims: { listType: "map", listMapKeys: ["name"] } },
  },
};

const podSpec: PatchSchema = {
  fields: {
    volumes: mergeBy("name", { patchStrategy: "merge,retainKeys" }),
    initContainers: mergeBy("name", { fields: containerFields }),
    containers: mergeBy("name", { fields: containerFields }),
    ephemeralContainers: mergeBy("name", { fields: containerFields }),
    imagePullSecrets: mergeBy("name"),
    hostAliases: mergeBy("ip"),
    topologySpreadConstraints: mergeBy("topologyKey", {
      listMapKeys: ["topologyKey", "whenUnsatisfiable"],
    }),
    schedulingGates: mergeBy("name"),
    resourceClaims: mergeBy("name", { patchStrategy: "merge,retainKeys" }),
    nodeSelector: { atomic: true },
  },
};

const podStatus: PatchSchema = {
  fields: {
    conditions,
    podIPs: mergeBy("ip", { listType: "atomic" }),
    hostIPs: mergeBy("ip", { listType: "atomic" }),
    resourceClaimStatuses: mergeBy("name", {
      patchStrategy: "merge,retainKeys",
    }),
  },
};

const podTemplateSpec: PatchSchema = {
  fields: { metadata: objectMeta, spec: podSpec },
};

const conditionsStatus: PatchSchema = { fields: { conditions } };

/** A workload whose spec has a label selector and a pod template. */
function workload(spec: Record<string, PatchSchema> = {}): PatchSchema {
  return kind({
    spec: {
      fields: { selector: labelSelector, template: podTemplateSpec, ...spec },
    },
    status: conditionsStatus,
  });
}

function kind(fields: Record<string, PatchSchema> = {}): PatchSchema {
  return { fields: { metadata: objectMeta, ...fields } };
}

const jobSpec: PatchSchema = {
  fields: { selector: labelSelector, template: podTemplateSpec },
};

const schemas: Record<string, PatchSchema> = {
  Pod: kind({ spec: podSpec, status: podStatus }),
  PodTemplate: kind({ template: podTemplateSpec }),
  ReplicationController: kind({
    spec: {
      fields: { selector: { atomic: true }, template: podTemplateSpec },
    },
    status: conditionsStatus,
  }),
  Deployment: workload({ strategy: { patchStrategy: "retainKeys" } }),
  ReplicaSet: workload(),
  DaemonSet: workload(),
  StatefulSet: workload(),
  Job: kind({
    spec: jobSpec,
    status: {
      fields: { conditions: mergeBy("type", { listType: "atomic" }) },
    },
  }),
  CronJob: kind({
    spec: {
      fields: {
        jobTemplate: { fields: { metadata: objectMeta, spec: jobSpec } },
      },
    },
  }),
  Service: kind({
    spec: {
      fields: {
        ports: mergeBy("port", {
          listMapKeys: ["port", "protocol"],
          listMapKeyDefaults: { protocol: "TCP" },
        }),
        selector: { atomic: true },
      },
    },
    status: conditionsStatus,
  }),
  Node: kind({
    spec: { fields: { podCIDRs: { patchStrategy: "merge" } } },
    status: {
      fields: {
        conditions,
        addresses: mergeBy("type", { listType: "atomic" }),
      },
    },
  }),
  Namespace: kind({ status: conditionsStatus }),
  PersistentVolumeClaim: kind({
    spec: { fields: { selector: labelSelector } },
    status: conditionsStatus,
  }),
  ServiceAccount: kind({ secrets: mergeBy("name") }),
  PodDisruptionBudget: kind({
    spec: {
      fields: { selector: { patchStrategy: "replace", atomic: true } },
    },
    status: conditionsStatus,
  }),
  HorizontalPodAutoscaler: kind({ status: conditionsStatus }),
  CSINode: kind({ spec: { fields: { drivers: mergeBy("name") } } }),
  Endpoints: kind(),
  EndpointSlice: kind(),
  ConfigMap: kind(),
  Secret: kind(),
  Event: kind(),
  Lease: kind(),
  PersistentVolume: kind(),
  StorageClass: kind(),
  CSIDriver: kind(),
  Ingress: kind(),
  IngressClass: kind(),
  NetworkPolicy: kind(),
  PriorityClass: kind(),
  ResourceQuota: kind(),
  LimitRange: kind(),
  Role: kind(),
  ClusterRole: kind(),
  RoleBinding: kind(),
  ClusterRoleBinding: kind(),
};

function deepFreeze(schema: PatchSchema): PatchSchema {
  for (const value of Object.values(schema)) {
    if (typeof value === "object" && value !== null) deepFreeze(value);
  }
  return Object.freeze(schema);
}

/**
 * The patch schema of every built-in kind, by kind name. Frozen: share it
 * freely.
 */
export const BUILTIN_PATCH_SCHEMAS: ReadonlyMap<string, PatchSchema> = new Map(
  Object.entries(schemas).map(([name, schema]) => [name, deepFreeze(schema)]),
);

/**
 * The patch schema of a built-in kind, or undefined for a kind Skiff does not
 * know (a custom resource).
 *
 * @example
 * ```ts
 * const schema = patchSchemaFor("Deployment");
 * ```
 */
export function patchSchemaFor(kind: string): PatchSchema | undefined {
  return BUILTIN_PATCH_SCHEMAS.get(kind);
}
