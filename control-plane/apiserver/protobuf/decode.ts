/**
 * Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`),
 * as client-go's typed clients send them (`kubectl create namespace`,
 * `create deployment`, `drain`...), decoded into the JSON object the API
 * already handles.
 *
 * A body is the 4 bytes `k8s\0` then a `runtime.Unknown` whose `typeMeta`
 * names the kind and whose `raw` holds the object's message. Decoding walks
 * the message with protobufjs' reader and the schema in
 * `_k8s_proto_source.ts`, so that a field number the schema lacks is refused
 * (415, naming the message and the number) rather than silently dropped.
 * Field names are Kubernetes' JSON names; zero scalars are left out as Go's
 * `omitempty` leaves them out, except Go pointers, which keep a zero sent on
 * purpose; `Time` becomes an RFC 3339 string, `IntOrString` a number or a
 * string, `Quantity` its string, bytes base64.
 *
 * @module
 */

import protobuf from "protobufjs";
import { BadRequestError, UnsupportedMediaTypeError } from "@skiff/api";
import { K8S_PROTO_FILES } from "./_k8s_proto_source.ts";

/** The media type of Kubernetes protobuf bodies. */
export const PROTOBUF_MEDIA_TYPE = "application/vnd.kubernetes.protobuf";

/** The 4 bytes every Kubernetes protobuf body starts with: `k8s\0`. */
export const PROTOBUF_MAGIC: Uint8Array = new Uint8Array([0x6b, 0x38, 0x73, 0x00]);

const CORE = "k8s.io.api.core.v1.";
const META = "k8s.io.apimachinery.pkg.apis.meta.v1.";

/** The message of each kind decoded, keyed `apiVersion/kind`. */
const KINDS: Readonly<Record<string, string>> = {
  "v1/Namespace": `${CORE}Namespace`,
  "v1/ConfigMap": `${CORE}ConfigMap`,
  "v1/Secret": `${CORE}Secret`,
  "v1/Service": `${CORE}Service`,
  "v1/Pod": `${CORE}Pod`,
  "v1/PersistentVolumeClaim": `${CORE}PersistentVolumeClaim`,
  "v1/Binding": `${CORE}Binding`,
  "apps/v1/Deployment": "k8s.io.api.apps.v1.Deployment",
  "authorization.k8s.io/v1/SelfSubjectAccessReview": "k8s.io.api.authorization.v1.SelfSubjectAccessReview",
  "authorization.k8s.io/v1/SelfSubjectRulesReview": "k8s.io.api.authorization.v1.SelfSubjectRulesReview",
  "policy/v1/Eviction": "k8s.io.api.policy.v1.Eviction",
  // policy/v1beta1's Eviction has the same fields and numbers as policy/v1's.
  "policy/v1beta1/Eviction": "k8s.io.api.policy.v1.Eviction",
};
/** DeleteOptions is registered in every group version; clients send it under the one they talk to. */
const DELETE_OPTIONS = `${META}DeleteOptions`;

const TIME = `${META}Time`;
const FIELDS_V1 = `${META}FieldsV1`;
const INT_OR_STRING = "k8s.io.apimachinery.pkg.util.intstr.IntOrString";
const QUANTITY = "k8s.io.apimachinery.pkg.api.resource.Quantity";

/** Wire types: varint, 64-bit, length-delimited, 32-bit. */
const LENGTH_DELIMITED = 2;

/** The kinds {@linkcode decodeProtobufObject} reads, as `apiVersion/kind` (DeleteOptions under any apiVersion). */
export function protobufKinds(): string[] {
  return [...Object.keys(KINDS), "*/DeleteOptions"];
}

let schema: protobuf.Root | undefined;

function loadSchema(): protobuf.Root {
  if (schema) return schema;
  const root = new protobuf.Root();
  for (const source of Object.values(K8S_PROTO_FILES)) protobuf.parse(source, root, { keepCase: true });
  root.resolveAll();
  schema = root;
  return root;
}

