/**
 * Server-side apply, enough for `kubectl apply --server-side` (a PATCH with
 * `Content-Type: application/apply-patch+yaml` and
 * `?fieldManager=kubectl&force=false`), and the bookkeeping of ordinary
 * writes that lets later applies detect conflicts.
 *
 * Every write records, in `metadata.managedFields`, which fields each field
 * manager set, in Kubernetes' FieldsV1 form (`f:spec`, `k:{"name":"web"}`,
 * `v:"finalizer"`, `.`), with the operation (`Apply` or `Update`), the
 * apiVersion and the time. Then:
 *
 * - {@linkcode applyServerSide} merges an applied configuration into the
 *   live object (or creates it) using the same list keys as strategic merge
 *   patch; the manager then owns exactly the fields of its configuration.
 *   Fields it owned by its previous apply and dropped now are removed from
 *   the object, unless another manager also owns them. Changing a field
 *   another manager owns is a conflict (409) unless `force` is set, which
 *   takes the field over.
 * - {@linkcode recordUpdate} records a create, update or patch: the writer
 *   takes every field it changed or added, from whoever owned it before, and
 *   removed fields leave every manager's set. Updates never conflict.
 *
 * Limits, compared with Kubernetes (structured-merge-diff):
 * - Types come from {@linkcode PatchSchema}, which lists only what differs
 *   from the defaults; any other field is a plain object field, so a map
 *   such as `labels` is owned key by key, and a list is atomic unless its
 *   schema says otherwise. A custom resource has no schema: all its lists
 *   are atomic, as in Kubernetes for a CRD without list markers.
 * - `null` in an applied configuration means "not set", and an empty keyed
 *   list or set sets nothing, so applying `env: []` does not clear a list.
 * - A live keyed list whose items lack keys or repeat one (Kubernetes lets
 *   env vars repeat a name) is replaced whole by the applied list.
 * - Objects or lists emptied by removing a dropped field are removed too,
 *   where Kubernetes would leave them for the Go type's `omitempty` to drop.
 * - There is one version per kind: no conversion of managed fields between
 *   apiVersions.
 * - The caller resets what the endpoint must not change (`status` on the
 *   main resource, `spec` on `/status`) and passes those top-level fields
 *   as `ignoredFields`, so that nobody takes ownership of them there; checks
 *   `metadata.resourceVersion` preconditions; and validates the result.
 *
 * @module
 */

import { parse as parseYaml } from "yaml";
import { BadRequestError, ConflictError } from "../errors.ts";
import type { KubeObject, ManagedFieldsEntry, StatusCause } from "../meta.ts";
import {
  assertJson,
  clone,
  deepEqual,
  has,
  isObject,
  type JsonObject,
  type JsonValue,
  own,
  typeName,
} from "./_json.ts";
import {
  collectFields,
  compareFields,
  type FieldPath,
  FieldSet,
  fieldToken,
  type FieldValues,
  formatFieldsV1,
  formatPath,
  listTokens,
  locate,
  parseFieldsV1,
  pathKey,
  pathsOf,
} from "./_fieldpath.ts";
import { fieldSchema, listMapKeysOf, listTypeOf, type PatchSchema, patchSchemaFor } from "./schema.ts";

/** Options common to {@linkcode applyServerSide} and {@linkcode recordUpdate}. */
export interface ManagedFieldsOptions {
  /**
   * The field manager, from `?fieldManager=` (for apply, required; for an
   * update, the API server derives one from the user agent when absent,
   * e.g. `kubectl-edit`).
   */
  manager: string;
  /** Patch metadata of the kind. Default: {@linkcode patchSchemaFor} its `kind`. */
  schema?: PatchSchema;
  /** The clock for the `time` of managed fields entries. Default: now. */
  now?: Date;
  /** The subresource written, e.g. `status`. */
  subresource?: string;
  /**
   * Top-level fields this endpoint does not write, left out of ownership:
   * `["status"]` for the main resource of a kind with a status subresource.
   */
  ignoredFields?: readonly string[];
}

/** Options of {@linkcode applyServerSide}. */
export interface ServerSideApplyOptions extends ManagedFieldsOptions {
  /** `?force=true`: take over conflicting fields instead of failing. */
  force?: boolean;
}

