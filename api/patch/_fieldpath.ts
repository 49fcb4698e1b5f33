/**
 * Field paths and field sets in Kubernetes' FieldsV1 form, as server-side
 * apply records them in `metadata.managedFields`: a path is a list of
 * tokens, `f:<field>` for an object field, `k:{"name":"web"}` for the item of
 * a keyed list, `v:"value"` for the item of a set, `i:<n>` for a position.
 *
 * {@linkcode collectFields} walks an object with its patch schema and lists
 * every path it sets (Kubernetes' `ToFieldSet`): scalars, atomic lists and
 * objects, empty objects, and the items of keyed lists and sets, with the
 * value at each path so that two objects can be compared.
 *
 * @module
 */

import { BadRequestError } from "../errors.ts";
import { deepEqual, has, isObject, type JsonObject, type JsonValue, own, typeName } from "./_json.ts";
import { fieldSchema, listMapKeysOf, listTypeOf, type PatchSchema } from "./schema.ts";

/** A field path: FieldsV1 tokens from the object's root. */
export type FieldPath = readonly string[];

/** A string naming a path, usable as a map key. */
export function pathKey(path: FieldPath): string {
  return JSON.stringify(path);
}

/** A set of field paths. */
export class FieldSet {
  #paths = new Map<string, FieldPath>();

  /** A set holding `paths`. */
  constructor(paths: Iterable<FieldPath> = []) {
    for (const path of paths) this.add(path);
  }

  /** Adds a path. */
  add(path: FieldPath): void {
    this.#paths.set(pathKey(path), path);
  }

  /** True when the set holds `path`. */
  has(path: FieldPath): boolean {
    return this.#paths.has(pathKey(path));
  }

  /** How many paths the set holds. */
  get size(): number {
    return this.#paths.size;
  }

  /** The paths, in insertion order. */
  [Symbol.iterator](): IterableIterator<FieldPath> {
    return this.#paths.values();
  }

  /** The paths of this set or `other`. */
  union(other: FieldSet): FieldSet {
    return new FieldSet([...this, ...other]);
  }

  /** The paths of this set that `other` lacks. */
  difference(other: FieldSet): FieldSet {
    return new FieldSet([...this].filter((path) => !other.has(path)));
  }

  /** The paths in both sets. */
  intersection(other: FieldSet): FieldSet {
    return new FieldSet([...this].filter((path) => other.has(path)));
  }

  /** True when both sets hold the same paths. */
  equals(other: FieldSet): boolean {
    return this.size === other.size && [...this].every((p) => other.has(p));
  }
}

const TOKEN = /^[fkvi]:/;

/**
 * The set a FieldsV1 object describes, or undefined when it is malformed.
 * Each key is `.` (the enclosing path itself is a member) or a token; a
 * token whose value is `{}` is a member.
 */
export function parseFieldsV1(fields: unknown): FieldSet | undefined {
  const set = new FieldSet();
  return walkFieldsV1(fields, [], set, 0) ? set : undefined;
}

function walkFieldsV1(
  node: unknown,
  prefix: string[],
  set: FieldSet,
  depth: number,
): boolean {
  if (!isObject(node) || depth > 100) return false;
  for (const key of Object.keys(node)) {
    const child = node[key];
    if (!isObject(child)) return false;
    if (key === ".") {
      if (prefix.length === 0 || Object.keys(child).length > 0) return false;
      set.add(prefix);
      continue;
    }
    if (!TOKEN.test(key) || !validToken(key)) return false;
    const path = [...prefix, key];
    if (Object.keys(child).length === 0) {
      set.add(path);
    } else if (!walkFieldsV1(child, path, set, depth + 1)) {
      return false;
    }
  }
  return true;
}

function validToken(token: string): boolean {
  const body = token.slice(2);
  switch (token[0]) {
    case "f":
      return true;
    case "i":
      return /^(0|[1-9][0-9]*)$/.test(body);
    default:
      try {
        const value = JSON.parse(body);
        return token[0] === "v" ? !isObject(value) && !Array.isArray(value) : isObject(value) &&
          Object.values(value).every((v) => !isObject(v) && !Array.isArray(v));
      } catch {
        return false;
      }
  }
}

interface TrieNode {
  member: boolean;
  children: Map<string, TrieNode>;
}

/**
 * The FieldsV1 object of a set, keys sorted as Kubernetes writes them: `.`
 * first, then fields, keys, values and indices.
 */
export function formatFieldsV1(set: FieldSet): JsonObject {
  const root: TrieNode = { member: false, children: new Map() };
  for (const path of set) {
    let node = root;
    for (const token of path) {
      let next = node.children.get(token);
      if (!next) {
        next = { member: false, children: new Map() };
        node.children.set(token, next);
      }
      node = next;
    }
    node.member = true;
  }
  return emit(root);
}