/**
 * Decodes a Kubernetes protobuf body into the object's JSON form, with
 * `apiVersion` and `kind` from the envelope.
 *
 * @example
 * ```ts
 * const bytes = new Uint8Array(await req.arrayBuffer());
 * const namespace = decodeProtobufObject(bytes); // { apiVersion: "v1", kind: "Namespace", metadata: {...}, ... }
 * ```
 * @throws {UnsupportedMediaTypeError} when the body lacks the `k8s\0` prefix,
 *   names a kind this server does not read as protobuf, or carries a field
 *   number the schema lacks (JSON works for all of them).
 * @throws {BadRequestError} when the message is malformed.
 */
export function decodeProtobufObject(bytes: Uint8Array): Record<string, unknown> {
  if (bytes.byteLength < PROTOBUF_MAGIC.byteLength || PROTOBUF_MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new UnsupportedMediaTypeError(
      `The request body is not a Kubernetes protobuf message: it does not start with "k8s\\x00"; ` +
        "send JSON with Content-Type application/json",
    );
  }
  const root = loadSchema();
  const unknownType = root.lookupType("k8s.io.apimachinery.pkg.runtime.Unknown");
  const envelope = guard(
    "runtime.Unknown",
    () =>
      readMessage(unknownType, protobuf.Reader.create(bytes.subarray(PROTOBUF_MAGIC.byteLength)), {
        path: "",
        rawBytes: true,
      }),
  );
  const typeMeta = (envelope.typeMeta ?? {}) as { apiVersion?: string; kind?: string };
  const apiVersion = typeMeta.apiVersion ?? "";
  const kind = typeMeta.kind ?? "";
  const encoding = envelope.contentEncoding ?? "";
  if (encoding !== "") {
    throw new UnsupportedMediaTypeError(
      `The protobuf body has contentEncoding "${String(encoding).slice(0, 40)}": only unencoded bodies are read; ` +
        "send JSON with Content-Type application/json",
    );
  }
  const contentType = envelope.contentType ?? "";
  if (contentType !== "" && contentType !== PROTOBUF_MEDIA_TYPE) {
    throw new UnsupportedMediaTypeError(
      `The protobuf body wraps content of type "${String(contentType).slice(0, 80)}": only ${PROTOBUF_MEDIA_TYPE} ` +
        "is read; send JSON with Content-Type application/json",
    );
  }
  const messageName = kind === "DeleteOptions" ? DELETE_OPTIONS : KINDS[`${apiVersion}/${kind}`];
  if (!messageName) {
    throw new UnsupportedMediaTypeError(
      `This server does not read ${JSON.stringify(`${apiVersion}/${kind}`.slice(0, 100))} as protobuf: it reads ${
        protobufKinds().join(", ")
      }; send the object as JSON with Content-Type application/json`,
    );
  }
  const raw = envelope.raw instanceof Uint8Array ? envelope.raw : new Uint8Array();
  const object = guard(
    kind,
    () => readMessage(root.lookupType(messageName), protobuf.Reader.create(raw), { path: "", rawBytes: false }),
  );
  return { apiVersion, kind, ...object };
}

interface ReadOptions {
  /** The JSON path of the message, for errors. */
  path: string;
  /** Keep bytes fields as bytes (the envelope's `raw`) rather than base64. */
  rawBytes: boolean;
}

/** Runs a decode, turning protobufjs' reader errors (truncated or malformed input) into BadRequestError. */
function guard<T>(what: string, decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    if (err instanceof UnsupportedMediaTypeError || err instanceof BadRequestError) throw err;
    const detail = err instanceof Error ? err.message : String(err);
    throw new BadRequestError(`The protobuf body is malformed (${what}): ${detail}`, { cause: err });
  }
}

function at(path: string, name: string): string {
  return path === "" ? name : `${path}.${name}`;
}

