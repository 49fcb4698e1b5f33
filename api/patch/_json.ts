/**
 * JSON value helpers shared by the patch engines: validation of untrusted
 * input, deep copy, deep equality and own-property access. Every engine
 * validates its inputs with {@linkcode assertJson} first, so the rest of the
 * code may assume plain JSON trees without `__proto__` keys.
 *
 * @module
 */

import { BadRequestError } from "../errors.ts";

/** A JSON scalar. */
export type JsonPrimitive = string | number | boolean | null;
/** Any JSON value. */
export type JsonValue = JsonPrimitive | JsonValue[] | JsonObject;
/** A JSON object. */
export interface JsonObject {
  [key: string]: JsonValue;
}

/** Deepest nesting accepted in any input; deeper input is refused, not recursed into. */
export const MAX_DEPTH = 1000;

/** True for a JSON object (not an array, not null). */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The own property `key` of `object`, never an inherited one. */
export function own(object: JsonObject, key: string): JsonValue | undefined {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/** True when `object` has `key` as an own property. */
export function has(object: JsonObject, key: string): boolean {
  return Object.hasOwn(object, key);
}

/** A short name for the JSON type of a value, for error messages. */
export function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "list";
  if (typeof value === "object") return "object";
  return typeof value;
}

/**
 * Checks that `value` is a JSON tree: plain objects, arrays, strings, finite
 * numbers, booleans and null, nested at most {@linkcode MAX_DEPTH} deep, with
 * no `__proto__` key anywhere. Throws a `BadRequestError` naming `what` and
 * the JSON path of the first offending value.
 */
export function assertJson(value: unknown, what: string): asserts value is JsonValue {
  const problem = findProblem(value, "", 0);
  if (problem) {
    const where = problem.path === "" ? "" : ` at "${problem.path}"`;
    throw new BadRequestError(`Invalid ${what}: ${problem.message}${where}`);
  }
}

interface Problem {
  path: string;
  message: string;
}

function findProblem(value: unknown, path: string, depth: number): Problem | undefined {
  if (depth > MAX_DEPTH) {
    return { path, message: `nested deeper than ${MAX_DEPTH} levels` };
  }
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined;
    case "number":
      return Number.isFinite(value) ? undefined : { path, message: `number ${value} is not valid JSON` };
    case "object": {
      if (value === null) return undefined;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          if (!(i in value)) return { path: `${path}[${i}]`, message: "list has a hole" };
          const found = findProblem(value[i], `${path}[${i}]`, depth + 1);
          if (found) return found;
        }
        return undefined;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        return { path, message: "value is not a plain object" };
      }
      for (const key of Object.keys(value)) {
        const child = path === "" ? key : `${path}.${key}`;
        if (key === "__proto__") return { path: child, message: 'key "__proto__" is not allowed' };
        const found = findProblem((value as Record<string, unknown>)[key], child, depth + 1);
        if (found) return found;
      }
      return undefined;
    }
    default:
      return { path, message: `${typeof value} is not a JSON value` };
  }
}

/** A deep copy of a JSON value made of fresh plain objects and arrays. */
export function clone<T extends JsonValue>(value: T): T {
  if (Array.isArray(value)) return value.map((item) => clone(item)) as T;
  if (isObject(value)) {
    const out: JsonObject = {};
    for (const key of Object.keys(value)) out[key] = clone(value[key] as JsonValue);
    return out as T;
  }
  return value;
}

/** Deep equality of two JSON values; object key order does not matter. */
export function deepEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => deepEqual(item, b[i]));
  }
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    return keys.every((key) => has(b, key) && deepEqual(a[key], b[key]));
  }
  return false;
}
