/**
 * What `skiff get` does: reads or lists the objects asked for, then prints
 * them as a table or in the `-o` format; with `-w`, keeps printing changes
 * until interrupted.
 *
 * @module
 */

import type { Command } from "commander";
import {
  CompactedError,
  type KubeList,
  type KubeObject,
  type Node,
  NotFoundError,
  type Pod,
  type ResourceType,
} from "@skiff/api";
import type { CliContext, Connection } from "./_context.ts";
import { errorLine, ExitError, UsageError } from "./_errors.ts";
import {
  formatObjects,
  formatWatchedObject,
  isTableFormat,
  type ObjectFormat,
  type OutputFormat,
  parseOutputFormat,
  sortBy,
} from "./_printers.ts";
import { parseTargets, type Target } from "./_resources.ts";
import { columnWidths, renderRows } from "./_table.ts";
import {
  hasClientColumns,
  type NodeUsage,
  nodeView,
  podView,
  readNodeUsage,
  type RenderViewOptions,
  type ServerTable,
  TABLE_ACCEPT,
  type TableView,
  viewFromServerTable,
  viewRows,
} from "./_views.ts";
import { sleep, watchRaw } from "./_watch.ts";

/** Options of {@linkcode runGet}. */
export interface GetOptions {
  /** `-A`. */
  allNamespaces: boolean;
  /** `-l`. */
  selector?: string;
  /** `--field-selector`. */
  fieldSelector?: string;
  /** `-o`. */
  output?: string;
  /** `-w`. */
  watch: boolean;
  /** `--watch-only`. */
  watchOnly: boolean;
  /** `--sort-by`. */
  sortBy?: string;
  /** False with `--no-headers`. */
  headers: boolean;
  /** `--show-labels`. */
  showLabels: boolean;
  /** `-L`. */
  labelColumns: string[];
  /** `--ignore-not-found`. */
  ignoreNotFound: boolean;
}

/** What was read for one target. */
interface Result {
  target: Target;
  objects: KubeObject[];
  view: TableView | undefined;
}

/** Runs `skiff get`. */
export async function runGet(ctx: CliContext, command: Command, args: string[], options: GetOptions): Promise<void> {
  const format = parseOutputFormat(options.output);
  const targets = parseTargets(args, "get");
  if (options.allNamespaces && targets.some((t) => t.names.length > 0)) {
    throw new UsageError("a resource cannot be retrieved by name across all namespaces: drop -A, or give -n");
  }
  if (options.watch || options.watchOnly) {
    if (targets.length !== 1 || targets[0]!.names.length > 1) {
      throw new UsageError("watch works on one resource type (and at most one name) at a time");
    }
    const conn = await ctx.connect(command);
    await watchTarget(ctx, conn, targets[0]!, format, options);
    return;
  }
  const conn = await ctx.connect(command);
  const tableMode = isTableFormat(format);
  let failures = 0;
  const results: Result[] = [];
  for (const target of targets) {
    const result = await readTarget(ctx, conn, target, { tableMode, options });
    failures += result.failures;
    results.push(result);
  }
  const namedOnly = targets.every((t) => t.names.length > 0);
  const total = results.reduce((n, r) => n + (r.view ? r.view.rows.length : r.objects.length), 0);
  if (total === 0 && !namedOnly) {
    const namespaced = targets.some((t) => t.type.namespaced);
    ctx.io.stderr.write(
      namespaced && !options.allNamespaces
        ? `No resources found in ${conn.namespace} namespace.\n`
        : "No resources found\n",
    );
  }
  if (tableMode) {
    let first = true;
    for (const result of results) {
      if (!result.view || result.view.rows.length === 0) continue;
      if (!first) ctx.print("\n");
      first = false;
      printView(ctx, result.view, {
        target: result.target,
        format,
        options,
        showKind: targets.length > 1,
      });
    }
  } else if (total > 0) {
    let objects = results.flatMap((r) => r.objects);
    if (options.sortBy) objects = sortBy(objects, options.sortBy, (o) => o);
    const single = targets.length === 1 && targets[0]!.names.length === 1;
    ctx.print(formatObjects(format as ObjectFormat, objects, { single }));
  }
  if (failures > 0) throw new ExitError(1);
}

