/**
 * Private toolkit of the validators: field paths, Kubernetes-style field
 * errors, typed readers that report wrong types instead of throwing, and an
 * iterative deep comparison that survives any nesting depth.
 *
 * @module
 */

import { IP_MESSAGE, isIP } from "./_ip.ts";
import type { FieldError } from "./errors.ts";
import { portNameErrors, portNumberErrors, qualifiedNameErrors } from "./names.ts";
import { Quantity, quantityErrors } from "./quantity.ts";

/** A JSON object. */
export type Obj = Record<string, unknown>;

/** Port protocols, as Kubernetes lists them. */
export const PROTOCOLS: readonly string[] = ["SCTP", "TCP", "UDP"];
/** Taint effects, as Kubernetes lists them. */
export const TAINT_EFFECTS: readonly string[] = ["NoExecute", "NoSchedule", "PreferNoSchedule"];
/** Finalizer names that need no domain prefix. */
const STANDARD_FINALIZERS = ["kubernetes", "orphan", "foregroundDeletion"];

/** True for a non-null, non-array object. */
export function isObj(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `parent.name` */
export function child(parent: string, name: string): string {
  return parent === "" ? name : `${parent}.${name}`;
}

/** `parent[i]` or `parent[key]` */
export function at(parent: string, index: number | string): string {
  return `${parent}[${index}]`;
}

const MAX_RENDER = 200;

function renderString(s: string): string {
  return JSON.stringify(s.length > MAX_RENDER ? `${s.slice(0, MAX_RENDER)}…` : s);
}

/** Renders a bad value the way Kubernetes field errors show it (Go syntax), bounded in size. */
export function render(value: unknown, depth = 0): string {
  if (value === undefined || value === null) return "null";
  if (typeof value === "string") return renderString(value);
  if (typeof value === "number") return Object.is(value, -0) ? "0" : String(value);
  if (typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (typeof value !== "object") return typeof value;
  if (depth > 1) return "{…}";
  let out: string;
  if (Array.isArray(value)) {
    const items = value.slice(0, 20);
    const allStrings = items.length > 0 && items.every((v) => typeof v === "string");
    const body = items.map((v) => render(v, depth + 1)).join(", ") + (value.length > 20 ? ", …" : "");
    out = `${allStrings ? "[]string" : "[]interface {}"}{${body}}`;
  } else {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const shown = entries.slice(0, 20);
    const allStrings = shown.every(([, v]) => typeof v === "string");
    const body = shown.map(([k, v]) => `${renderString(k)}:${render(v, depth + 1)}`).join(", ") +
      (entries.length > 20 ? ", …" : "");
    out = `${allStrings ? "map[string]string" : "map[string]interface {}"}{${body}}`;
  }
  return out.length > MAX_RENDER * 2 ? `${out.slice(0, MAX_RENDER * 2)}…}` : out;
}

/** Options of {@linkcode Check.int}. */
export interface IntOptions {
  /** Smallest allowed value. */
  min?: number;
  /** Largest allowed value. */
  max?: number;
  /** 64-bit field (default 32-bit). */
  int64?: boolean;
  /** Message when out of range, instead of the generated one. */
  message?: string;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** Collects field errors; its readers return `undefined` (after reporting) for wrong types. */
export class Check {
  /** The errors found so far. */
  readonly errors: FieldError[] = [];

  /** Appends errors found elsewhere. */
  add(errors: readonly FieldError[]): void {
    this.errors.push(...errors);
  }

  /** `Required value[: detail]` */
  required(field: string, detail = ""): void {
    this.errors.push({
      field,
      type: "FieldValueRequired",
      message: detail ? `Required value: ${detail}` : "Required value",
    });
  }

  /** `Invalid value: <value>[: detail]` */
  invalid(field: string, value: unknown, detail = ""): void {
    const message = `Invalid value: ${render(value)}${detail ? `: ${detail}` : ""}`;
    this.errors.push({ field, type: "FieldValueInvalid", message });
  }

  /** `Unsupported value: <value>: supported values: "a", "b"` */
  notSupported(field: string, value: unknown, supported: readonly string[]): void {
    const list = supported.map((s) => JSON.stringify(s)).join(", ");
    this.errors.push({
      field,
      type: "FieldValueNotSupported",
      message: `Unsupported value: ${render(value)}: supported values: ${list}`,
    });
  }

  /** `Duplicate value: <value>[: detail]` */
  duplicate(field: string, value: unknown, detail = ""): void {
    const message = `Duplicate value: ${render(value)}${detail ? `: ${detail}` : ""}`;
    this.errors.push({ field, type: "FieldValueDuplicate", message });
  }

  /** `Forbidden: detail` */
  forbidden(field: string, detail: string): void {
    this.errors.push({ field, type: "FieldValueForbidden", message: `Forbidden: ${detail}` });
  }

  /** `Too long: may not be more than N bytes` */
  tooLong(field: string, max: number): void {
    this.errors.push({
      field,
      type: "FieldValueTooLong",
      message: `Too long: may not be more than ${max} bytes`,
    });
  }

  /** `Too many: N: must have at most M items` (reported with the FieldValueTooLong type). */
  tooMany(field: string, actual: number, max: number): void {
    this.errors.push({
      field,
      type: "FieldValueTooLong",
      message: `Too many: ${actual}: must have at most ${max} items`,
    });
  }

  /** `Not found: <value>` (reported with the FieldValueInvalid type). */
  notFound(field: string, value: unknown): void {
    this.errors.push({ field, type: "FieldValueInvalid", message: `Not found: ${render(value)}` });
  }

  /** `Invalid value: <value>: must be <expected>`, for a value of the wrong JSON type. */
  wrongType(field: string, value: unknown, expected: string): void {
    this.errors.push({
      field,
      type: "FieldValueTypeInvalid",
      message: `Invalid value: ${render(value)}: must be ${expected}`,
    });
  }

  /** The object being validated, or `undefined` after reporting that it is not an object. */
  root(value: unknown): Obj | undefined {
    if (isObj(value)) return value;
    this.wrongType("", value, "an object");
    return undefined;
  }

  /** Checks `status.conditions`-style lists: a type, and status True, False or Unknown. */
  conditions(value: unknown, field: string): void {
    for (const [cond, p] of this.objects(value, field)) {
      this.requiredStr(cond.type, child(p, "type"));
      if (cond.status == null) this.required(child(p, "status"));
      this.oneOf(cond.status, child(p, "status"), ["True", "False", "Unknown"]);
      for (const f of ["reason", "message", "lastTransitionTime", "lastHeartbeatTime", "lastProbeTime"]) {
        this.str(cond[f], child(p, f));
      }
    }
  }

  /** Checks finalizer names: qualified, with a domain unless standard (`kubernetes`, `orphan`, …). */
  finalizers(value: unknown, field: string): string[] {
    const finalizers = this.strList(value, field) ?? [];
    for (const f of finalizers) {
      if (!this.name(f, field, qualifiedNameErrors)) continue;
      if (!f.includes("/") && !STANDARD_FINALIZERS.includes(f)) {
        this.invalid(field, f, "name is neither a standard finalizer name nor is it fully qualified");
      }
    }
    return finalizers;
  }

  /** An object, or `undefined` when absent (null counts as absent) or of the wrong type. */
  obj(value: unknown, field: string): Obj | undefined {
    if (value === undefined || value === null) return undefined;
    if (isObj(value)) return value;
    this.wrongType(field, value, "an object");
    return undefined;
  }

  /** An array, or `undefined` when absent or of the wrong type. */
  arr(value: unknown, field: string): unknown[] | undefined {
    if (value === undefined || value === null) return undefined;
    if (Array.isArray(value)) return value;
    this.wrongType(field, value, "an array");
    return undefined;
  }

  /** Each element of an array that is an object, with its path; others are reported. */
  objects(value: unknown, field: string): [Obj, string][] {
    const out: [Obj, string][] = [];
    (this.arr(value, field) ?? []).forEach((item, i) => {
      const o = this.obj(item, at(field, i));
      if (o) out.push([o, at(field, i)]);
      else if (item === null || item === undefined) this.wrongType(at(field, i), item, "an object");
    });
    return out;
  }

  /** A string, or `undefined` when absent or of the wrong type. */
  str(value: unknown, field: string): string | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value === "string") return value;
    this.wrongType(field, value, "a string");
    return undefined;
  }

  /** A string that must be present and non-empty. */
  requiredStr(value: unknown, field: string, detail = ""): string | undefined {
    const s = this.str(value, field);
    if (s === undefined || s === "") {
      if (value === undefined || value === null || s === "") this.required(field, detail);
      return undefined;
    }
    return s;
  }

  /** A boolean, or `undefined` when absent or of the wrong type. */
  bool(value: unknown, field: string): boolean | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value === "boolean") return value;
    this.wrongType(field, value, "a boolean");
    return undefined;
  }

  /** An integer (32-bit unless `int64`), with range checks; `undefined` when absent or not an integer. */
  int(value: unknown, field: string, opts: IntOptions = {}): number | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "number" || !Number.isInteger(value)) {
      this.wrongType(field, value, "an integer");
      return undefined;
    }
    if (!opts.int64 && (value < INT32_MIN || value > INT32_MAX)) {
      this.invalid(field, value, "must be a 32-bit integer");
      return undefined;
    }
    if (opts.int64 && Math.abs(value) > 2 ** 63) {
      this.invalid(field, value, "must be a 64-bit integer");
      return undefined;
    }
    const { min, max } = opts;
    if ((min !== undefined && value < min) || (max !== undefined && value > max)) {
      this.invalid(
        field,
        value,
        opts.message ??
          (min !== undefined && max !== undefined
            ? `must be between ${min} and ${max}, inclusive`
            : min !== undefined
            ? `must be greater than or equal to ${min}`
            : `must be less than or equal to ${max}`),
      );
    }
    return value;
  }

  /** A map of strings; entries of other types are reported and dropped. */
  strMap(value: unknown, field: string): Record<string, string> | undefined {
    const o = this.obj(value, field);
    if (!o) return undefined;
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(o)) {
      if (typeof v === "string") out[k] = v;
      else this.wrongType(at(field, k), v, "a string");
    }
    return out;
  }

  /** An array of strings; elements of other types are reported and dropped. */
  strList(value: unknown, field: string): string[] | undefined {
    const a = this.arr(value, field);
    if (!a) return undefined;
    const out: string[] = [];
    a.forEach((v, i) => {
      if (typeof v === "string") out.push(v);
      else this.wrongType(at(field, i), v, "a string");
    });
    return out;
  }

  /** A number or a string (IntOrString), or `undefined` when absent or of the wrong type. */
  intOrString(value: unknown, field: string): number | string | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value === "string") return value;
    if (typeof value === "number" && Number.isInteger(value)) return value;
    this.wrongType(field, value, "an integer or a string");
    return undefined;
  }

  /** A string from a fixed set; reported as unsupported otherwise. */
  oneOf<T extends string>(value: unknown, field: string, supported: readonly T[]): T | undefined {
    const s = this.str(value, field);
    if (s === undefined) return undefined;
    if ((supported as readonly string[]).includes(s)) return s as T;
    this.notSupported(field, s, supported);
    return undefined;
  }

  /** Reports every message of a name rule as its own `Invalid value` error. */
  name(value: string, field: string, rule: (v: string) => string[]): boolean {
    const messages = rule(value);
    for (const m of messages) this.invalid(field, value, m);
    return messages.length === 0;
  }

  /** A port number (1-65535); `required` reports a missing or zero port. */
  port(value: unknown, field: string, required = false): number | undefined {
    if ((value === undefined || value === null || value === 0) && required) {
      this.required(field);
      return undefined;
    }
    const n = this.int(value, field);
    if (n === undefined || (n === 0 && !required)) return undefined;
    for (const m of portNumberErrors(n)) this.invalid(field, n, m);
    return n;
  }

  /** A port number or an IANA port name, as in probes and Service target ports. */
  portNumOrName(value: unknown, field: string): number | string | undefined {
    const v = this.intOrString(value, field);
    if (typeof v === "number") { for (const m of portNumberErrors(v)) this.invalid(field, v, m); }
    else if (typeof v === "string") this.name(v, field, portNameErrors);
    return v;
  }

  /** An IP address, or `undefined` after reporting why it is not one. */
  ip(value: unknown, field: string): string | undefined {
    const s = this.str(value, field);
    if (s === undefined || s === "") return undefined;
    if (isIP(s)) return s;
    this.invalid(field, s, IP_MESSAGE);
    return undefined;
  }

  /** A quantity (string or number), or `undefined` after reporting why it is not one. */
  quantity(value: unknown, field: string): Quantity | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "string" && typeof value !== "number") {
      this.wrongType(field, value, "a quantity string");
      return undefined;
    }
    const errs = quantityErrors(value);
    if (errs.length > 0) {
      this.invalid(field, value, errs.join("; "));
      return undefined;
    }
    return Quantity.parse(value);
  }
}

