/**
 * JSON Patch (RFC 6902, `application/json-patch+json`): a list of `add`,
 * `remove`, `replace`, `move`, `copy` and `test` operations applied in order
 * to a copy of a document. The operations themselves are carried out by the
 * `fast-json-patch` package; this module validates the patch first and
 * resolves every path through own properties only, because that package
 * bans `__proto__` but still follows inherited properties (it lets
 * `replace /constructor` succeed on an object that has no such field, and
 * `copy` a function out of `/constructor`).
 *
 * Errors follow the Kubernetes API server: a malformed patch is a
 * `BadRequestError` (400), a well-formed patch that cannot be applied to this
 * document (missing path, failed `test`) is an `InvalidError` (422), and more
 * than {@linkcode MAX_JSON_PATCH_OPERATIONS} operations is a `TooLargeError`.
 *
 * Skiff follows RFC 6902 where Kubernetes' JSON patch library does not: a
 * `replace` of an object member that does not exist fails here, while the
 * Kubernetes API server adds the member.
 *
 * @module
 */

import jsonpatch from "fast-json-patch";
import { BadRequestError, InvalidError, TooLargeError } from "../errors.ts";
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

/** The most operations one patch may hold, as in the Kubernetes API server. */
export const MAX_JSON_PATCH_OPERATIONS = 10000;

/** One RFC 6902 operation. */
export interface JsonPatchOperation {
  /** What to do. */
  op: "add" | "remove" | "replace" | "move" | "copy" | "test";
  /** JSON pointer (RFC 6901) of the target location. */
  path: string;
  /** JSON pointer of the source, for `move` and `copy`. */
  from?: string;
  /** The value to add, set or compare, for `add`, `replace` and `test`. */
  value?: unknown;
}

const OPERATIONS = new Set(["add", "remove", "replace", "move", "copy", "test"]);

/**
 * Applies a JSON patch to a copy of `document` and returns the result; the
 * arguments are not modified. The result may be any JSON value (an operation
 * on the path `""` replaces the whole document): callers that need an
 * object check it.
 *
 * @throws {BadRequestError} when the patch is not a list of valid operations,
 * or an operation touches a `__proto__` key.
 * @throws {InvalidError} when an operation cannot be applied to the
 * document: its path does not exist, or a `test` fails. The cause names the
 * path and the operation's index.
 * @throws {TooLargeError} when the patch has too many operations.
 *
 * @example
 * ```ts
 * applyJsonPatch({ spec: { replicas: 1 } }, [
 *   { op: "test", path: "/spec/replicas", value: 1 },
 *   { op: "replace", path: "/spec/replicas", value: 3 },
 * ]);
 * // => { spec: { replicas: 3 } }
 * ```
 */
export function applyJsonPatch(document: unknown, patch: unknown): unknown {
  assertJson(document, "JSON patch target");
  assertJson(patch, "JSON patch");
  if (!Array.isArray(patch)) {
    throw new BadRequestError(
      `Invalid JSON patch: expected a list of operations, got ${typeName(patch)}`,
    );
  }
  if (patch.length > MAX_JSON_PATCH_OPERATIONS) {
    throw new TooLargeError(
      `JSON patch has ${patch.length} operations: at most ${MAX_JSON_PATCH_OPERATIONS} are allowed`,
    );
  }
  const operations = patch.map((raw, index) => parseOperation(raw, index));
  let doc: JsonValue = clone(document);
  for (const [index, operation] of operations.entries()) {
    doc = applyOne(doc, operation, index, document);
  }
  return doc;
}

interface ParsedOperation {
  /** The operation as given, holding only the RFC 6902 members. */
  raw: JsonObject;
  op: JsonPatchOperation["op"];
  pointer: string;
  path: string[];
  from: string[] | undefined;
}

function parseOperation(raw: JsonValue, index: number): ParsedOperation {
  const bad = (message: string) => new BadRequestError(`Invalid JSON patch: operation ${index} ${message}`);
  if (!isObject(raw)) {
    throw bad(`must be an object, got ${typeName(raw)}`);
  }
  const op = own(raw, "op");
  if (typeof op !== "string" || !OPERATIONS.has(op)) {
    throw bad(
      `has op ${JSON.stringify(op ?? null)}: expected one of add, remove, replace, move, copy, test`,
    );
  }
  const path = own(raw, "path");
  if (typeof path !== "string") {
    throw bad(`(${op}) has no "path" string`);
  }
  const pathTokens = parsePointer(path, (m) => bad(`(${op}) path "${path}" ${m}`));
  let fromTokens: string[] | undefined;
  if (op === "move" || op === "copy") {
    const from = own(raw, "from");
    if (typeof from !== "string") {
      throw bad(`(${op}) at "${path}" has no "from" string`);
    }
    fromTokens = parsePointer(from, (m) => bad(`(${op}) from "${from}" ${m}`));
    if (
      op === "move" && fromTokens.length < pathTokens.length &&
      fromTokens.every((token, i) => token === pathTokens[i])
    ) {
      throw bad(`(move) cannot move "${from}" into its own child "${path}"`);
    }
  }
  if ((op === "add" || op === "replace" || op === "test") && !has(raw, "value")) {
    throw bad(`(${op}) at "${path}" has no "value"`);
  }
  const operation: JsonObject = { op, path };
  if (has(raw, "from")) operation.from = raw.from as JsonValue;
  if (has(raw, "value")) operation.value = raw.value as JsonValue;
  return {
    raw: operation,
    op: op as JsonPatchOperation["op"],
    pointer: path,
    path: pathTokens,
    from: fromTokens,
  };
}