/** The most characters of a field manager name, as in Kubernetes. */
const MAX_MANAGER_LENGTH = 128;

/** Metadata fields nobody owns: the API server sets them. */
const SERVER_METADATA = new Set([
  "name",
  "namespace",
  "creationTimestamp",
  "selfLink",
  "uid",
  "clusterName",
  "generation",
  "managedFields",
  "resourceVersion",
]);

/**
 * Applies a configuration the way the API server does for
 * `application/apply-patch+yaml`, and returns the new object with its
 * `metadata.managedFields` updated. `live` is the current object, or
 * undefined when it does not exist yet (the apply creates it). Neither
 * argument is modified.
 *
 * @throws {BadRequestError} when the configuration is not a YAML or JSON
 * object with `apiVersion` and `kind`, names another kind than the live
 * object, sets `metadata.managedFields`, has two items with the same key in
 * a keyed list, or when `manager` is empty.
 * @throws {ConflictError} when the configuration changes fields another
 * manager owns and `force` is not set. Its `details.causes` name each field
 * and manager, and its message reads like Kubernetes':
 * `Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas`.
 *
 * @example
 * ```ts
 * const updated = applyServerSide(live, yamlText, { manager: "kubectl" });
 * ```
 */
export function applyServerSide(
  live: Readonly<Record<string, unknown>> | undefined,
  config: string | Readonly<Record<string, unknown>>,
  options: ServerSideApplyOptions,
): KubeObject {
  checkManager(options.manager, "apply");
  const applied = parseConfig(config);
  const current = live === undefined ? undefined : checkLive(live, "live object");
  const kind = own(applied, "kind");
  const liveKind = current ? own(current, "kind") : undefined;
  if (liveKind !== undefined && liveKind !== kind) {
    throw new BadRequestError(
      `Invalid apply configuration: kind ${JSON.stringify(kind)} does not match the live object's kind ${
        JSON.stringify(liveKind)
      }`,
    );
  }
  const schema = options.schema ?? patchSchemaFor(kind as string);
  const skip = skipper(options.ignoredFields ?? []);
  const managers = current ? decodeManagers(managedFieldsOf(current)) ?? [] : [];
  const before = withoutManagedFields(current ?? {});
  const configFields = fieldsOf(applied, schema, skip, "apply configuration");
  const configSet = pathsOf(configFields);

  const merged = mergeApplied(before, applied, schema) as JsonObject;
  const self: Manager = {
    manager: options.manager,
    operation: "Apply",
    apiVersion: own(applied, "apiVersion") as string,
    subresource: options.subresource ?? "",
    time: undefined,
    set: configSet,
  };
  const selfId = identity(self);
  const previous = managers.find((m) => identity(m) === selfId);
  const others = managers.filter((m) => identity(m) !== selfId);
  const ownedByOthers = others.reduce(
    (all, m) => all.union(m.set),
    new FieldSet(),
  );
  const mergedFields = fieldsOf(merged, schema, skip);
  const dropped = [...(previous?.set ?? [])].filter((path) =>
    !configSet.has(path) && !ownedByOthers.has(path) &&
    mergedFields.has(pathKey(path))
  );
  const result = removeFields(merged, dropped, schema, configSet.union(ownedByOthers));

  const changes = compareFields(fieldsOf(before, schema, skip), fieldsOf(result, schema, skip));
  const touched = changes.modified.union(changes.added);
  const conflicts: Array<{ manager: Manager; path: FieldPath }> = [];
  for (const other of others) {
    for (const path of other.set.intersection(touched)) {
      conflicts.push({ manager: other, path });
    }
  }
  if (conflicts.length > 0 && !options.force) throw conflictError(conflicts);
  for (const other of others) {
    other.set = other.set.difference(touched).difference(changes.removed);
  }
  const changed = !deepEqual(before, result);
  self.time = changed || !previous ? timestamp(options.now) : previous.time;
  return withManagers(result, [...others, self]);
}

