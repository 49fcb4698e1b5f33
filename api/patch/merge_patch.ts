/**
 * JSON merge patch (RFC 7386, `application/merge-patch+json`): apply a patch,
 * compute the patch between two documents, and the three-way patch that
 * `kubectl apply` sends for kinds without strategic merge metadata.
 *
 * In a merge patch an object is merged key by key, `null` deletes a key, and
 * any other value (lists included) replaces the target's value whole. So a
 * merge patch cannot set a value to `null`: a `null` in `modified` becomes a
 * deletion in the patch.
 *
 * @module
 */

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
import { BadRequestError } from "../errors.ts";

/**
 * Applies a JSON merge patch to a copy of `target` and returns the result.
 * Neither argument is modified.
 *
 * @throws {BadRequestError} when either argument is not a JSON value, nests
 * too deep, or has a `__proto__` key.
 *
 * @example
 * ```ts
 * applyMergePatch({ a: 1, b: { c: 2 } }, { a: null, b: { d: 3 } });
 * // => { b: { c: 2, d: 3 } }
 * ```
 */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  assertJson(target, "merge patch target");
  assertJson(patch, "merge patch");
  return merge(target, patch);
}

function merge(target: JsonValue | undefined, patch: JsonValue): JsonValue {
  if (!isObject(patch)) return clone(patch);
  const out: JsonObject = isObject(target) ? clone(target) : {};
  for (const key of Object.keys(patch)) {
    const value = patch[key] as JsonValue;
    if (value === null) {
      delete out[key];
    } else {
      out[key] = merge(own(out, key), value);
    }
  }
  return out;
}

/**
 * Computes the JSON merge patch that turns `original` into `modified`. Two
 * objects give an object holding only the differences (`{}` when equal);
 * anything else gives `modified` itself, which replaces `original` whole.
 *
 * @throws {BadRequestError} when either argument is not a JSON value.
 *
 * @example
 * ```ts
 * createMergePatch({ a: 1, b: [1] }, { b: [1, 2], c: true });
 * // => { a: null, b: [1, 2], c: true }
 * ```
 */
export function createMergePatch(original: unknown, modified: unknown): unknown {
  assertJson(original, "original document");
  assertJson(modified, "modified document");
  return diff(original, modified);
}

function diff(original: JsonValue, modified: JsonValue): JsonValue {
  if (!isObject(original) || !isObject(modified)) return clone(modified);
  return diffObjects(original, modified);
}

function diffObjects(original: JsonObject, modified: JsonObject): JsonObject {
  const patch: JsonObject = {};
  for (const key of Object.keys(modified)) {
    const after = modified[key] as JsonValue;
    if (!has(original, key)) {
      patch[key] = clone(after);
      continue;
    }
    const before = original[key] as JsonValue;
    if (isObject(before) && isObject(after)) {
      const sub = diffObjects(before, after);
      if (Object.keys(sub).length > 0) patch[key] = sub;
    } else if (!deepEqual(before, after)) {
      patch[key] = clone(after);
    }
  }
  for (const key of Object.keys(original)) {
    if (!has(modified, key)) patch[key] = null;
  }
  return patch;
}

/** The three documents of a client-side apply. */
export interface ThreeWayInput {
  /**
   * The configuration applied last time (the
   * `kubectl.kubernetes.io/last-applied-configuration` annotation), or
   * undefined on the first apply.
   */
  lastApplied?: Readonly<Record<string, unknown>> | undefined;
  /** The configuration being applied now. */
  modified: Readonly<Record<string, unknown>>;
  /** The live object. */
  current: Readonly<Record<string, unknown>>;
}

/**
 * Computes the JSON merge patch `kubectl apply` sends for a kind without
 * strategic merge metadata: every addition or change from `current` to
 * `modified`, plus a deletion (`null`) for every field that was in
 * `lastApplied` but is gone from `modified`. Fields that only `current` has
 * (set by the server or by other writers) are left alone. An empty object
 * means there is nothing to send.
 *
 * @throws {BadRequestError} when a document is not a JSON object.
 *
 * @example
 * ```ts
 * createThreeWayMergePatch({
 *   lastApplied: { spec: { a: 1, b: 2 } },
 *   modified: { spec: { a: 3 } },
 *   current: { spec: { a: 1, b: 2, c: 9 } },
 * });
 * // => { spec: { a: 3, b: null } }
 * ```
 */
export function createThreeWayMergePatch(input: ThreeWayInput): Record<string, unknown> {
  const lastApplied = input.lastApplied ?? {};
  for (
    const [what, doc] of [["last-applied configuration", lastApplied], ["modified configuration", input.modified], [
      "current object",
      input.current,
    ]] as const
  ) {
    assertJson(doc, what);
    if (!isObject(doc)) {
      throw new BadRequestError(
        `Invalid ${what}: expected an object, got ${typeName(doc)}`,
      );
    }
  }
  const lastObject = lastApplied as JsonObject;
  const modified = input.modified as JsonObject;
  const current = input.current as JsonObject;
  const additions = withoutNulls(diffObjects(current, modified));
  const deletions = onlyNulls(diffObjects(lastObject, modified));
  return merge(deletions, additions) as JsonObject;
}

/** The patch without its deletions; empty objects set explicitly are kept. */
function withoutNulls(patch: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const key of Object.keys(patch)) {
    const value = patch[key] as JsonValue;
    if (value === null) continue;
    if (isObject(value) && Object.keys(value).length > 0) {
      const sub = withoutNulls(value);
      if (Object.keys(sub).length > 0) out[key] = sub;
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** Only the deletions of the patch. */
function onlyNulls(patch: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const key of Object.keys(patch)) {
    const value = patch[key] as JsonValue;
    if (value === null) {
      out[key] = null;
    } else if (isObject(value) && Object.keys(value).length > 0) {
      const sub = onlyNulls(value);
      if (Object.keys(sub).length > 0) out[key] = sub;
    }
  }
  return out;
}
