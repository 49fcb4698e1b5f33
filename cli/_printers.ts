/**
 * Output formats of `-o`: `yaml`, `json`, `name`, `jsonpath=…`,
 * `custom-columns=…`, and the tables (`table`, `wide`), as kubectl prints
 * them.
 *
 * @module
 */

import YAML from "yaml";
import type { KubeObject } from "@skiff/api";
import { UsageError } from "./_errors.ts";
import { parseTemplate, selectValues, type Template, valueText } from "./_jsonpath.ts";
import { objectName, typeOfObject } from "./_resources.ts";
import { renderTable } from "./_table.ts";

/** One `custom-columns` column: a header and the path of its value. */
export interface CustomColumn {
  /** The header, e.g. `NAME`. */
  header: string;
  /** The path, e.g. `.metadata.name`. */
  path: string;
}

/** The table formats of `-o`. */
export type TableFormat = { kind: "table" } | { kind: "wide" };

/** The formats of `-o` that print objects rather than a table of kubectl's columns. */
export type ObjectFormat =
  | { kind: "yaml" }
  | { kind: "json" }
  | { kind: "name" }
  | { kind: "jsonpath"; template: Template }
  | { kind: "custom-columns"; columns: CustomColumn[] };

/** A parsed `-o` value. */
export type OutputFormat = TableFormat | ObjectFormat;

/** Whether a format is `table` or `wide`. */
export function isTableFormat(format: OutputFormat): format is TableFormat {
  return format.kind === "table" || format.kind === "wide";
}

const FORMATS = "table, wide, yaml, json, name, jsonpath=<template>, custom-columns=<HEADER:.path,…>";

/**
 * Reads `-o`. `allowed` limits the plain formats a command supports.
 *
 * @throws {UsageError} for an unknown format or a bad template
 */
export function parseOutputFormat(
  value: string | undefined,
  allowed: readonly string[] = ["table", "wide", "yaml", "json", "name", "jsonpath", "custom-columns"],
): OutputFormat {
  const text = value ?? "table";
  const eq = text.indexOf("=");
  const kind = eq < 0 ? text : text.slice(0, eq);
  const arg = eq < 0 ? "" : text.slice(eq + 1);
  const list = allowed.join(", ");
  if (!allowed.includes(kind)) {
    throw new UsageError(
      `unknown output format "${text}": use one of ${allowed.length === 7 ? FORMATS : list}`,
    );
  }
  switch (kind) {
    case "jsonpath":
      if (arg === "") throw new UsageError(`-o jsonpath needs a template: e.g. -o jsonpath='{.metadata.name}'`);
      return { kind, template: parseTemplate(arg) };
    case "custom-columns": {
      if (arg === "") {
        throw new UsageError(
          `-o custom-columns needs columns: e.g. -o custom-columns=NAME:.metadata.name,NODE:.spec.nodeName`,
        );
      }
      const columns = arg.split(",").map((spec) => {
        const colon = spec.indexOf(":");
        if (colon <= 0 || colon === spec.length - 1) {
          throw new UsageError(`invalid custom-columns entry "${spec}": write it as HEADER:.path`);
        }
        const path = spec.slice(colon + 1);
        parseTemplate(path);
        return { header: spec.slice(0, colon), path };
      });
      return { kind, columns };
    }
    case "table":
    case "wide":
    case "yaml":
    case "json":
    case "name":
      if (arg !== "") throw new UsageError(`-o ${kind} takes no value: got "${text}"`);
      return { kind } as OutputFormat;
  }
  throw new UsageError(`unknown output format "${text}": use one of ${list}`);
}

/** YAML as kubectl prints it (no line folding). */
export function toYaml(value: unknown): string {
  return YAML.stringify(value, { lineWidth: 0, minContentWidth: 0 });
}

/** JSON as kubectl prints it (four-space indent). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, null, 4) + "\n";
}

/** Wraps objects in a `v1 List`, as `kubectl get -o yaml` does for collections. */
export function asList(items: readonly KubeObject[]): KubeObject {
  return { apiVersion: "v1", kind: "List", metadata: { resourceVersion: "" }, items: [...items] };
}

/** `deployment.apps/web` for an object (its kind must be known). */
export function nameOf(obj: KubeObject): string {
  const type = typeOfObject(obj);
  const name = obj.metadata?.name ?? "";
  return type ? objectName(type, name) : `${String(obj.kind ?? "").toLowerCase()}/${name}`;
}

function customColumnRows(columns: readonly CustomColumn[], objects: readonly KubeObject[]): string[][] {
  const rows = [columns.map((c) => c.header)];
  for (const obj of objects) {
    rows.push(columns.map((c) => {
      const values = selectValues(c.path, obj);
      return values.length === 0 ? "<none>" : values.map(valueText).join(",");
    }));
  }
  return rows;
}

/**
 * Renders objects in a non-table format. `single` prints the one object
 * itself rather than a List (when exactly one object was asked for by
 * name).
 */
export function formatObjects(
  format: ObjectFormat,
  objects: readonly KubeObject[],
  options: { single: boolean },
): string {
  const data = options.single && objects.length === 1 ? objects[0]! : asList(objects);
  switch (format.kind) {
    case "yaml":
      return toYaml(data);
    case "json":
      return toJson(data);
    case "name":
      return objects.map((o) => `${nameOf(o)}\n`).join("");
    case "jsonpath":
      return format.template.execute(data);
    case "custom-columns":
      return renderTable(customColumnRows(format.columns, objects));
  }
}

/** Renders one object of a watch stream in a non-table format. */
export function formatWatchedObject(
  format: ObjectFormat,
  obj: KubeObject,
  first: boolean,
): string {
  switch (format.kind) {
    case "yaml":
      return `${first ? "" : "---\n"}${toYaml(obj)}`;
    case "json":
      return toJson(obj);
    case "name":
      return `${nameOf(obj)}\n`;
    case "jsonpath":
      return format.template.execute(obj);
    case "custom-columns": {
      const rows = customColumnRows(format.columns, [obj]);
      return renderTable(first ? rows : rows.slice(1));
    }
  }
}

/** Compares two values picked by `--sort-by`: numbers as numbers, everything else as text. */
function compareSortValues(a: unknown, b: unknown): number {
  if (a === undefined && b === undefined) return 0;
  if (a === undefined) return -1;
  if (b === undefined) return 1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  const x = valueText(a);
  const y = valueText(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Sorts `items` by the value `--sort-by` picks from each (stable). */
export function sortBy<T>(items: readonly T[], path: string, objectOf: (item: T) => unknown): T[] {
  const keyed = items.map((item, index) => ({ item, index, key: selectValues(path, objectOf(item))[0] }));
  keyed.sort((p, q) => compareSortValues(p.key, q.key) || p.index - q.index);
  return keyed.map((k) => k.item);
}
