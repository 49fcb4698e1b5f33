/**
 * Object metadata shared by every Kubernetes-shaped resource, with the
 * Kubernetes field names, so JSON from kubectl and client libraries maps onto
 * these types unchanged.
 *
 * @module
 */

/** `apiVersion` and `kind`, present on every object on the wire. */
export interface TypeMeta {
  /** `v1` for the core group, otherwise `group/version`. */
  apiVersion?: string;
  /** The object's kind, e.g. `Pod`. */
  kind?: string;
}

/** A reference from a dependent object to its owner (garbage collection). */
export interface OwnerReference {
  /** The owner's apiVersion. */
  apiVersion: string;
  /** The owner's kind. */
  kind: string;
  /** The owner's name. */
  name: string;
  /** The owner's uid: a reference to a recreated owner of the same name does not match. */
  uid: string;
  /** True when the owner is the managing controller; at most one per object. */
  controller?: boolean;
  /** In foreground deletion, the owner waits for this dependent to go. */
  blockOwnerDeletion?: boolean;
}

/** One entry of `metadata.managedFields` (server-side apply bookkeeping). */
export interface ManagedFieldsEntry {
  /** The field manager's name, e.g. `kubectl`. */
  manager?: string;
  /** `Apply` or `Update`. */
  operation?: string;
  /** The apiVersion of the fields set. */
  apiVersion?: string;
  /** When the entry was last changed (RFC 3339). */
  time?: string;
  /** Always `FieldsV1`. */
  fieldsType?: string;
  /** The fields owned, in Kubernetes' FieldsV1 form. */
  fieldsV1?: Record<string, unknown>;
  /** The subresource written, if any. */
  subresource?: string;
}

/** Standard object metadata. */
export interface ObjectMeta {
  /** Unique within a namespace (or the cluster for cluster-scoped kinds). */
  name?: string;
  /** Prefix from which the server generates a unique name when `name` is empty. */
  generateName?: string;
  /** The namespace; empty for cluster-scoped kinds. */
  namespace?: string;
  /** Unique across time; set by the server on create. */
  uid?: string;
  /** The store revision of the last write, as a string; opaque to clients. */
  resourceVersion?: string;
  /** Bumped by the server on every change of the desired state (spec). */
  generation?: number;
  /** Set by the server on create (RFC 3339). */
  creationTimestamp?: string;
  /** Set by the server when deletion was requested and finalizers remain. */
  deletionTimestamp?: string;
  /** Seconds the object has to terminate gracefully once deleted. */
  deletionGracePeriodSeconds?: number;
  /** Identifying key/value pairs used by selectors. */
  labels?: Record<string, string>;
  /** Non-identifying key/value pairs. */
  annotations?: Record<string, string>;
  /** Objects this one depends on; when all are gone, it is collected. */
  ownerReferences?: OwnerReference[];
  /** Names that must be removed before the object is deleted. */
  finalizers?: string[];
  /** Server-side apply field ownership. */
  managedFields?: ManagedFieldsEntry[];
}

/** Metadata of a list. */
export interface ListMeta {
  /** The store revision at which the list was read. */
  resourceVersion?: string;
  /** Opaque token for the next page, when `limit` cut the list. */
  continue?: string;
  /** An estimate of the items left after this page. */
  remainingItemCount?: number;
}

/** Any Kubernetes-shaped object: type, metadata, and free-form content. */
export interface KubeObject extends TypeMeta {
  /** Standard metadata. */
  metadata: ObjectMeta;
  /** Anything else: spec, status, data, … */
  [field: string]: unknown;
}

/** A list of objects as returned by a list call. */
export interface KubeList<T extends KubeObject = KubeObject> extends TypeMeta {
  /** List metadata: revision and continue token. */
  metadata: ListMeta;
  /** The items of this page. */
  items: T[];
}

/** One cause of a failure, usually one field at fault. */
export interface StatusCause {
  /** Machine-readable reason, e.g. `FieldValueRequired`. */
  reason?: string;
  /** Human-readable message. */
  message?: string;
  /** JSON path of the field, e.g. `spec.replicas`. */
  field?: string;
}

/** Details of a failure `Status`. */
export interface StatusDetails {
  /** The name of the object concerned. */
  name?: string;
  /** The API group of the object concerned. */
  group?: string;
  /** The kind (resource) of the object concerned. */
  kind?: string;
  /** The uid of the object concerned. */
  uid?: string;
  /** Each cause of the failure. */
  causes?: StatusCause[];
  /** Seconds to wait before retrying. */
  retryAfterSeconds?: number;
}

/** The Kubernetes `Status` object returned for failures and some deletes. */
export interface Status extends TypeMeta {
  /** Always `{}` or list metadata. */
  metadata: ListMeta;
  /** `Success` or `Failure`. */
  status: "Success" | "Failure";
  /** Human-readable description. */
  message?: string;
  /** Machine-readable reason. */
  reason?: string;
  /** Extra data about the failure. */
  details?: StatusDetails;
  /** The HTTP status code. */
  code: number;
}

/** A condition as used in most `status.conditions` arrays. */
export interface Condition {
  /** The condition's type, e.g. `Ready`. */
  type: string;
  /** `True`, `False` or `Unknown`. */
  status: "True" | "False" | "Unknown";
  /** When the status last changed (RFC 3339). */
  lastTransitionTime?: string;
  /** When the condition was last probed (RFC 3339). */
  lastProbeTime?: string | null;
  /** When the condition was last refreshed (nodes). */
  lastHeartbeatTime?: string;
  /** Machine-readable reason for the last transition. */
  reason?: string;
  /** Human-readable message. */
  message?: string;
  /** The generation observed when the condition was set. */
  observedGeneration?: number;
}

/** One `matchExpressions` entry of a {@linkcode LabelSelector}. */
export interface LabelSelectorRequirement {
  /** The label key. */
  key: string;
  /** `In`, `NotIn`, `Exists` or `DoesNotExist`. */
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  /** The values for `In` and `NotIn`; empty for `Exists` and `DoesNotExist`. */
  values?: string[];
}

/**
 * A structured label selector (`spec.selector` of workloads). All of
 * `matchLabels` and `matchExpressions` must hold; an empty selector matches
 * everything, a missing one nothing.
 */
export interface LabelSelector {
  /** Labels that must be present with exactly these values. */
  matchLabels?: Record<string, string>;
  /** Set-based requirements. */
  matchExpressions?: LabelSelectorRequirement[];
}