function namespaceOf(conn: Connection, type: ResourceType, allNamespaces: boolean): string | undefined {
  if (!type.namespaced) return undefined;
  return allNamespaces ? undefined : conn.namespace;
}

function listQuery(options: GetOptions): Record<string, string | undefined> {
  return { labelSelector: options.selector, fieldSelector: options.fieldSelector };
}

/** Fills apiVersion and kind, which list items may lack. */
function typed(type: ResourceType, obj: KubeObject): KubeObject {
  return { apiVersion: type.apiVersion, kind: type.kind, ...obj };
}

async function readTarget(
  ctx: CliContext,
  conn: Connection,
  target: Target,
  how: { tableMode: boolean; options: GetOptions },
): Promise<Result & { failures: number }> {
  const { type, names } = target;
  const { options } = how;
  const resource = conn.client.resource(type);
  const ns = namespaceOf(conn, type, options.allNamespaces);
  const serverTable = how.tableMode && !hasClientColumns(type.kind);
  let failures = 0;
  const objects: KubeObject[] = [];
  const tables: ServerTable[] = [];
  if (names.length > 0) {
    for (const name of names) {
      try {
        if (serverTable) {
          tables.push(await conn.client.json<ServerTable>("GET", resource.path(ns, name), { accept: TABLE_ACCEPT }));
        } else {
          objects.push(typed(type, await resource.get(name, ns !== undefined ? { namespace: ns } : {})));
        }
      } catch (err) {
        if (err instanceof NotFoundError && options.ignoreNotFound) continue;
        if (!(err instanceof NotFoundError)) throw err;
        ctx.error(errorLine(err));
        failures++;
      }
    }
  } else if (serverTable) {
    let cont: string | undefined;
    do {
      const page: ServerTable & { metadata?: { continue?: string } } = await conn.client.json(
        "GET",
        resource.path(ns),
        { accept: TABLE_ACCEPT, query: { ...listQuery(options), limit: 500, continue: cont } },
      );
      tables.push(page);
      cont = page.metadata?.continue || undefined;
    } while (cont);
  } else {
    const list = await resource.listAll({
      ...(ns !== undefined ? { namespace: ns } : {}),
      ...(options.selector ? { labelSelector: options.selector } : {}),
      ...(options.fieldSelector ? { fieldSelector: options.fieldSelector } : {}),
    });
    objects.push(...list.items.map((o) => typed(type, o)));
  }
  let view: TableView | undefined;
  if (serverTable) {
    view = tables.map((t) => viewFromServerTable(t)).reduce<TableView | undefined>(
      (all, v) => all ? { ...all, rows: [...all.rows, ...v.rows] } : v,
      undefined,
    );
    view ??= { headers: [], priorities: [], rows: [] };
  } else if (how.tableMode) {
    const usage = type.kind === "Node" ? await readNodeUsage(conn.client) : new Map();
    view = clientView(type, objects, usage, ctx.io.now());
  }
  if (view && options.sortBy) view.rows = sortBy(view.rows, options.sortBy, (r) => r.object);
  return { target, objects, view, failures };
}

function clientView(type: ResourceType, objects: KubeObject[], usage: NodeUsage, now: number): TableView {
  return type.kind === "Node" ? nodeView(objects as Node[], usage, now) : podView(objects as Pod[], now);
}

function renderOptions(
  ctx: CliContext,
  target: Target,
  format: OutputFormat,
  options: GetOptions,
  showKind: boolean,
): RenderViewOptions {
  return {
    wide: format.kind === "wide",
    namespaceColumn: options.allNamespaces && target.type.namespaced,
    showKind,
    showLabels: options.showLabels,
    labelColumns: options.labelColumns,
    palette: ctx.out,
  };
}

function printView(
  ctx: CliContext,
  view: TableView,
  how: { target: Target; format: OutputFormat; options: GetOptions; showKind: boolean },
): number[] {
  const { header, rows } = viewRows(view, renderOptions(ctx, how.target, how.format, how.options, how.showKind));
  const all = how.options.headers ? [header.map((h) => ctx.out.bold(h)), ...rows] : rows;
  const widths = columnWidths(all);
  ctx.print(renderRows(all, widths));
  return widths;
}

