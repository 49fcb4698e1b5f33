/**
 * Kubernetes strategic merge patch (`application/strategic-merge-patch+json`):
 * applying a patch the way the API server does, and creating the two-way and
 * three-way patches `kubectl` sends.
 *
 * A strategic merge patch is a JSON merge patch where lists carry meaning:
 * a list whose field has the `merge` strategy is merged item by item (by
 * its merge key for objects, as a set for scalars) instead of replaced, and
 * a few directives refine that:
 *
 * - `$patch: replace` in an object replaces the object; as an item of a list
 *   it replaces the list with the patch's other items.
 * - `$patch: delete` in an object empties it; as an item of a merged list,
 *   with the merge key, it deletes the item with that key.
 * - `$patch: merge` asks for the default behaviour. Kubernetes refuses it;
 *   Skiff accepts it as a no-op.
 * - `$retainKeys: [a, b]` in an object with the `retainKeys` strategy
 *   removes every other key of the live object (a Deployment's `strategy`,
 *   a pod volume's source).
 * - `$setElementOrder/<list>: [...]` gives the final order of a merged list:
 *   patch items take that order and items only the server has keep their
 *   place relative to them.
 * - `$deleteFromPrimitiveList/<list>: [...]` removes those scalars from a
 *   merged list of scalars (finalizers).
 * - `null` deletes a field.
 *
 * Kinds without patch metadata (see {@linkcode patchSchemaFor}) fall back to
 * JSON merge patch semantics, as `kubectl` does for custom resources.
 *
 * Order of merged lists follows the Kubernetes API server (1.32): patch
 * items in patch order (or `$setElementOrder` order), live-only items
 * interleaved by their live position; without `$setElementOrder`, new items
 * come before live-only items. When one patch both deletes and adds items of
 * a list that also has live-only items, Kubernetes orders the live-only items
 * against the live list as compacted by the deletions and refilled by the
 * additions; Skiff reproduces that order too.
 *
 * @module
 */

import { BadRequestError } from "../errors.ts";
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
import { applyMergePatch, createMergePatch, createThreeWayMergePatch, type ThreeWayInput } from "./merge_patch.ts";
import { fieldSchema, mergesList, type PatchSchema, patchSchemaFor, retainsKeys } from "./schema.ts";

export type { ThreeWayInput } from "./merge_patch.ts";

const PATCH = "$patch";
const RETAIN_KEYS = "$retainKeys";
const SET_ORDER = "$setElementOrder/";
const DELETE_FROM = "$deleteFromPrimitiveList/";

/** Options of the strategic merge patch functions. */
export interface StrategicMergeOptions {
  /**
   * Patch metadata of the document's kind. Default: {@linkcode patchSchemaFor}
   * the document's `kind`; a kind without metadata falls back to JSON merge
   * patch semantics.
   */
  schema?: PatchSchema;
}

/**
 * Applies a strategic merge patch to a copy of `original` and returns the
 * result. Neither argument is modified.
 *
 * @throws {BadRequestError} when a document is not a JSON object, the patch
 * misuses a directive, a merged list item lacks its merge key, a list is
 * given where an object is expected (or the reverse), or a key is
 * `__proto__`. The message names the field.
 *
 * @example
 * ```ts
 * applyStrategicMergePatch(deployment, {
 *   spec: { template: { spec: { containers: [{ name: "web", image: "nginx:1.27" }] } } },
 * });
 * ```
 */
export function applyStrategicMergePatch(
  original: Readonly<Record<string, unknown>>,
  patch: Readonly<Record<string, unknown>>,
  options: StrategicMergeOptions = {},
): Record<string, unknown> {
  const doc = checkObject(original, "strategic merge patch target");
  const patchObject = checkObject(patch, "strategic merge patch");
  const schema = options.schema ?? schemaOf(doc) ?? schemaOf(patchObject);
  if (!schema) {
    return applyMergePatch(doc, patchObject) as JsonObject;
  }
  return new Merger(true).mergeMap(clone(doc), clone(patchObject), schema, "");
}

/**
 * Creates the strategic merge patch that turns `original` into `modified`:
 * changes and additions, `null` for removed fields, `$patch: delete` items
 * and `$deleteFromPrimitiveList` for items removed from merged lists, and
 * `$setElementOrder` where a merged list changed. An empty object means the
 * documents are equal.
 *
 * @throws {BadRequestError} when a document is not a JSON object or a merged
 * list item lacks its merge key.
 */