/** Reads the fields of one message up to `end` (default: the reader's end) into its JSON form. */
function readMessage(
  type: protobuf.Type,
  reader: protobuf.Reader,
  options: ReadOptions,
  end = reader.len,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  while (reader.pos < end) {
    const tag = reader.uint32();
    const id = tag >>> 3;
    const wire = tag & 7;
    const field = type.fieldsById[id];
    if (!field) {
      throw new UnsupportedMediaTypeError(
        `The protobuf body has field number ${id} of ${type.fullName.slice(1)}${
          options.path ? ` (at ${options.path})` : ""
        }, which this server does not read: send the object as JSON with Content-Type application/json`,
      );
    }
    const inline = field.resolvedType instanceof protobuf.Type && field.options?.["(skiff.inline)"] === true;
    const path = inline ? options.path : at(options.path, field.name);
    if (field.map) {
      expectWire(field, wire, LENGTH_DELIMITED, path);
      const [key, value] = readMapEntry(field, reader, { ...options, path });
      const map = (out[field.name] ??= {}) as Record<string, unknown>;
      map[key] = value;
      continue;
    }
    const elementWire = wireOf(field);
    if (field.repeated && wire === LENGTH_DELIMITED && elementWire !== LENGTH_DELIMITED) {
      // A packed run of scalars.
      const list = (out[field.name] ??= []) as unknown[];
      const stop = reader.uint32() + reader.pos;
      while (reader.pos < stop) list.push(readScalar(field, reader, path));
      overrun(reader, stop, path);
      continue;
    }
    expectWire(field, wire, elementWire, path);
    if (field.repeated) {
      const list = (out[field.name] ??= []) as unknown[];
      const value = readValue(field, reader, { ...options, path: `${path}[${list.length}]` });
      list.push(value === undefined ? null : value);
      continue;
    }
    const value = readValue(field, reader, { ...options, path });
    if (inline) {
      Object.assign(out, value);
    } else if (value === undefined || (isZero(value) && !field.options?.["(skiff.pointer)"])) {
      // Go's omitempty: a zero scalar of a non-pointer field is the same as an absent one.
      delete out[field.name];
    } else {
      out[field.name] = value;
    }
  }
  overrun(reader, end, options.path);
  return out;
}

/** A length-delimited value whose inner fields ran past its declared length. */
function overrun(reader: protobuf.Reader, end: number, path: string): void {
  if (reader.pos !== end) {
    throw new BadRequestError(
      `The protobuf body is malformed: ${path || "the object"} runs ${reader.pos - end} bytes past its length`,
    );
  }
}

/** Reads one value of a field: a scalar, or a length-delimited message converted to its JSON form. */
function readValue(field: protobuf.Field, reader: protobuf.Reader, options: ReadOptions): unknown {
  const type = field.resolvedType;
  if (!(type instanceof protobuf.Type)) {
    if (field.type === "bytes" && options.rawBytes) return reader.bytes();
    return readScalar(field, reader, options.path);
  }
  const length = reader.uint32();
  const end = reader.pos + length;
  if (end > reader.len) throw new RangeError(`index out of range: ${end} > ${reader.len}`);
  const message = readMessage(type, reader, options, end);
  return special(type, message, field, options.path);
}

/** The JSON form of the messages JSON spells another way (Time, IntOrString, Quantity, FieldsV1). */
function special(type: protobuf.Type, message: Record<string, unknown>, field: protobuf.Field, path: string): unknown {
  switch (type.fullName.slice(1)) {
    case TIME: {
      // A zero Time is sent as an empty message; JSON leaves it out.
      if (message.seconds === undefined && message.nanos === undefined) return undefined;
      const ms = Number(message.seconds ?? 0) * 1000;
      const date = new Date(ms);
      if (Number.isNaN(date.getTime())) throw new BadRequestError(`Invalid time at ${path}: out of range`);
      return date.toISOString().replace(/\.\d{3}Z$/, "Z");
    }
    case INT_OR_STRING: {
      const isString = Number(message.type ?? 0) === 1;
      const value = isString ? String(message.strVal ?? "") : Number(message.intVal ?? 0);
      // The zero IntOrString of a non-pointer field means "not set", as every Go consumer reads it.
      if (isZero(value) && !field.options?.["(skiff.pointer)"]) return undefined;
      return value;
    }
    case QUANTITY:
      return String(message.string ?? "");
    case FIELDS_V1: {
      const raw = typeof message.Raw === "string" ? message.Raw : "";
      if (raw === "") return {};
      try {
        return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(decodeBase64(raw)));
      } catch (cause) {
        throw new BadRequestError(`Invalid fieldsV1 at ${path}: not JSON`, { cause });
      }
    }
    default:
      return message;
  }
}

