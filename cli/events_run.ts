/**
 * What `skiff events` does: lists Events (of a namespace, all of them, or
 * about one object), prints them oldest first as LAST SEEN, TYPE, REASON,
 * OBJECT, MESSAGE, and with `-w` keeps printing new ones.
 *
 * @module
 */

import type { Command } from "commander";
import { CompactedError, type KubeObject } from "@skiff/api";
import type { CliContext } from "./_context.ts";
import type { EventLike } from "./_describe.ts";
import { UsageError } from "./_errors.ts";
import { eventCells, sortEvents } from "./_events.ts";
import { formatObjects, formatWatchedObject, type ObjectFormat, parseOutputFormat } from "./_printers.ts";
import { parseOneTarget } from "./_resources.ts";
import { columnWidths, renderRows } from "./_table.ts";
import { sleep, watchRaw } from "./_watch.ts";

/** Options of {@linkcode runEvents}. */
export interface EventsOptions {
  /** `-A`. */
  allNamespaces: boolean;
  /** `-w`. */
  watch: boolean;
  /** `--for <type>/<name>`. */
  for?: string;
  /** `--types`. */
  types?: string;
  /** `-o`. */
  output: "table" | "yaml" | "json" | "name";
  /** False with `--no-headers`. */
  headers: boolean;
}

const TYPES = ["Normal", "Warning"];

/** Runs `skiff events`. */
export async function runEvents(ctx: CliContext, command: Command, options: EventsOptions): Promise<void> {
  const types = options.types?.split(",").map((t) => t.trim()).filter((t) => t !== "") ?? [];
  for (const t of types) {
    const known = TYPES.find((k) => k.toLowerCase() === t.toLowerCase());
    if (!known) throw new UsageError(`unknown event type "${t}": use ${TYPES.join(" or ")}`);
  }
  const wanted = types.map((t) => t.toLowerCase());
  const format = parseOutputFormat(options.output, ["table", "yaml", "json", "name"]);
  const conn = await ctx.connect(command);
  const namespace = options.allNamespaces ? undefined : conn.namespace;
  const fields: string[] = [];
  if (options.for) {
    const { type, name } = parseOneTarget([options.for], "events --for");
    fields.push(`involvedObject.kind=${type.kind}`, `involvedObject.name=${name}`);
  }
  const query = { fieldSelector: fields.join(",") || undefined };
  const events = conn.client.kind<EventLike>("v1", "Event");
  const keep = (e: EventLike) => wanted.length === 0 || wanted.includes(String(e.type ?? "").toLowerCase());
  const list = await events.listAll({
    ...(namespace ? { namespace } : {}),
    ...(query.fieldSelector ? { fieldSelector: query.fieldSelector } : {}),
  });
  const initial = sortEvents(list.items.filter(keep));
  const nsColumn = options.allNamespaces;
  const rowOf = (e: EventLike) => [...(nsColumn ? [e.metadata.namespace ?? ""] : []), ...eventCells(e, ctx.io.now())];
  const header = [...(nsColumn ? ["NAMESPACE"] : []), "LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"];
  let widths: number[] | undefined;
  const typed = (e: EventLike): KubeObject => ({ apiVersion: "v1", kind: "Event", ...e });
  if (format.kind === "table") {
    if (initial.length > 0) {
      const rows = [...(options.headers ? [header.map((h) => ctx.out.bold(h))] : []), ...initial.map(rowOf)];
      widths = columnWidths(rows);
      ctx.print(renderRows(rows, widths));
    }
  } else if (!options.watch) {
    ctx.print(formatObjects(format as ObjectFormat, initial.map(typed), { single: false }));
  } else {
    initial.forEach((e, i) => ctx.print(formatWatchedObject(format as ObjectFormat, typed(e), i === 0)));
  }
  if (initial.length === 0 && !options.watch) {
    ctx.io.stderr.write(namespace ? `No events found in ${namespace} namespace.\n` : "No events found.\n");
  }
  if (!options.watch) return;
  let resourceVersion = list.metadata.resourceVersion ?? "";
  let first = initial.length === 0;
  const signal = ctx.io.signal;
  while (!signal?.aborted) {
    try {
      for await (
        const event of watchRaw(conn.client, events.path(namespace), {
          query: { ...query, resourceVersion, allowWatchBookmarks: "true" },
          ...(signal ? { signal } : {}),
        })
      ) {
        const e = event.object as EventLike;
        resourceVersion = e.metadata?.resourceVersion ?? resourceVersion;
        if (event.type !== "ADDED" && event.type !== "MODIFIED") continue;
        if (!keep(e)) continue;
        if (format.kind === "table") {
          const rows = widths === undefined && options.headers
            ? [header.map((h) => ctx.out.bold(h)), rowOf(e)]
            : [rowOf(e)];
          widths = columnWidths(rows, widths);
          ctx.print(renderRows(rows, widths));
        } else {
          ctx.print(formatWatchedObject(format as ObjectFormat, typed(e), first));
        }
        first = false;
      }
    } catch (err) {
      if (!(err instanceof CompactedError)) throw err;
      resourceVersion =
        (await events.list({ ...(namespace ? { namespace } : {}), limit: 1 })).metadata.resourceVersion ??
          "";
    }
    if (!signal?.aborted) await sleep(200, signal);
  }
}