/** Splits a JSON pointer into unescaped tokens; `""` is the whole document. */
function parsePointer(
  pointer: string,
  fail: (message: string) => BadRequestError,
): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw fail('must start with "/"');
  return pointer.slice(1).split("/").map((token) => {
    if (/~(?![01])/.test(token)) {
      throw fail('has "~" not followed by 0 or 1');
    }
    const unescaped = token.replaceAll("~1", "/").replaceAll("~0", "~");
    if (unescaped === "__proto__") throw fail('touches "__proto__"');
    return unescaped;
  });
}

/** The value at `tokens`, following own properties and valid indices only. */
function resolve(
  doc: JsonValue,
  tokens: readonly string[],
): { found: true; value: JsonValue } | { found: false } {
  let current: JsonValue = doc;
  for (const token of tokens) {
    if (Array.isArray(current)) {
      const index = arrayIndex(token);
      if (index === undefined || index >= current.length) return { found: false };
      current = current[index] as JsonValue;
    } else if (isObject(current) && has(current, token)) {
      current = current[token] as JsonValue;
    } else {
      return { found: false };
    }
  }
  return { found: true, value: current };
}

function arrayIndex(token: string): number | undefined {
  return /^(0|[1-9][0-9]*)$/.test(token) ? Number(token) : undefined;
}

/** Why `add` cannot put a value at `tokens`, or undefined when it can. */
function addProblem(doc: JsonValue, tokens: readonly string[]): string | undefined {
  if (tokens.length === 0) return undefined;
  const parent = resolve(doc, tokens.slice(0, -1));
  if (!parent.found) return "the parent of the path does not exist";
  const last = tokens[tokens.length - 1] as string;
  if (Array.isArray(parent.value)) {
    if (last === "-") return undefined;
    const index = arrayIndex(last);
    if (index === undefined) return `"${last}" is not a list index`;
    if (index > parent.value.length) {
      return `index ${index} is past the end of a list of ${parent.value.length}`;
    }
    return undefined;
  }
  if (isObject(parent.value)) return undefined;
  return `the parent of the path is a ${typeName(parent.value)}, not an object or a list`;
}

function applyOne(
  doc: JsonValue,
  operation: ParsedOperation,
  index: number,
  original: JsonValue,
): JsonValue {
  const { raw, op } = operation;
  const fail = (message: string) => invalid(original, operation, index, message);
  switch (op) {
    case "add": {
      const problem = addProblem(doc, operation.path);
      if (problem) throw fail(problem);
      break;
    }
    case "remove":
    case "replace":
      if (!resolve(doc, operation.path).found) throw fail("the path does not exist");
      break;
    case "test": {
      const target = resolve(doc, operation.path);
      if (!target.found) throw fail("the path does not exist");
      if (!deepEqual(target.value, own(raw, "value"))) {
        throw fail(
          `test failed: the value is ${preview(target.value)}, not ${preview(own(raw, "value"))}`,
        );
      }
      return doc;
    }
    case "move":
    case "copy": {
      if (!resolve(doc, operation.from ?? []).found) {
        throw fail(`the "from" path "${own(raw, "from")}" does not exist`);
      }
      const problem = addProblem(doc, operation.path);
      if (problem) throw fail(problem);
      break;
    }
  }
  try {
    return jsonpatch.applyOperation(
      doc,
      clone(raw) as unknown as jsonpatch.Operation,
      true,
      true,
      true,
      index,
    )
      .newDocument;
  } catch (error) {
    if (error instanceof jsonpatch.JsonPatchError) {
      throw fail(error.message);
    }
    if (error instanceof TypeError) {
      throw new BadRequestError(
        `Invalid JSON patch: operation ${index} (${op}) at "${operation.pointer}": ${error.message}`,
        { cause: error },
      );
    }
    throw error;
  }
}

/** A value as JSON, shortened for an error message. */
function preview(value: JsonValue | undefined): string {
  const text = JSON.stringify(value ?? null);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function invalid(
  document: JsonValue,
  operation: ParsedOperation,
  index: number,
  message: string,
): InvalidError {
  const kindValue = isObject(document) ? own(document, "kind") : undefined;
  const kind = typeof kindValue === "string" ? kindValue : "Object";
  const metadata = isObject(document) ? own(document, "metadata") : undefined;
  const nameValue = isObject(metadata) ? own(metadata, "name") : undefined;
  const name = typeof nameValue === "string" ? nameValue : "";
  return new InvalidError(kind, name, [{
    field: operation.pointer,
    type: "FieldValueInvalid",
    message: `JSON patch operation ${index} (${operation.op}): ${message}`,
  }]);
}