/** The value half of each map field's entries, as a field of its own. */
const mapValues = new WeakMap<protobuf.Field, protobuf.Field>();

function mapValueField(field: protobuf.Field): protobuf.Field {
  let value = mapValues.get(field);
  if (!value) {
    value = new protobuf.Field("value", 2, field.type);
    value.resolvedType = field.resolvedType;
    mapValues.set(field, value);
  }
  return value;
}

/** Reads one map entry (every map of the schema has string keys): key (1) and value (2), each defaulting to zero. */
function readMapEntry(field: protobuf.Field, reader: protobuf.Reader, options: ReadOptions): [string, unknown] {
  const end = reader.uint32() + reader.pos;
  if (end > reader.len) throw new RangeError(`index out of range: ${end} > ${reader.len}`);
  let key = "";
  let value: unknown;
  const valueType = field.resolvedType;
  const valueField = mapValueField(field);
  while (reader.pos < end) {
    const tag = reader.uint32();
    const id = tag >>> 3;
    const wire = tag & 7;
    if (id === 1) {
      expectWire(field, wire, LENGTH_DELIMITED, options.path);
      key = String(reader.string());
    } else if (id === 2) {
      const path = `${options.path}[${JSON.stringify(key)}]`;
      expectWire(field, wire, wireOf(valueField), path);
      value = readValue(valueField, reader, { ...options, path });
    } else {
      throw new UnsupportedMediaTypeError(
        `The protobuf body has field number ${id} in an entry of the map ${options.path}, which has only ` +
          "key (1) and value (2): send the object as JSON with Content-Type application/json",
      );
    }
  }
  overrun(reader, end, options.path);
  if (value === undefined) {
    value = valueType instanceof protobuf.Type
      ? special(valueType, {}, valueField, options.path)
      : field.type === "bytes" || field.type === "string"
      ? ""
      : 0;
  }
  return [key, value];
}

/** Reads a scalar: int64s as numbers (refusing those JavaScript cannot hold exactly), bytes as base64. */
function readScalar(field: protobuf.Field, reader: protobuf.Reader, path: string): unknown {
  switch (field.type) {
    case "bytes":
      return encodeBase64(reader.bytes());
    case "string":
      return reader.string();
    case "bool":
      return reader.bool();
    case "int64":
    case "uint64":
    case "sint64":
    case "fixed64":
    case "sfixed64": {
      const long = (reader[field.type] as () => number | { toString(): string })();
      const value = typeof long === "number" ? long : Number(long.toString());
      if (!Number.isSafeInteger(value)) {
        throw new BadRequestError(`Invalid ${path}: ${long.toString()} is beyond what this server holds exactly`);
      }
      return value;
    }
    case "int32":
    case "uint32":
    case "sint32":
    case "fixed32":
    case "sfixed32":
    case "double":
    case "float":
      return (reader[field.type] as () => number)();
  }
  throw new BadRequestError(`Cannot decode ${path}: the schema gives it type "${field.type}", which is not read`);
}

/** The wire type a field's values use. */
function wireOf(field: protobuf.Field): number {
  if (field.resolvedType instanceof protobuf.Type) return LENGTH_DELIMITED;
  const wire = (protobuf.types.basic as Record<string, number | undefined>)[field.type];
  return wire ?? LENGTH_DELIMITED;
}

function expectWire(field: protobuf.Field, wire: number, expected: number, path: string): void {
  if (wire !== expected) {
    throw new BadRequestError(
      `The protobuf body is malformed: ${path} (field ${field.id} of ${
        field.parent?.fullName.slice(1) ?? "a message"
      }) has wire type ${wire}, expected ${expected}`,
    );
  }
}

function isZero(value: unknown): boolean {
  return value === "" || value === 0 || value === false;
}

function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function decodeBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