/** Longest path {@linkcode firstDifferences} spells out before cutting it short with `…`. */
const MAX_PATH = 200;

/**
 * Where two JSON values differ, walking iteratively so that nesting depth
 * cannot overflow the stack: up to `limit` paths. Absent and `null` count
 * as the same. Paths longer than 200 characters end in `…`.
 */
function differences(a: unknown, b: unknown, base: string, limit: number, cut: boolean): string[] {
  const out: string[] = [];
  const stack: [unknown, unknown, string][] = [[a, b, base]];
  while (stack.length > 0 && out.length < limit) {
    const [x, y, path] = stack.pop() as [unknown, unknown, string];
    if (x === y || (x == null && y == null)) continue;
    if (cut && path.length > MAX_PATH) {
      if (differences(x, y, "", 1, false).length > 0) out.push(`${path}…`);
    } else if (Array.isArray(x) && Array.isArray(y)) {
      if (x.length !== y.length) out.push(path);
      else for (let i = x.length - 1; i >= 0; i--) stack.push([x[i], y[i], cut ? at(path, i) : ""]);
    } else if (isObj(x) && isObj(y)) {
      const keys = [...new Set([...Object.keys(x), ...Object.keys(y)])].sort().reverse();
      for (const k of keys) stack.push([x[k], y[k], cut ? child(path, k) : ""]);
    } else if (!(Number.isNaN(x) && Number.isNaN(y))) {
      out.push(path);
    }
  }
  return out;
}

/** Deep equality of JSON values; absent and `null` count as the same. */
export function deepEqual(a: unknown, b: unknown): boolean {
  return differences(a, b, "", 1, false).length === 0;
}

/** Paths (up to `limit`) where two JSON values differ, for error messages. */
export function firstDifferences(a: unknown, b: unknown, base: string, limit = 5): string[] {
  return differences(a, b, base, limit, true);
}