/**
 * Records an ordinary write (create, update, or a JSON, merge or strategic
 * merge patch) by `options.manager` in `metadata.managedFields`, and returns
 * `updated` with the result. `previous` is the object before the write, or
 * undefined for a create. Neither argument is modified. Pass `updated` as
 * it will be stored, after defaulting: as in Kubernetes, the writer owns the
 * defaults its write brought in.
 *
 * As in Kubernetes, `updated` may carry managed fields of its own (a client
 * rewriting ownership, as `kubectl` does when it moves from client-side to
 * server-side apply): when they are valid and not empty they replace the
 * previous ones, and a list holding one empty entry resets them. Otherwise
 * the previous object's managed fields carry on.
 *
 * @throws {BadRequestError} when an object is not a JSON object or `manager`
 * is empty.
 */
export function recordUpdate(
  previous: Readonly<Record<string, unknown>> | undefined,
  updated: Readonly<Record<string, unknown>>,
  options: ManagedFieldsOptions,
): KubeObject {
  checkManager(options.manager, "update");
  const next = checkLive(updated, "updated object");
  const prior = previous === undefined ? undefined : checkLive(previous, "previous object");
  const schema = options.schema ?? patchSchemaFor(String(own(next, "kind")));
  const skip = skipper(options.ignoredFields ?? []);
  const requested = managedFieldsOf(next);
  let managers: Manager[];
  if (isReset(requested)) {
    managers = [];
  } else {
    const decoded = decodeManagers(requested);
    managers = decoded && decoded.length > 0
      ? decoded
      : decodeManagers(prior ? managedFieldsOf(prior) : undefined) ?? [];
  }
  const before = withoutManagedFields(prior ?? {});
  const after = withoutManagedFields(next);
  const changes = compareFields(fieldsOf(before, schema, skip), fieldsOf(after, schema, skip));
  const taken = changes.modified.union(changes.added);
  for (const manager of managers) {
    manager.set = manager.set.difference(taken).difference(changes.removed);
  }
  if (taken.size > 0) {
    const apiVersion = own(next, "apiVersion");
    const writer: Manager = {
      manager: options.manager,
      operation: "Update",
      apiVersion: typeof apiVersion === "string" ? apiVersion : "",
      subresource: options.subresource ?? "",
      time: timestamp(options.now),
      set: taken,
    };
    const existing = managers.find((m) => identity(m) === identity(writer));
    if (existing) {
      existing.set = existing.set.union(taken);
      existing.time = writer.time;
    } else {
      managers.push(writer);
    }
  }
  return withManagers(after, managers);
}

/** One entry of managed fields, decoded. */
interface Manager {
  manager: string;
  operation: "Apply" | "Update";
  apiVersion: string;
  subresource: string;
  time: string | undefined;
  set: FieldSet;
}

/**
 * What tells managers apart, as in Kubernetes: name, operation, subresource,
 * and the apiVersion for updates (an applier stays one manager across
 * versions).
 */
function identity(manager: Manager): string {
  return JSON.stringify([
    manager.manager,
    manager.operation,
    manager.operation === "Apply" ? "" : manager.apiVersion,
    manager.subresource,
  ]);
}

/** A manager as Kubernetes names it in conflict messages. */
function describe(manager: Manager): string {
  let text = JSON.stringify(manager.manager);
  if (manager.subresource !== "") {
    text += ` with subresource ${JSON.stringify(manager.subresource)}`;
  }
  if (manager.operation === "Update") text += ` using ${manager.apiVersion}`;
  return text;
}

function conflictError(
  conflicts: Array<{ manager: Manager; path: FieldPath }>,
): ConflictError {
  const sorted = conflicts
    .map((c) => ({ who: describe(c.manager), field: formatPath(c.path) }))
    .sort((a, b) => a.who === b.who ? (a.field < b.field ? -1 : a.field > b.field ? 1 : 0) : (a.who < b.who ? -1 : 1));
  const causes: StatusCause[] = sorted.map((c) => ({
    reason: "FieldManagerConflict",
    message: `conflict with ${c.who}`,
    field: c.field,
  }));
  let message: string;
  if (sorted.length === 1) {
    const only = sorted[0] as { who: string; field: string };
    message = `Apply failed with 1 conflict: conflict with ${only.who}: ${only.field}`;
  } else {
    const lines: string[] = [];
    let who: string | undefined;
    for (const conflict of sorted) {
      if (conflict.who !== who) {
        who = conflict.who;
        lines.push(`conflicts with ${who}:`);
      }
      lines.push(`- ${conflict.field}`);
    }
    message = `Apply failed with ${sorted.length} conflicts: ${lines.join("\n")}`;
  }
  return new ConflictError(message, { details: { causes } });
}