function emit(node: TrieNode): JsonObject {
  const out: JsonObject = {};
  if (node.member && node.children.size > 0) out["."] = {};
  for (const token of [...node.children.keys()].sort(compareTokens)) {
    out[token] = emit(node.children.get(token) as TrieNode);
  }
  return out;
}

const RANK: Record<string, number> = { f: 0, k: 1, v: 2, i: 3 };

function compareTokens(a: string, b: string): number {
  const rank = (RANK[a[0] as string] ?? 4) - (RANK[b[0] as string] ?? 4);
  if (rank !== 0) return rank;
  if (a[0] === "i") return Number(a.slice(2)) - Number(b.slice(2));
  if (a[0] === "f") return a < b ? -1 : a > b ? 1 : 0;
  return compareValues(JSON.parse(a.slice(2)), JSON.parse(b.slice(2)));
}

function compareValues(a: JsonValue, b: JsonValue): number {
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
      const name = compareValues(ka[i] as string, kb[i] as string);
      if (name !== 0) return name;
      const value = compareValues(
        a[ka[i] as string] as JsonValue,
        b[kb[i] as string] as JsonValue,
      );
      if (value !== 0) return value;
    }
    return ka.length - kb.length;
  }
  const order = ["object", "boolean", "number", "string"];
  const ta = a === null ? "object" : typeof a;
  const tb = b === null ? "object" : typeof b;
  if (ta !== tb) return order.indexOf(ta) - order.indexOf(tb);
  if (a === b || a === null) return 0;
  return (a as string | number | boolean) < (b as string | number | boolean) ? -1 : 1;
}

/**
 * A path as Kubernetes prints it in conflict messages:
 * `.spec.template.spec.containers[name="web"].image`.
 */
export function formatPath(path: FieldPath): string {
  return path.map((token) => {
    const body = token.slice(2);
    switch (token[0]) {
      case "f":
        return `.${body}`;
      case "i":
        return `[${body}]`;
      case "v":
        return `[=${body}]`;
      default: {
        const key = JSON.parse(body) as JsonObject;
        return `[${
          Object.keys(key).map((name) => `${name}=${JSON.stringify(key[name])}`)
            .join(",")
        }]`;
      }
    }
  }).join("");
}

/** The `f:` token of a field. */
export function fieldToken(name: string): string {
  return `f:${name}`;
}

/**
 * The `k:` token of an item of a keyed list, or a reason why the item has
 * none (not an object, a key missing with no default, a key not a scalar).
 */
export function itemToken(
  item: JsonValue,
  schema: PatchSchema | undefined,
): { token: string } | { problem: string } {
  if (!isObject(item)) {
    return { problem: `list item is ${typeName(item)}, not an object` };
  }
  const keys = [...listMapKeysOf(schema)].sort();
  if (keys.length === 0) return { problem: "list has no keys" };
  const key: JsonObject = {};
  for (const name of keys) {
    let value = own(item, name);
    if (value === undefined || value === null) {
      const defaults = schema?.listMapKeyDefaults;
      value = defaults && Object.hasOwn(defaults, name) ? defaults[name] : undefined;
    }
    if (value === undefined) {
      return { problem: `list item lacks its key "${name}"` };
    }
    if (isObject(value) || Array.isArray(value)) {
      return { problem: `key "${name}" of a list item is not a scalar` };
    }
    key[name] = value;
  }
  return { token: `k:${JSON.stringify(key)}` };
}

/** The `v:` token of an item of a set, or a reason why it has none. */
export function valueToken(item: JsonValue): { token: string } | {
  problem: string;
} {
  if (isObject(item) || Array.isArray(item)) {
    return { problem: `set item is ${typeName(item)}, not a scalar` };
  }
  return { token: `v:${JSON.stringify(item)}` };
}

/**
 * The tokens of the items of a keyed list or set, or a problem: an item
 * without a token, or two items with the same one.
 */
export function listTokens(
  list: readonly JsonValue[],
  schema: PatchSchema | undefined,
): { tokens: string[] } | { problem: string } {
  const type = listTypeOf(schema);
  const tokens: string[] = [];
  const seen = new Set<string>();
  for (const item of list) {
    const made = type === "map" ? itemToken(item, schema) : valueToken(item);
    if ("problem" in made) return made;
    if (seen.has(made.token)) {
      return { problem: `duplicate entries for ${made.token.slice(2)}` };
    }
    seen.add(made.token);
    tokens.push(made.token);
  }
  return { tokens };
}