/** Follows one target: prints the current state (unless --watch-only), then every change. */
async function watchTarget(
  ctx: CliContext,
  conn: Connection,
  target: Target,
  format: OutputFormat,
  options: GetOptions,
): Promise<void> {
  const { type } = target;
  const name = target.names[0];
  const resource = conn.client.resource(type);
  const ns = namespaceOf(conn, type, options.allNamespaces);
  const fieldSelector = [options.fieldSelector, name !== undefined ? `metadata.name=${name}` : undefined]
    .filter((s) => s).join(",") || undefined;
  const query = { labelSelector: options.selector, fieldSelector };
  const tableMode = isTableFormat(format);
  const serverTable = tableMode && !hasClientColumns(type.kind);
  const usage = tableMode && type.kind === "Node" ? await readNodeUsage(conn.client) : new Map();
  const signal = ctx.io.signal;
  const render = renderOptions(ctx, target, format, options, false);
  let widths: number[] | undefined;
  let columns: TableView | undefined;
  let firstObject = true;

  const printRows = (view: TableView) => {
    if (view.rows.length === 0) return;
    const { header, rows } = viewRows(view, render);
    if (widths === undefined) {
      const all = options.headers ? [header.map((h) => ctx.out.bold(h)), ...rows] : rows;
      widths = columnWidths(all);
      ctx.print(renderRows(all, widths));
    } else {
      widths = columnWidths(rows, widths);
      ctx.print(renderRows(rows, widths));
    }
  };
  const printObjects = (objects: KubeObject[]) => {
    if (serverTable) return;
    if (tableMode) return printRows(clientView(type, objects, usage, ctx.io.now()));
    for (const obj of objects) {
      ctx.print(formatWatchedObject(format as ObjectFormat, obj, firstObject));
      firstObject = false;
    }
  };

  const listOnce = async (print: boolean): Promise<string> => {
    if (serverTable) {
      const table = await conn.client.json<ServerTable>("GET", resource.path(ns), {
        accept: TABLE_ACCEPT,
        query,
      });
      columns = viewFromServerTable(table);
      if (print) {
        if (options.sortBy) columns.rows = sortBy(columns.rows, options.sortBy, (r) => r.object);
        printRows(columns);
      }
      return table.metadata?.resourceVersion ?? "";
    }
    const list = await conn.client.json<KubeList>("GET", resource.path(ns), { query });
    if (print) {
      let items = list.items.map((o) => typed(type, o));
      if (options.sortBy) items = sortBy(items, options.sortBy, (o) => o);
      printObjects(items);
    }
    return list.metadata.resourceVersion ?? "";
  };

  let resourceVersion = await listOnce(!options.watchOnly);
  while (!signal?.aborted) {
    try {
      for await (
        const event of watchRaw(conn.client, resource.path(ns), {
          query: { ...query, resourceVersion, allowWatchBookmarks: "true" },
          ...(serverTable ? { accept: TABLE_ACCEPT } : {}),
          ...(signal ? { signal } : {}),
        })
      ) {
        if (event.type === "BOOKMARK") {
          resourceVersion = (event.object.metadata as { resourceVersion?: string } | undefined)?.resourceVersion ??
            resourceVersion;
          continue;
        }
        if (serverTable) {
          const table = event.object as ServerTable;
          const view = viewFromServerTable(table, columns);
          columns ??= view;
          const rv = view.rows[0]?.object.metadata?.resourceVersion;
          if (rv) resourceVersion = rv;
          printRows(view);
        } else {
          const obj = typed(type, event.object as KubeObject);
          resourceVersion = obj.metadata.resourceVersion ?? resourceVersion;
          printObjects([obj]);
        }
      }
    } catch (err) {
      if (!(err instanceof CompactedError)) throw err;
      resourceVersion = await listOnce(false);
    }
    if (!signal?.aborted) await sleep(200, signal);
  }
}