function checkManager(manager: unknown, operation: string): void {
  if (typeof manager !== "string" || manager === "") {
    throw new BadRequestError(
      `A field manager is required for ${operation} requests: set ?fieldManager=`,
    );
  }
  if (manager.length > MAX_MANAGER_LENGTH || /[\p{Cc}]/u.test(manager)) {
    throw new BadRequestError(
      `Invalid field manager ${
        JSON.stringify(manager.slice(0, 40))
      }: at most ${MAX_MANAGER_LENGTH} printable characters`,
    );
  }
}

function parseConfig(config: string | Readonly<Record<string, unknown>>): JsonObject {
  let value: unknown = config;
  if (typeof config === "string") {
    try {
      value = parseYaml(config);
    } catch (error) {
      const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
      throw new BadRequestError(
        `Invalid apply configuration: not valid YAML or JSON: ${reason}`,
        { cause: error },
      );
    }
  }
  assertJson(value, "apply configuration");
  if (!isObject(value)) {
    throw new BadRequestError(
      `Invalid apply configuration: expected an object, got ${typeName(value)}`,
    );
  }
  for (const field of ["apiVersion", "kind"]) {
    const given = own(value, field);
    if (typeof given !== "string" || given === "") {
      throw new BadRequestError(
        `Invalid apply configuration: "${field}" must be set`,
      );
    }
  }
  const metadata = own(value, "metadata");
  if (metadata !== undefined && metadata !== null && !isObject(metadata)) {
    throw new BadRequestError(
      `Invalid apply configuration: metadata: expected an object, got ${typeName(metadata)}`,
    );
  }
  const managed = isObject(metadata) ? own(metadata, "managedFields") : undefined;
  if (managed !== undefined && managed !== null) {
    throw new BadRequestError(
      "Invalid apply configuration: metadata.managedFields must be nil",
    );
  }
  return withoutNulls(value);
}

function checkLive(value: unknown, what: string): JsonObject {
  assertJson(value, what);
  if (!isObject(value)) {
    throw new BadRequestError(
      `Invalid ${what}: expected an object, got ${typeName(value)}`,
    );
  }
  const metadata = own(value, "metadata");
  if (metadata !== undefined && !isObject(metadata)) {
    throw new BadRequestError(
      `Invalid ${what}: metadata: expected an object, got ${typeName(metadata)}`,
    );
  }
  return value;
}

function withoutNulls(object: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const key of Object.keys(object)) {
    const value = object[key] as JsonValue;
    if (value === null) continue;
    if (isObject(value)) {
      out[key] = withoutNulls(value);
    } else if (Array.isArray(value)) {
      out[key] = value.map((item) => isObject(item) ? withoutNulls(item) : item);
    } else {
      out[key] = value;
    }
  }
  return out;
}

function managedFieldsOf(object: JsonObject): JsonValue | undefined {
  const metadata = own(object, "metadata");
  return isObject(metadata) ? own(metadata, "managedFields") : undefined;
}

function withoutManagedFields(object: JsonObject): JsonObject {
  const out = clone(object);
  const metadata = own(out, "metadata");
  if (isObject(metadata)) delete metadata.managedFields;
  return out;
}

/** True for `[{}]`, which clients send to clear managed fields. */
function isReset(value: JsonValue | undefined): boolean {
  return Array.isArray(value) && value.length === 1 && isObject(value[0]) &&
    Object.keys(value[0]).length === 0;
}