export function createTwoWayPatch(
  original: Readonly<Record<string, unknown>>,
  modified: Readonly<Record<string, unknown>>,
  options: StrategicMergeOptions = {},
): Record<string, unknown> {
  const from = checkObject(original, "original document");
  const to = checkObject(modified, "modified document");
  const schema = options.schema ?? schemaOf(to) ?? schemaOf(from);
  if (!schema) return createMergePatch(from, to) as JsonObject;
  return diffMaps(from, to, schema, { setElementOrder: true }, "");
}

/**
 * Creates the patch `kubectl apply` (client-side) sends: every change and
 * addition from `current` to `modified`, plus the deletion of every field
 * that was in `lastApplied` but is gone from `modified`. Fields that only
 * `current` has, set by the server or by other writers, are left alone.
 * Kubernetes' `overwrite` mode is implied: where `current` differs from
 * `modified`, `modified` wins. An empty object means there is nothing to
 * send ("unchanged").
 *
 * `kubectl` keeps `lastApplied` in the annotation
 * `kubectl.kubernetes.io/last-applied-configuration` and puts the new value
 * of that annotation in `modified`; that is the caller's job.
 *
 * @throws {BadRequestError} when a document is not a JSON object or a merged
 * list item lacks its merge key.
 *
 * @example
 * ```ts
 * const patch = createThreeWayPatch({ lastApplied, modified, current });
 * const updated = applyStrategicMergePatch(current, patch);
 * ```
 */
export function createThreeWayPatch(
  input: ThreeWayInput,
  options: StrategicMergeOptions = {},
): Record<string, unknown> {
  const lastApplied = checkObject(
    input.lastApplied ?? {},
    "last-applied configuration",
  );
  const modified = checkObject(input.modified, "modified configuration");
  const current = checkObject(input.current, "current object");
  const schema = options.schema ?? schemaOf(modified) ?? schemaOf(current);
  if (!schema) return createThreeWayMergePatch(input);
  const delta = diffMaps(current, modified, schema, {
    ignoreDeletions: true,
    setElementOrder: true,
  }, "");
  const deletions = diffMaps(lastApplied, modified, schema, {
    ignoreChangesAndAdditions: true,
    setElementOrder: true,
  }, "");
  return new Merger(false).mergeMap(deletions, delta, schema, "");
}

function checkObject(value: unknown, what: string): JsonObject {
  assertJson(value, what);
  if (!isObject(value)) {
    throw new BadRequestError(
      `Invalid ${what}: expected an object, got ${typeName(value)}`,
    );
  }
  return value;
}

function schemaOf(doc: JsonObject): PatchSchema | undefined {
  const kind = own(doc, "kind");
  return typeof kind === "string" ? patchSchemaFor(kind) : undefined;
}

function bad(path: string, message: string): BadRequestError {
  const where = path === "" ? "" : `${path}: `;
  return new BadRequestError(
    `Invalid strategic merge patch: ${where}${message}`,
  );
}

