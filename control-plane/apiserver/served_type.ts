/**
 * A resource type as the API server serves it: its identity and validation
 * from `api/`, plus the storage rules ({@linkcode Strategy}) that differ by
 * kind, as Kubernetes' registry strategies do.
 *
 * @module
 */

import { type FieldError, type KubeObject, RESOURCE_TYPES, type ResourceType } from "@skiff/api";
import { strategyFor } from "./strategies.ts";

/** Per-kind storage rules. Every hook is optional. */
export interface Strategy {
  /** Adjusts a new object before defaulting (e.g. resets status). */
  prepareForCreate?(obj: KubeObject): void;
  /** Adjusts an updated object; `subresource` is `status` for status writes. */
  prepareForUpdate?(obj: KubeObject, old: KubeObject, subresource: string | undefined): void;
  /** Adjusts an object that is being marked for deletion (e.g. namespace phase). */
  prepareForDelete?(obj: KubeObject): void;
  /** Seconds of graceful deletion for this delete request, or undefined/0 for none. */
  gracePeriod?(obj: KubeObject, requested: number | undefined): number | undefined;
  /**
   * True while something other than finalizers and the grace period holds
   * a deleted object (a namespace's spec.finalizers).
   */
  deletionBlocked?(obj: KubeObject): boolean;
  /** The default propagationPolicy of deletes. */
  defaultPropagation?: "Background" | "Foreground" | "Orphan";
  /** Field selector labels beyond metadata.name and metadata.namespace. */
  fieldLabels?: Record<string, (obj: KubeObject) => string | undefined>;
  /** Objects expire this many seconds after they were last written (events). */
  ttlSeconds?: number;
}

/** A subresource as discovery lists it. */
export interface ServedSubresource {
  /** `status`, `scale`, `binding`, … */
  name: string;
  /** Group of the body it takes. */
  group: string;
  /** Version of the body it takes. */
  version: string;
  /** Kind of the body it takes. */
  kind: string;
  /** Verbs it supports. */
  verbs: readonly string[];
  /** Checks a body of its own kind (Binding, Eviction, Scale); absent when the body is the parent object. */
  validate?: (obj: unknown, old?: unknown) => readonly FieldError[];
}

/** A resource type served by the API server. */
export interface ServedType {
  /** API group; "" for core. */
  group: string;
  /** API version. */
  version: string;
  /** Kind, e.g. `Deployment`. */
  kind: string;
  /** Plural resource name, e.g. `deployments`. */
  plural: string;
  /** Singular resource name. */
  singular: string;
  /** Short names (`deploy`). */
  shortNames: readonly string[];
  /** Categories (`all`). */
  categories: readonly string[];
  /** Namespaced or cluster-scoped. */
  namespaced: boolean;
  /** Subresources served (`status`, `scale`, …) and the kinds they take. */
  subresources: readonly ServedSubresource[];
  /** Verbs served on the main resource. */
  verbs: readonly string[];
  /** True if metadata.generation counts spec changes. */
  tracksGeneration: boolean;
  /** Sets defaults in place. */
  defaults(obj: KubeObject): void;
  /** Field errors of an object (against its previous state on update). */
  validate(obj: KubeObject, old: KubeObject | undefined): readonly FieldError[];
  /** Storage rules. */
  strategy: Strategy;
}

/** `apps/v1` or `v1`. */
export function apiVersionOf(type: Pick<ServedType, "group" | "version">): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

/** `deployments.apps` or `pods`. */
export function qualifiedName(type: Pick<ServedType, "group" | "plural">): string {
  return type.group ? `${type.plural}.${type.group}` : type.plural;
}

/** True if `type` serves the subresource `name`. */
export function hasSubresource(type: Pick<ServedType, "subresources">, name: string): boolean {
  return type.subresources.some((s) => s.name === name);
}

/** The registry's resource types with their storage strategies. */
export function servedTypes(types: readonly ResourceType[] = RESOURCE_TYPES): ServedType[] {
  return types.map((t) => {
    const subresources: ServedSubresource[] = t.subresources.map((s) => ({ ...s }));
    if (t.kind === "Namespace") {
      subresources.push({ name: "finalize", group: t.group, version: t.version, kind: t.kind, verbs: ["update"] });
    }
    return {
      group: t.group,
      version: t.version,
      kind: t.kind,
      plural: t.plural,
      singular: t.singular,
      shortNames: t.shortNames,
      categories: t.categories,
      namespaced: t.namespaced,
      subresources,
      verbs: t.verbs,
      tracksGeneration: t.tracksGeneration,
      defaults: (obj) => t.defaults(obj),
      validate: (obj, old) => t.validate(obj, old),
      strategy: strategyFor(t.kind, subresources.some((s) => s.name === "status")),
    };
  });
}