/** The managers of a managedFields list, or undefined when it is malformed. */
function decodeManagers(value: JsonValue | undefined): Manager[] | undefined {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) return undefined;
  const byIdentity = new Map<string, Manager>();
  for (const entry of value) {
    if (!isObject(entry)) return undefined;
    const operation = own(entry, "operation");
    const fieldsType = own(entry, "fieldsType");
    const strings = ["manager", "apiVersion", "time", "subresource"].map((key) => own(entry, key));
    if (
      (operation !== "Apply" && operation !== "Update") ||
      (fieldsType !== undefined && fieldsType !== "FieldsV1") ||
      strings.some((s) => s !== undefined && typeof s !== "string")
    ) {
      return undefined;
    }
    const fields = own(entry, "fieldsV1");
    const set = fields === undefined ? new FieldSet() : parseFieldsV1(fields);
    if (!set) return undefined;
    const [manager, apiVersion, time, subresource] = strings as Array<
      string | undefined
    >;
    const decoded: Manager = {
      manager: manager ?? "",
      operation,
      apiVersion: apiVersion ?? "",
      subresource: subresource ?? "",
      time,
      set,
    };
    const id = identity(decoded);
    const same = byIdentity.get(id);
    if (same) {
      same.set = same.set.union(set);
    } else {
      byIdentity.set(id, decoded);
    }
  }
  return [...byIdentity.values()];
}

/**
 * `object` with the managers that still own something, sorted as Kubernetes
 * sorts them: appliers first, then by time, manager, apiVersion and
 * subresource.
 */
