/**
 * What `skiff api-resources` does: prints the resource types this CLI and
 * the server share (the registry of `@skiff/api`).
 *
 * @module
 */

import { RESOURCE_TYPES } from "@skiff/api";
import type { CliContext } from "./_context.ts";
import { renderTable } from "./_table.ts";

/** Options of {@linkcode runApiResources}. */
export interface ApiResourcesOptions {
  /** `-o name` or `-o wide`. */
  output?: "name" | "wide";
  /** `--namespaced`. */
  namespaced?: boolean;
  /** `--api-group`. */
  apiGroup?: string;
  /** False with `--no-headers`. */
  headers: boolean;
}

/** Runs `skiff api-resources`. */
export function runApiResources(ctx: CliContext, options: ApiResourcesOptions): void {
  const types = RESOURCE_TYPES.filter((t) =>
    t.verbs.includes("list") &&
    (options.namespaced === undefined || t.namespaced === options.namespaced) &&
    (options.apiGroup === undefined || t.group === options.apiGroup)
  );
  if (options.output === "name") {
    for (const t of types) ctx.print(`${t.group ? `${t.plural}.${t.group}` : t.plural}\n`);
    return;
  }
  const wide = options.output === "wide";
  const rows = [["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND", ...(wide ? ["VERBS", "CATEGORIES"] : [])]];
  for (const t of types) {
    rows.push([
      t.plural,
      t.shortNames.join(","),
      t.apiVersion,
      String(t.namespaced),
      t.kind,
      ...(wide ? [`[${t.verbs.join(" ")}]`, t.categories.join(",")] : []),
    ]);
  }
  ctx.print(renderTable(options.headers ? rows : rows.slice(1)));
}
