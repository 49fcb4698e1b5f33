/**
 * Request bodies: size limit, JSON, YAML and Kubernetes protobuf decoding
 * with clear errors, and what the client accepts back.
 *
 * @module
 */

import YAML from "yaml";
import { BadRequestError, TooLargeError, UnsupportedMediaTypeError } from "@skiff/api";
import { decodeProtobufObject, PROTOBUF_MEDIA_TYPE } from "./protobuf/decode.ts";

/** The largest request body the API server reads (3 MiB, as Kubernetes). */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;
/** The deepest nesting accepted in a decoded body. */
export const MAX_DEPTH = 100;

/** Reads a request body, refusing more than `limit` bytes with `TooLargeError`. */
export async function readBody(req: Request, limit = MAX_BODY_BYTES): Promise<Uint8Array> {
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > limit) {
    throw new TooLargeError(`Request entity too large: limit is ${limit} bytes`);
  }
  if (!req.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = req.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        // Stop reading, but do not cancel: over HTTP that would tear the connection down before the 413 is sent.
        reader.releaseLock();
        throw new TooLargeError(`Request entity too large: limit is ${limit} bytes`);
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof TooLargeError) throw err;
    throw new BadRequestError(`Cannot read the request body: ${err instanceof Error ? err.message : err}`, {
      cause: err,
    });
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** The media type of a Content-Type header, lower-cased, without parameters. */
export function mediaType(header: string | null): string {
  return (header ?? "").split(";")[0]!.trim().toLowerCase();
}

/** Patch and body formats the server decodes. */
export type BodyFormat = "json" | "yaml" | "protobuf";

/** Which decoder reads a Content-Type; throws `UnsupportedMediaTypeError` for those not `allowed` (forms...). */
export function bodyFormat(contentType: string, allowed: readonly string[]): BodyFormat {
  if (!allowed.includes(contentType)) {
    throw new UnsupportedMediaTypeError(
      `the body of the request was in an unknown format - accepted media types include: ${allowed.join(", ")}`,
    );
  }
  if (contentType === PROTOBUF_MEDIA_TYPE) return "protobuf";
  return contentType.endsWith("yaml") ? "yaml" : "json";
}

/**
 * Decodes a body into a JSON value. Invalid UTF-8, invalid JSON or YAML,
 * several YAML documents, and nesting deeper than {@linkcode MAX_DEPTH} all
 * fail with `BadRequestError` saying where. A protobuf body decodes to its
 * object (see `protobuf/decode.ts`).
 */
export function decodeBody(bytes: Uint8Array, format: BodyFormat): unknown {
  return decodeBodyText(bytes, format).value;
}

/**
 * Like {@linkcode decodeBody}, and also returns the decoded text (for
 * duplicate-field checks; empty for protobuf, which has no text).
 */
export function decodeBodyText(bytes: Uint8Array, format: BodyFormat): { value: unknown; text: string } {
  if (format === "protobuf") return { value: decodeProtobufObject(bytes), text: "" };
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (cause) {
    throw new BadRequestError("The request body is not valid UTF-8", { cause });
  }
  if (text.trim() === "") throw new BadRequestError("The request body is empty: send a JSON or YAML object");
  let value: unknown;
  if (format === "json") {
    try {
      value = JSON.parse(text);
    } catch (cause) {
      const detail = cause instanceof Error ? cause.message : String(cause);
      throw new BadRequestError(`The request body is not valid JSON: ${detail}`, { cause });
    }
  } else {
    const docs = YAML.parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true, logLevel: "error" });
    const list = Array.isArray(docs) ? docs : [docs];
    const real = list.filter((d) => d.contents !== null || d.errors.length > 0);
    if (real.length > 1) throw new BadRequestError("The request body has several YAML documents: send one object");
    const doc = real[0];
    if (!doc) throw new BadRequestError("The request body is empty: send a JSON or YAML object");
    if (doc.errors.length > 0) {
      const err = doc.errors[0]!;
      const pos = err.linePos?.[0];
      const where = pos ? ` at line ${pos.line}, column ${pos.col}` : "";
      throw new BadRequestError(`The request body is not valid YAML${where}: ${err.message.split("\n")[0]}`);
    }
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (cause) {
      throw new BadRequestError(`The request body is not valid YAML: ${(cause as Error).message}`, { cause });
    }
  }
  checkJson(value);
  return { value, text };
}

/** Decodes a body that must be a JSON object. */
export function decodeObject(bytes: Uint8Array, format: BodyFormat): Record<string, unknown> {
  return decodeObjectText(bytes, format, "object").value as Record<string, unknown>;
}

/**
 * Decodes a body that must be a JSON object (or, for JSON patches, an
 * array), and returns its text too.
 */
export function decodeObjectText(
  bytes: Uint8Array,
  format: BodyFormat,
  shape: "object" | "array",
): { value: Record<string, unknown> | unknown[]; text: string } {
  const { value, text } = decodeBodyText(bytes, format);
  if (shape === "array") {
    if (!Array.isArray(value)) {
      throw new BadRequestError(`A JSON patch must be an array of operations, not ${describe(value)}`);
    }
    return { value, text };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new BadRequestError(`The request body must be an object, not ${describe(value)}`);
  }
  return { value: value as Record<string, unknown>, text };
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object" && value !== null) return "an object";
  return (JSON.stringify(value) ?? String(value)).slice(0, 60);
}

/**
 * Refuses nesting deeper than {@linkcode MAX_DEPTH} and, from YAML, values
 * JSON has no form for (binary data, dates, infinities, NaN, sets and maps
 * with complex keys), as Kubernetes converts YAML to JSON before decoding.
 */
function checkJson(value: unknown): void {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v === "number" && !Number.isFinite(v)) {
      throw new BadRequestError(`The request body has a number JSON cannot hold: ${v}`);
    }
    if (typeof v !== "object" || v === null) continue;
    if (!Array.isArray(v) && Object.getPrototypeOf(v) !== Object.prototype) {
      throw new BadRequestError(
        `The request body has a value JSON cannot hold (${v.constructor?.name ?? "an object"}): use strings, ` +
          "numbers, booleans, null, lists and maps",
      );
    }
    if (depth >= MAX_DEPTH) {
      throw new BadRequestError(`The request body is nested more than ${MAX_DEPTH} levels deep`);
    }
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if ((typeof child === "object" && child !== null) || typeof child === "number") stack.push([child, depth + 1]);
    }
  }
}

/** What a client asked for in its Accept header. */
export interface Accepted {
  /** The client wants a `meta.k8s.io/v1` Table. */
  table: boolean;
  /** The client wants YAML rather than JSON. */
  yaml: boolean;
}

/**
 * Reads an Accept header: Table when asked (`as=Table;g=meta.k8s.io`) and
 * offered first, else JSON (or YAML). Protobuf-only clients get undefined.
 */
export function accepted(header: string | null): Accepted | undefined {
  if (!header) return { table: false, yaml: false };
  for (const part of header.split(",")) {
    const [type, ...params] = part.split(";").map((p) => p.trim());
    const media = (type ?? "").toLowerCase();
    const args = new Map(params.map((p) => p.split("=").map((s) => s.trim()) as [string, string]));
    if (media === "application/json" || media === "application/*" || media === "*/*" || media === "") {
      if (args.get("as") === "Table" && (args.get("g") ?? "meta.k8s.io") === "meta.k8s.io") {
        return { table: true, yaml: false };
      }
      if (args.has("as")) continue;
      return { table: false, yaml: false };
    }
    if (media === "application/yaml") return { table: false, yaml: true };
  }
  return undefined;
}