function withManagers(object: JsonObject, managers: Manager[]): KubeObject {
  const out = clone(object);
  const kept = managers.filter((m) => m.set.size > 0).sort((a, b) =>
    compareStrings(a.operation, b.operation) ||
    compareStrings(a.time ?? "", b.time ?? "") ||
    compareStrings(a.manager, b.manager) ||
    compareStrings(a.apiVersion, b.apiVersion) ||
    compareStrings(a.subresource, b.subresource)
  );
  let metadata = own(out, "metadata");
  if (!isObject(metadata)) {
    metadata = {};
    out.metadata = metadata;
  }
  if (kept.length === 0) {
    delete metadata.managedFields;
  } else {
    metadata.managedFields = kept.map((m) => {
      const entry: ManagedFieldsEntry = {
        manager: m.manager,
        operation: m.operation,
        apiVersion: m.apiVersion,
      };
      if (m.time !== undefined) entry.time = m.time;
      entry.fieldsType = "FieldsV1";
      entry.fieldsV1 = formatFieldsV1(m.set);
      if (m.subresource !== "") entry.subresource = m.subresource;
      return entry as JsonObject;
    });
  }
  return out as unknown as KubeObject;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** RFC 3339 to the second, as Kubernetes writes times. */
function timestamp(now: Date = new Date()): string {
  return now.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Which paths nobody owns: server-set metadata, and ignored fields. */
function skipper(ignored: readonly string[]): (path: FieldPath) => boolean {
  const ignoredTokens = new Set(ignored.map(fieldToken));
  return (path) => {
    const [first, second] = path;
    if (first === undefined) return false;
    if (ignoredTokens.has(first)) return true;
    if (path.length === 1) return first === "f:apiVersion" || first === "f:kind";
    return path.length === 2 && first === "f:metadata" &&
      second !== undefined && second.startsWith("f:") &&
      SERVER_METADATA.has(second.slice(2));
  };
}

/** The owned paths of an object, and their values. */
function fieldsOf(
  object: JsonObject,
  schema: PatchSchema | undefined,
  skip: (path: FieldPath) => boolean,
  strictFor?: string,
): FieldValues {
  const values = collectFields(
    object,
    schema,
    strictFor === undefined ? { skip } : { skip, strict: { what: strictFor } },
  );
  values.delete(pathKey([fieldToken("metadata")]));
  return values;
}

/**
 * The live value with the applied one merged in: objects key by key, keyed
 * lists item by item, sets value by value, anything else replaced. Items
 * keep the applied order; live-only items keep their place among them.
 */
function mergeApplied(
  live: JsonValue | undefined,
  applied: JsonValue,
  schema: PatchSchema | undefined,
): JsonValue {
  if (isObject(applied)) {
    if (!isObject(live) || schema?.atomic) return clone(applied);
    const out = clone(live);
    for (const key of Object.keys(applied)) {
      out[key] = mergeApplied(
        own(live, key),
        applied[key] as JsonValue,
        fieldSchema(schema, key),
      );
    }
    return out;
  }
  if (!Array.isArray(applied)) return applied;
  const type = listTypeOf(schema);
  if (type === "atomic" || !Array.isArray(live)) return clone(applied);
  const liveTokens = listTokens(live, schema);
  const appliedTokens = listTokens(applied, schema);
  if ("problem" in liveTokens || "problem" in appliedTokens) {
    return clone(applied);
  }
  return interleave(liveTokens.tokens, appliedTokens.tokens).map(([l, a]) => {
    if (a === undefined) return clone(live[l as number] as JsonValue);
    const item = applied[a] as JsonValue;
    if (type === "set" || l === undefined) return clone(item);
    return mergeApplied(live[l], item, schema);
  });
}

/**
 * The order of a merged list, as structured-merge-diff builds it: applied
 * items in applied order, each live-only item where it stood relative to
 * them. Pairs of [live index, applied index].
 */
function interleave(
  live: readonly string[],
  applied: readonly string[],
): Array<[number | undefined, number | undefined]> {
  const appliedAt = new Map(applied.map((token, i) => [token, i]));
  const liveAt = new Map(live.map((token, i) => [token, i]));
  const shared = applied.filter((token) => liveAt.has(token));
  let nextShared = 0;
  const merged = new Set<string>();
  const out: Array<[number | undefined, number | undefined]> = [];
  let l = 0;
  let a = 0;
  while (l < live.length || a < applied.length) {
    const liveToken = live[l];
    const appliedToken = applied[a];
    if (liveToken !== undefined && appliedToken !== undefined) {
      if (liveToken === appliedToken) {
        out.push([l++, a++]);
        merged.add(liveToken);
        nextShared++;
        continue;
      }
      if (
        appliedAt.has(liveToken) && nextShared < shared.length &&
        shared[nextShared] !== liveToken
      ) {
        l++;
        continue;
      }
    }
    if (liveToken !== undefined) {
      if (!appliedAt.has(liveToken)) {
        out.push([l++, undefined]);
        continue;
      }
      if (merged.has(liveToken)) {
        l++;
        continue;
      }
    }
    if (appliedToken !== undefined) {
      out.push([liveAt.get(appliedToken), a++]);
      merged.add(appliedToken);
      if (shared[nextShared] === appliedToken) nextShared++;
    }
  }
  return out;
}

/**
 * `object` without the fields at `paths`. A container emptied this way goes
 * too unless someone owns it (is in `keep`); the key fields of a list item
 * that stays are never removed.
 */
function removeFields(
  object: JsonObject,
  paths: readonly FieldPath[],
  schema: PatchSchema | undefined,
  keep: FieldSet,
): JsonObject {
  const out = clone(object);
  for (const path of paths) {
    const trail: Array<{
      container: JsonObject | JsonValue[];
      at: string | number;
      schema: PatchSchema | undefined;
    }> = [];
    let current: JsonValue = out;
    let sub = schema;
    let found = true;
    for (const token of path) {
      const step = locate(current, token, sub);
      if (!step) {
        found = false;
        break;
      }
      const container = current as JsonObject | JsonValue[];
      trail.push({ container, at: step.at, schema: sub });
      current = Array.isArray(container)
        ? container[step.at as number] as JsonValue
        : container[step.at as string] as JsonValue;
      sub = step.schema;
    }
    if (!found || trail.length === 0 || isKeyOfKeptItem(path, trail)) continue;
    for (let depth = trail.length - 1; depth >= 0; depth--) {
      const { container, at } = trail[depth] as (typeof trail)[number];
      if (depth < trail.length - 1) {
        const emptied = Array.isArray(container) ? container[at as number] : container[at as string];
        const empty = Array.isArray(emptied)
          ? emptied.length === 0
          : isObject(emptied) && Object.keys(emptied).length === 0;
        if (!empty || keep.has(path.slice(0, depth + 1))) break;
      }
      if (Array.isArray(container)) {
        container.splice(at as number, 1);
      } else {
        delete container[at as string];
      }
    }
  }
  return out;
}

function isKeyOfKeptItem(
  path: FieldPath,
  trail: ReadonlyArray<{ schema: PatchSchema | undefined }>,
): boolean {
  const last = path[path.length - 1];
  const parent = path[path.length - 2];
  if (!last?.startsWith("f:") || !parent?.startsWith("k:")) return false;
  const listSchema = trail[trail.length - 2]?.schema;
  return listMapKeysOf(listSchema).includes(last.slice(2)) &&
    has(JSON.parse(parent.slice(2)) as JsonObject, last.slice(2));
}