/** Marks a path that is a list item rather than a value. */
export const ITEM: unique symbol = Symbol("item");

/** Every path an object sets, with its value (or {@linkcode ITEM}). */
export type FieldValues = Map<string, {
  path: FieldPath;
  value: JsonValue | typeof ITEM;
}>;

/** Options of {@linkcode collectFields}. */
export interface CollectOptions {
  /**
   * Refuse a keyed list or set whose items lack keys or repeat one, with a
   * `BadRequestError` naming `what`. When false, such a list is treated as
   * atomic, as a live object's list may be.
   */
  strict?: { what: string };
  /** Paths left out, with everything below them. */
  skip?: (path: FieldPath) => boolean;
}

/**
 * Every path `value` sets, with the value there: scalars, atomic lists and
 * objects, empty objects, and each item of keyed lists and sets (whose
 * fields are walked too). An empty keyed list or set sets nothing.
 */
export function collectFields(
  value: JsonObject,
  schema: PatchSchema | undefined,
  options: CollectOptions = {},
): FieldValues {
  const out: FieldValues = new Map();
  const put = (path: FieldPath, v: JsonValue | typeof ITEM) => {
    if (!options.skip?.(path)) out.set(pathKey(path), { path, value: v });
  };
  const walkObject = (
    object: JsonObject,
    sub: PatchSchema | undefined,
    path: string[],
  ) => {
    for (const key of Object.keys(object)) {
      const childPath = [...path, fieldToken(key)];
      if (options.skip?.(childPath)) continue;
      walk(object[key] as JsonValue, fieldSchema(sub, key), childPath);
    }
  };
  const walk = (v: JsonValue, sub: PatchSchema | undefined, path: string[]) => {
    if (isObject(v)) {
      if (sub?.atomic || Object.keys(v).length === 0) {
        put(path, v);
      } else {
        walkObject(v, sub, path);
      }
    } else if (Array.isArray(v)) {
      walkList(v, sub, path);
    } else {
      put(path, v);
    }
  };
  const walkList = (
    list: JsonValue[],
    sub: PatchSchema | undefined,
    path: string[],
  ) => {
    const type = listTypeOf(sub);
    if (type === "atomic") {
      put(path, list);
      return;
    }
    const made = listTokens(list, sub);
    if ("problem" in made) {
      if (options.strict) {
        throw new BadRequestError(
          `Invalid ${options.strict.what}: ${formatPath(path)}: ${made.problem}`,
        );
      }
      put(path, list);
      return;
    }
    for (const [i, token] of made.tokens.entries()) {
      const itemPath = [...path, token];
      put(itemPath, ITEM);
      if (type === "map") walkObject(list[i] as JsonObject, sub, itemPath);
    }
  };
  walkObject(value, schema, []);
  return out;
}

/** The set of paths of some field values. */
export function pathsOf(values: FieldValues): FieldSet {
  return new FieldSet([...values.values()].map((entry) => entry.path));
}

/** The paths whose value changed, appeared, or disappeared from `before` to `after`. */
export function compareFields(
  before: FieldValues,
  after: FieldValues,
): { modified: FieldSet; added: FieldSet; removed: FieldSet } {
  const modified = new FieldSet();
  const added = new FieldSet();
  const removed = new FieldSet();
  for (const [key, entry] of after) {
    const old = before.get(key);
    if (!old) {
      added.add(entry.path);
      continue;
    }
    const same = old.value === ITEM || entry.value === ITEM
      ? old.value === entry.value
      : deepEqual(old.value, entry.value);
    if (!same) modified.add(entry.path);
  }
  for (const [key, entry] of before) {
    if (!after.has(key)) removed.add(entry.path);
  }
  return { modified, added, removed };
}

/**
 * Where `token` leads below `container`: the object key or list index, and
 * the schema of the value there; undefined when the object has no such
 * field or item.
 */
export function locate(
  container: JsonValue,
  token: string,
  schema: PatchSchema | undefined,
): { at: string | number; schema: PatchSchema | undefined } | undefined {
  const body = token.slice(2);
  if (token.startsWith("f:")) {
    return isObject(container) && has(container, body) ? { at: body, schema: fieldSchema(schema, body) } : undefined;
  }
  if (!Array.isArray(container)) return undefined;
  if (token.startsWith("i:")) {
    const index = Number(body);
    return index < container.length ? { at: index, schema } : undefined;
  }
  const index = container.findIndex((item) => {
    const made = token.startsWith("k:") ? itemToken(item, schema) : valueToken(item);
    return "token" in made && made.token === token;
  });
  return index >= 0 ? { at: index, schema } : undefined;
}