function child(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function itemPath(path: string, mergeKey: string, value: JsonValue): string {
  return `${path}[${mergeKey}=${JSON.stringify(value)}]`;
}

function preview(value: JsonValue | undefined): string {
  const text = JSON.stringify(value ?? null);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

type Kind = "object" | "list" | "scalar";

function kindOf(value: JsonValue): Kind {
  if (Array.isArray(value)) return "list";
  return isObject(value) ? "object" : "scalar";
}

/** True when the schema says the field holds a list. */
function isListField(schema: PatchSchema | undefined): boolean {
  return schema !== undefined &&
    (schema.patchMergeKey !== undefined || mergesList(schema) ||
      schema.listType !== undefined);
}

/** True when the schema says the field holds an object. */
function isObjectField(schema: PatchSchema | undefined): boolean {
  return schema !== undefined && !isListField(schema) &&
    (schema.fields !== undefined || schema.atomic === true ||
      schema.patchStrategy === "replace" ||
      schema.patchStrategy === "retainKeys");
}

/** Refuses a patch value whose shape contradicts the schema. */
function checkShape(
  value: JsonValue,
  schema: PatchSchema | undefined,
  path: string,
): void {
  if (value === null) return;
  if (isListField(schema) && !Array.isArray(value)) {
    throw bad(path, `expected a list, got ${typeName(value)}`);
  }
  if (isObjectField(schema) && !isObject(value)) {
    throw bad(path, `expected an object, got ${typeName(value)}`);
  }
}

/** The name after a directive prefix, refused when empty or `__proto__`. */
function directiveTarget(key: string, prefix: string, path: string): string {
  const name = key.slice(prefix.length);
  if (name === "" || name === "__proto__") {
    throw bad(path, `directive "${key}" names no usable field`);
  }
  return name;
}

/** The element kind shared by the items of some lists. */
function elementKind(
  lists: readonly (readonly JsonValue[])[],
  path: string,
): "object" | "scalar" | undefined {
  let found: "object" | "scalar" | undefined;
  for (const list of lists) {
    for (const item of list) {
      const kind = kindOf(item);
      if (kind === "list") throw bad(path, "lists of lists are not supported");
      if (found !== undefined && found !== kind) {
        throw bad(path, "list items mix objects and scalars");
      }
      found = kind;
    }
  }
  return found;
}

/** The merge key value of a list item, refused when absent or not a scalar. */
function keyOf(item: JsonValue, mergeKey: string, path: string): JsonValue {
  if (!isObject(item)) {
    throw bad(path, `list item ${preview(item)} is not an object`);
  }
  if (!has(item, mergeKey)) {
    throw bad(
      path,
      `list item ${preview(item)} does not contain the merge key "${mergeKey}"`,
    );
  }
  const value = item[mergeKey] as JsonValue;
  if (isObject(value) || Array.isArray(value)) {
    throw bad(path, `merge key "${mergeKey}" must be a scalar`);
  }
  return value;
}

function isDeleteItem(item: JsonValue): boolean {
  return isObject(item) && own(item, PATCH) === "delete";
}

/**
 * Positions of the items of a list, by merge key value for objects and by
 * value for scalars; the first occurrence wins.
 */
class Positions {
  #at = new Map<JsonValue, number>();

  constructor(
    list: readonly JsonValue[],
    readonly mergeKey: string | undefined,
  ) {
    for (const [i, item] of list.entries()) {
      const id = this.#idOf(item);
      if (id !== undefined && !this.#at.has(id)) this.#at.set(id, i);
    }
  }

  #idOf(item: JsonValue): JsonValue | undefined {
    if (this.mergeKey === undefined) return item;
    return isObject(item) ? own(item, this.mergeKey) : undefined;
  }

  /** The position of `item`'s match in the list, or -1. */
  of(item: JsonValue): number {
    const id = this.#idOf(item);
    return id === undefined ? -1 : this.#at.get(id) ?? -1;
  }
}

/** Items present in `by` first, the others (server-only) second. */
function partition(
  items: readonly JsonValue[],
  by: readonly JsonValue[],
  mergeKey: string | undefined,
  path: string,
): [JsonValue[], JsonValue[]] {
  const inPatch: JsonValue[] = [];
  const serverOnly: JsonValue[] = [];
  const positions = new Positions(by, mergeKey);
  for (const item of items) {
    if (mergeKey !== undefined) keyOf(item, mergeKey, path);
    (positions.of(item) >= 0 ? inPatch : serverOnly).push(item);
  }
  return [inPatch, serverOnly];
}

/** `items` sorted by their position in `order`; deletions go last. */
function sortByOrder(
  items: readonly JsonValue[],
  order: readonly JsonValue[],
  mergeKey: string | undefined,
  path: string,
): JsonValue[] {
  let toDelete: JsonValue[] = [];
  let toSort = [...items];
  if (mergeKey !== undefined) {
    for (const item of [...items, ...order]) keyOf(item, mergeKey, path);
    toDelete = toSort.filter(isDeleteItem);
    toSort = toSort.filter((item) => !isDeleteItem(item));
  }
  const positions = new Positions(order, mergeKey);
  const rank = (item: JsonValue) => {
    const index = positions.of(item);
    return index < 0 ? Number.POSITIVE_INFINITY : index;
  };
  const ranked = toSort.map((item, position) => ({
    item,
    position,
    rank: rank(item),
  }));
  ranked.sort((a, b) => a.rank === b.rank ? a.position - b.position : a.rank - b.rank);
  return [...ranked.map((entry) => entry.item), ...toDelete];
}

/**
 * Interleaves server-only items (`left`) into patch items (`right`), both
 * already sorted: a server-only item goes first only when the live order
 * puts it before the next patch item.
 */
function interleave(
  left: readonly JsonValue[],
  right: readonly JsonValue[],
  serverOrder: readonly JsonValue[],
  mergeKey: string | undefined,
): JsonValue[] {
  const out: JsonValue[] = [];
  const positions = new Positions(serverOrder, mergeKey);
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (i >= left.length) {
      out.push(right[j++] as JsonValue);
    } else if (j >= right.length) {
      out.push(left[i++] as JsonValue);
    } else {
      const li = positions.of(left[i] as JsonValue);
      const ri = positions.of(right[j] as JsonValue);
      if (li >= 0 && ri >= 0 && li < ri) {
        out.push(left[i++] as JsonValue);
      } else {
        out.push(right[j++] as JsonValue);
      }
    }
  }
  return out;
}

function normalizeOrder(
  patchItems: readonly JsonValue[],
  serverOnly: readonly JsonValue[],
  patchOrder: readonly JsonValue[],
  serverOrder: readonly JsonValue[],
  mergeKey: string | undefined,
  path: string,
): JsonValue[] {
  const patchSorted = sortByOrder(patchItems, patchOrder, mergeKey, path);
  const serverSorted = sortByOrder(serverOnly, serverOrder, mergeKey, path);
  return interleave(serverSorted, patchSorted, serverOrder, mergeKey);
}

/** Refuses a patch list whose items are out of the `$setElementOrder` order. */
function checkOrder(
  patchList: readonly JsonValue[],
  order: readonly JsonValue[],
  mergeKey: string | undefined,
  path: string,
): void {
  if (order.length === 0 || patchList.length === 0) return;
  const items = mergeKey === undefined ? patchList : patchList.filter((item) => !isDeleteItem(item));
  let p = 0;
  let o = 0;
  while (p < items.length && o < order.length) {
    const item = items[p] as JsonValue;
    if (isObject(item) && has(item, PATCH)) {
      p++;
      continue;
    }
    const same = mergeKey === undefined ? item === order[o] : keyOf(item, mergeKey, path) ===
      keyOf(order[o] as JsonValue, mergeKey, path);
    if (same) p++;
    o++;
  }
  if (p < items.length) {
    throw bad(
      path,
      "the order of the patch list doesn't match its $setElementOrder list",
    );
  }
}

/** Result of merging a list: the list, and the live order to sort against. */
interface MergedList {
  list: JsonValue[];
  serverOrder: JsonValue[];
}

/** Marker for a patch value that leaves nothing behind. */
const DROP = Symbol("drop");

/**
 * The merge of a patch into a document (`apply`), or of a patch into another
 * patch (`!apply`, used to combine the two halves of a three-way patch):
 * directives are then carried over instead of carried out, and `null` stays.
 */
class Merger {
  constructor(readonly apply: boolean) {}

  /** Merges `patch` into `original`; both are private copies it may change. */
  mergeMap(
    original: JsonObject,
    patch: JsonObject,
    schema: PatchSchema | undefined,
    path: string,
  ): JsonObject {
    if (has(patch, PATCH)) {
      const directive = patch[PATCH];
      const rest = { ...patch };
      delete rest[PATCH];
      switch (directive) {
        case "replace":
          return this.apply ? this.fresh(rest, schema, path) as JsonObject : rest;
        case "delete":
          return {};
        case "merge":
          return this.mergeMap(original, rest, schema, path);
        default:
          throw bad(path, `unknown $patch directive ${preview(directive)}`);
      }
    }
    this.retainKeys(original, patch, path);
    const done = this.orderedLists(original, patch, schema, path);
    const deletions: string[] = [];
    for (const key of Object.keys(patch)) {
      if (done.has(key) || key === RETAIN_KEYS) continue;
      const value = patch[key] as JsonValue;
      if (key.startsWith(DELETE_FROM)) {
        if (this.apply) {
          deletions.push(key);
        } else {
          original[key] = value;
        }
        continue;
      }
      this.mergeField(original, key, value, fieldSchema(schema, key), path);
    }
    for (const key of deletions) {
      this.deleteFromList(original, key, patch[key] as JsonValue, path);
    }
    return original;
  }

  private mergeField(
    original: JsonObject,
    key: string,
    value: JsonValue,
    schema: PatchSchema | undefined,
    parent: string,
  ): void {
    const path = child(parent, key);
    if (this.apply) checkShape(value, schema, path);
    if (value === null) {
      delete original[key];
      if (!this.apply) original[key] = null;
      return;
    }
    const current = own(original, key);
    if (current === undefined || kindOf(current) !== kindOf(value)) {
      this.setFresh(original, key, value, schema, path);
      return;
    }
    if (isObject(current) && isObject(value)) {
      original[key] = schema?.patchStrategy === "replace"
        ? this.carry(value, schema, path) as JsonObject
        : this.mergeMap(current, value, schema, path);
    } else if (Array.isArray(current) && Array.isArray(value)) {
      original[key] = this.mergeListField(current, value, schema, path).list;
    } else {
      original[key] = value;
    }
  }

  private setFresh(
    original: JsonObject,
    key: string,
    value: JsonValue,
    schema: PatchSchema | undefined,
    path: string,
  ): void {
    const made = this.carry(value, schema, path);
    if (made === DROP) {
      delete original[key];
    } else {
      original[key] = made;
    }
  }

  /** A patch value taken as it is: cleaned of directives when applying. */
  private carry(
    value: JsonValue,
    schema: PatchSchema | undefined,
    path: string,
  ): JsonValue | typeof DROP {
    return this.apply ? this.fresh(value, schema, path) : value;
  }

  /**
   * A document value made from a patch value that has nothing to merge
   * with: `null` fields dropped, directives carried out against nothing.
   */
  private fresh(
    value: JsonValue,
    schema: PatchSchema | undefined,
    path: string,
  ): JsonValue | typeof DROP {
    if (Array.isArray(value)) {
      const out: JsonValue[] = [];
      for (const [i, item] of value.entries()) {
        if (isObject(item) && has(item, PATCH)) {
          this.checkDirective(item[PATCH] as JsonValue, `${path}[${i}]`);
          continue;
        }
        const made = item === null ? null : this.fresh(item, schema, `${path}[${i}]`);
        if (made !== DROP) out.push(made);
      }
      return out;
    }
    if (!isObject(value)) return value;
    if (has(value, PATCH)) {
      const directive = value[PATCH] as JsonValue;
      this.checkDirective(directive, path);
      if (directive === "delete") return DROP;
    }
    const out: JsonObject = {};
    for (const key of Object.keys(value)) {
      const item = value[key] as JsonValue;
      if (
        key === PATCH || key === RETAIN_KEYS || key.startsWith(SET_ORDER) ||
        key.startsWith(DELETE_FROM) || item === null
      ) {
        continue;
      }
      const sub = fieldSchema(schema, key);
      checkShape(item, sub, child(path, key));
      const made = this.fresh(item, sub, child(path, key));
      if (made !== DROP) out[key] = made;
    }
    return out;
  }

  private checkDirective(directive: JsonValue, path: string): void {
    if (
      directive !== "replace" && directive !== "delete" && directive !== "merge"
    ) {
      throw bad(path, `unknown $patch directive ${preview(directive)}`);
    }
  }

  /** Carries out (or, merging patches, carries over) `$retainKeys`. */
  private retainKeys(original: JsonObject, patch: JsonObject, path: string) {
    if (!has(patch, RETAIN_KEYS)) return;
    const keys = patch[RETAIN_KEYS] as JsonValue;
    if (!this.apply) {
      if (has(original, RETAIN_KEYS) && !deepEqual(original[RETAIN_KEYS], keys)) {
        throw bad(path, "the two $retainKeys lists differ");
      }
      original[RETAIN_KEYS] = keys;
      return;
    }
    if (!Array.isArray(keys) || keys.some((key) => typeof key !== "string")) {
      throw bad(path, "$retainKeys must be a list of field names");
    }
    const retained = new Set(keys as string[]);
    for (const key of Object.keys(patch)) {
      if (
        key === RETAIN_KEYS || key.startsWith(DELETE_FROM) ||
        key.startsWith(SET_ORDER) || patch[key] === null
      ) {
        continue;
      }
      if (!retained.has(key)) {
        throw bad(path, `field "${key}" is not in the $retainKeys list`);
      }
    }
    for (const key of Object.keys(original)) {
      if (!retained.has(key)) delete original[key];
    }
  }

  /**
   * Merges every list named by a `$setElementOrder` directive and puts it in
   * order. Returns the patch keys it consumed.
   */
  private orderedLists(
    original: JsonObject,
    patch: JsonObject,
    schema: PatchSchema | undefined,
    path: string,
  ): Set<string> {
    const done = new Set<string>();
    for (const key of Object.keys(patch)) {
      if (!key.startsWith(SET_ORDER)) continue;
      const order = patch[key] as JsonValue;
      done.add(key);
      if (!this.apply) {
        if (has(original, key) && !deepEqual(original[key], order)) {
          throw bad(path, `the two ${key} lists differ`);
        }
        original[key] = order;
      }
      const name = directiveTarget(key, SET_ORDER, path);
      const listPath = child(path, name);
      if (!Array.isArray(order)) {
        throw bad(path, `${key} must be a list, got ${typeName(order)}`);
      }
      const sub = fieldSchema(schema, name);
      const mergeKey = sub?.patchMergeKey;
      const live = own(original, name);
      const given = own(patch, name);
      if (live !== undefined && !Array.isArray(live)) {
        throw bad(listPath, `expected a list, got ${typeName(live)}`);
      }
      if (given !== undefined && !Array.isArray(given)) {
        throw bad(listPath, `expected a list, got ${typeName(given)}`);
      }
      const kind = elementKind([live ?? [], given ?? [], order], listPath);
      if (kind === "object" && mergeKey === undefined) {
        throw bad(listPath, `${key} needs a list with a merge key`);
      }
      checkOrder(given ?? [], order, mergeKey, listPath);
      let merged: MergedList;
      if (live && given) {
        merged = this.mergeListField(live, given, sub, listPath);
      } else if (live) {
        merged = { list: live, serverOrder: live };
      } else if (given) {
        const made = this.carry(given, sub, listPath);
        merged = { list: made === DROP ? [] : made as JsonValue[], serverOrder: [] };
      } else {
        continue;
      }
      done.add(name);
      if (kind === undefined) {
        original[name] = merged.list;
        continue;
      }
      const [inOrder, serverOnly] = partition(
        merged.list,
        order,
        mergeKey,
        listPath,
      );
      original[name] = normalizeOrder(
        inOrder,
        serverOnly,
        order,
        merged.serverOrder,
        mergeKey,
        listPath,
      );
    }
    return done;
  }

  /** Merges a list field: by its strategy, or replaced. */
  private mergeListField(
    live: JsonValue[],
    given: JsonValue[],
    schema: PatchSchema | undefined,
    path: string,
  ): MergedList {
    if (!mergesList(schema)) {
      const made = this.carry(given, schema, path);
      return { list: made === DROP ? [] : made as JsonValue[], serverOrder: live };
    }
    return this.mergeList(live, given, schema, path);
  }

  private mergeList(
    live: JsonValue[],
    given: JsonValue[],
    schema: PatchSchema | undefined,
    path: string,
  ): MergedList {
    if (live.length === 0 && given.length === 0) {
      return { list: live, serverOrder: live };
    }
    const kind = elementKind([live, given], path);
    if (kind === "scalar") {
      const merged = [...new Set([...live, ...given])];
      const [inPatch, serverOnly] = partition(merged, given, undefined, path);
      return {
        list: normalizeOrder(inPatch, serverOnly, given, live, undefined, path),
        serverOrder: live,
      };
    }
    const mergeKey = schema?.patchMergeKey;
    if (mergeKey === undefined) {
      throw bad(path, "this list of objects has no merge key to merge by");
    }
    let replace = false;
    const deleted = new Set<JsonValue>();
    const plain: JsonValue[] = [];
    for (const [i, item] of given.entries()) {
      if (!isObject(item) || !has(item, PATCH)) {
        plain.push(item);
        continue;
      }
      const directive = item[PATCH] as JsonValue;
      this.checkDirective(directive, `${path}[${i}]`);
      if (directive === "delete") {
        deleted.add(keyOf(item, mergeKey, `${path}[${i}]`));
      } else if (directive === "replace") {
        replace = true;
      }
    }
    if (replace) {
      const made = this.carry(plain, schema, path);
      const list = made === DROP ? [] : made as JsonValue[];
      return { list, serverOrder: live };
    }
    const remaining = live.filter((other) =>
      !(isObject(other) && has(other, mergeKey) &&
        deleted.has(other[mergeKey] as JsonValue))
    );
    const merged = [...remaining];
    const positions = new Map<JsonValue, number>();
    for (const [i, other] of merged.entries()) {
      const value = isObject(other) ? own(other, mergeKey) : undefined;
      if (value !== undefined && !positions.has(value)) positions.set(value, i);
    }
    for (const [i, item] of plain.entries()) {
      const value = keyOf(item, mergeKey, `${path}[${i}]`);
      const at = positions.get(value) ?? -1;
      const itemAt = itemPath(path, mergeKey, value);
      if (at >= 0) {
        merged[at] = this.mergeMap(
          merged[at] as JsonObject,
          item as JsonObject,
          schema,
          itemAt,
        );
      } else {
        const made = this.carry(item, schema, itemAt);
        if (made !== DROP) positions.set(value, merged.push(made) - 1);
      }
    }
    const [inPatch, serverOnly] = partition(merged, plain, mergeKey, path);
    return {
      list: normalizeOrder(inPatch, serverOnly, plain, remaining, mergeKey, path),
      // The live list compacted by the deletions and refilled by the
      // additions, cut to its old length: the order the API server sorts
      // server-only items against when a $setElementOrder follows.
      serverOrder: merged.slice(0, live.length),
    };
  }

  /** Carries out `$deleteFromPrimitiveList/<name>`. */
  private deleteFromList(
    original: JsonObject,
    key: string,
    value: JsonValue,
    path: string,
  ): void {
    const name = directiveTarget(key, DELETE_FROM, path);
    const listPath = child(path, name);
    if (!Array.isArray(value) || value.some((item) => kindOf(item) !== "scalar")) {
      throw bad(path, `${key} must be a list of scalars`);
    }
    const live = own(original, name);
    if (!Array.isArray(live)) return;
    if (elementKind([live], listPath) === "object") {
      throw bad(listPath, `${key} applies to lists of scalars only`);
    }
    const remove = new Set(value);
    original[name] = live.filter((item) => !remove.has(item));
  }
}

interface DiffOptions {
  ignoreChangesAndAdditions?: boolean;
  ignoreDeletions?: boolean;
  setElementOrder?: boolean;
  buildRetainKeys?: boolean;
}

function diffMaps(
  original: JsonObject,
  modified: JsonObject,
  schema: PatchSchema | undefined,
  options: DiffOptions,
  path: string,
): JsonObject {
  const patch: JsonObject = {};
  const retained: string[] = [];
  for (const key of Object.keys(modified)) {
    const after = modified[key] as JsonValue;
    if (options.buildRetainKeys && after !== null) retained.push(key);
    if (!has(original, key)) {
      if (!options.ignoreChangesAndAdditions) patch[key] = clone(after);
      continue;
    }
    const before = original[key] as JsonValue;
    const sub = fieldSchema(schema, key);
    if (kindOf(before) !== kindOf(after)) {
      if (!options.ignoreChangesAndAdditions) patch[key] = clone(after);
    } else if (isObject(before) && isObject(after)) {
      diffObjectField(key, before, after, patch, sub, options, path);
    } else if (Array.isArray(before) && Array.isArray(after)) {
      diffListField(key, before, after, patch, sub, options, path);
    } else if (!options.ignoreChangesAndAdditions && !deepEqual(before, after)) {
      patch[key] = after;
    }
  }
  if (!options.ignoreDeletions) {
    for (const key of Object.keys(original)) {
      if (!has(modified, key)) patch[key] = null;
    }
  }
  const dropsFields = Object.keys(original).some((key) => original[key] !== null && !has(modified, key));
  if (retained.length > 0 && (Object.keys(patch).length > 0 || dropsFields)) {
    patch[RETAIN_KEYS] = retained.sort();
  }
  return patch;
}

function diffObjectField(
  key: string,
  before: JsonObject,
  after: JsonObject,
  patch: JsonObject,
  schema: PatchSchema | undefined,
  options: DiffOptions,
  path: string,
): void {
  if (schema?.patchStrategy === "replace") {
    if (!options.ignoreChangesAndAdditions && !deepEqual(before, after)) {
      patch[key] = clone(after);
    }
    return;
  }
  const sub = diffMaps(before, after, schema, {
    ...options,
    buildRetainKeys: retainsKeys(schema),
  }, child(path, key));
  if (Object.keys(sub).length > 0) patch[key] = sub;
}

function diffListField(
  key: string,
  before: JsonValue[],
  after: JsonValue[],
  patch: JsonObject,
  schema: PatchSchema | undefined,
  options: DiffOptions,
  path: string,
): void {
  if (!mergesList(schema)) {
    if (!options.ignoreChangesAndAdditions && !deepEqual(before, after)) {
      patch[key] = clone(after);
    }
    return;
  }
  const lists = diffLists(before, after, schema, {
    ...options,
    buildRetainKeys: retainsKeys(schema),
  }, child(path, key));
  if (lists.patch.length > 0) patch[key] = lists.patch;
  if (lists.deletions.length > 0) patch[DELETE_FROM + key] = lists.deletions;
  if (lists.order.length > 0) patch[SET_ORDER + key] = lists.order;
}

interface ListDiff {
  patch: JsonValue[];
  deletions: JsonValue[];
  order: JsonValue[];
}

function diffLists(
  original: JsonValue[],
  modified: JsonValue[],
  schema: PatchSchema | undefined,
  options: DiffOptions,
  path: string,
): ListDiff {
  if (original.length === 0) {
    const patch = modified.length === 0 || options.ignoreChangesAndAdditions ? [] : clone(modified);
    return { patch, deletions: [], order: [] };
  }
  const kind = elementKind([original, modified], path);
  if (kind === "object") {
    const mergeKey = schema?.patchMergeKey;
    if (mergeKey === undefined) {
      throw bad(path, "this list of objects has no merge key to merge by");
    }
    const { changed, deleted } = diffListsOfObjects(
      original,
      modified,
      schema,
      mergeKey,
      options,
      path,
    );
    const patch = [
      ...sortByOrder(changed, modified, mergeKey, path),
      ...deleted,
    ];
    const sameOrder = original.length === modified.length &&
      modified.every((item, i) =>
        keyOf(item, mergeKey, path) ===
          keyOf(original[i] as JsonValue, mergeKey, path)
      );
    const wantOrder = options.setElementOrder &&
      ((!options.ignoreChangesAndAdditions &&
        (patch.length > 0 || !sameOrder)) ||
        (!options.ignoreDeletions && patch.length > 0));
    const order = wantOrder ? modified.map((item) => ({ [mergeKey]: keyOf(item, mergeKey, path) })) : [];
    return { patch, deletions: [], order };
  }
  const { added, deleted } = diffListsOfScalars(original, modified, options);
  const wantOrder = options.setElementOrder &&
    ((!options.ignoreDeletions && deleted.length > 0) ||
      (!options.ignoreChangesAndAdditions && !deepEqual(original, modified)));
  return {
    patch: sortByOrder(added, modified, undefined, path),
    deletions: deleted,
    order: wantOrder ? clone(modified) : [],
  };
}

/** Compares two scalars as the Go implementation does: by their text. */
function byText(a: JsonValue, b: JsonValue): number {
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function diffListsOfObjects(
  original: JsonValue[],
  modified: JsonValue[],
  schema: PatchSchema | undefined,
  mergeKey: string,
  options: DiffOptions,
  path: string,
): { changed: JsonValue[]; deleted: JsonValue[] } {
  const sortByKey = (list: JsonValue[]) =>
    list.map((item) => ({ item, key: keyOf(item, mergeKey, path) }))
      .sort((a, b) => byText(a.key, b.key));
  const before = sortByKey(original);
  const after = sortByKey(modified);
  const changed: JsonValue[] = [];
  const deleted: JsonValue[] = [];
  let o = 0;
  let m = 0;
  while (o < before.length || m < after.length) {
    const left = before[o];
    const right = after[m];
    const order = left && right ? byText(left.key, right.key) : left ? -1 : 1;
    if (left && right && order === 0) {
      const sub = diffMaps(
        left.item as JsonObject,
        right.item as JsonObject,
        schema,
        options,
        itemPath(path, mergeKey, right.key),
      );
      if (Object.keys(sub).length > 0) {
        sub[mergeKey] = right.key;
        changed.push(sub);
      }
      o++;
      m++;
    } else if (right && order > 0) {
      if (!options.ignoreChangesAndAdditions) changed.push(clone(right.item));
      m++;
    } else if (left) {
      if (!options.ignoreDeletions) {
        deleted.push({ [mergeKey]: left.key, [PATCH]: "delete" });
      }
      o++;
    }
  }
  return { changed, deleted };
}

function diffListsOfScalars(
  original: JsonValue[],
  modified: JsonValue[],
  options: DiffOptions,
): { added: JsonValue[]; deleted: JsonValue[] } {
  const before = [...original].sort(byText);
  const after = [...modified].sort(byText);
  const added: JsonValue[] = [];
  const deleted: JsonValue[] = [];
  let o = 0;
  let m = 0;
  while (o < before.length || m < after.length) {
    const order = o < before.length && m < after.length
      ? byText(before[o] as JsonValue, after[m] as JsonValue)
      : o < before.length
      ? -1
      : 1;
    if (order === 0) {
      o++;
      m++;
    } else if (order > 0) {
      if (!options.ignoreChangesAndAdditions) added.push(after[m] as JsonValue);
      m++;
    } else {
      if (!options.ignoreDeletions) deleted.push(before[o] as JsonValue);
      o++;
    }
  }
  return { added, deleted: [...new Set(deleted)] };
}
