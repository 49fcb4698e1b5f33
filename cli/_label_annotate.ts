/**
 * What `skiff label` and `skiff annotate` do: add (`key=value`), change
 * (`--overwrite`) or remove (`key-`) labels or annotations on objects
 * named or picked by a selector, with one merge patch per object.
 *
 * @module
 */

import type { Command } from "commander";
import type { KubeObject } from "@skiff/api";
import type { CliContext } from "./_context.ts";
import { errorLine, ExitError, isFatal, UsageError } from "./_errors.ts";
import { objectName, parseTargets } from "./_resources.ts";

/** Options of {@linkcode runLabelOrAnnotate}. */
export interface LabelOptions {
  /** `labels` or `annotations`. */
  field: "labels" | "annotations";
  /** `--overwrite`. */
  overwrite: boolean;
  /** `-l`. */
  selector?: string;
  /** `--all`. */
  all: boolean;
  /** `--list`. */
  list: boolean;
  /** `--dry-run`. */
  dryRun: "none" | "client" | "server";
  /** `--resource-version`: only if the object is still at this version. */
  resourceVersion?: string;
}

/** Splits the arguments into object arguments and `key=value` / `key-` changes. */
export function splitChanges(args: readonly string[], verb: string): {
  objects: string[];
  set: Record<string, string>;
  remove: string[];
} {
  const objects: string[] = [];
  const set: Record<string, string> = {};
  const remove: string[] = [];
  for (const arg of args) {
    const eq = arg.indexOf("=");
    if (eq > 0) {
      set[arg.slice(0, eq)] = arg.slice(eq + 1);
    } else if (arg.endsWith("-") && arg.length > 1) {
      if (objects.length === 0) throw new UsageError(`"${arg}" looks like a removal, but no object was named first`);
      remove.push(arg.slice(0, -1));
    } else {
      if (Object.keys(set).length > 0 || remove.length > 0) {
        throw new UsageError(`"${arg}" is not KEY=VALUE or KEY-: give the objects first, then the changes`);
      }
      objects.push(arg);
    }
  }
  for (const key of remove) {
    if (key in set) throw new UsageError(`cannot both set and remove "${key}"`);
  }
  if (objects.length === 0) throw new UsageError(`${verb} needs an object: e.g. \`skiff ${verb} pod web key=value\``);
  return { objects, set, remove };
}

/** Runs `skiff label` or `skiff annotate`. */
export async function runLabelOrAnnotate(
  ctx: CliContext,
  command: Command,
  args: string[],
  options: LabelOptions,
): Promise<void> {
  const verb = options.field === "labels" ? "label" : "annotate";
  const past = options.field === "labels" ? "labeled" : "annotated";
  const { objects: objectArgs, set, remove } = splitChanges(args, verb);
  if (!options.list && Object.keys(set).length === 0 && remove.length === 0) {
    throw new UsageError(`${verb} needs at least one change (KEY=VALUE or KEY-), or --list`);
  }
  const targets = parseTargets(objectArgs, verb);
  const conn = await ctx.connect(command);
  const found: { type: (typeof targets)[number]["type"]; object: KubeObject }[] = [];
  for (const { type, names } of targets) {
    const resource = conn.client.resource(type);
    const namespace = type.namespaced ? conn.namespace : undefined;
    if (names.length === 0) {
      if (!options.selector && !options.all) {
        throw new UsageError(`name the ${type.plural} to ${verb}, or pick them with -l <selector> or --all`);
      }
      const list = await resource.listAll({
        ...(namespace ? { namespace } : {}),
        ...(options.selector ? { labelSelector: options.selector } : {}),
      });
      for (const object of list.items) found.push({ type, object });
    } else {
      for (const name of names) found.push({ type, object: await resource.get(name, namespace ? { namespace } : {}) });
    }
  }
  let failures = 0;
  for (const { type, object } of found) {
    const label = objectName(type, object.metadata.name!);
    const current = object.metadata[options.field] ?? {};
    if (options.list) {
      for (const [k, v] of Object.entries(current)) ctx.print(`${k}=${v}\n`);
      continue;
    }
    const change: Record<string, string | null> = {};
    let refused = false;
    for (const [key, value] of Object.entries(set)) {
      if (key in current && current[key] !== value && !options.overwrite) {
        ctx.error(
          `${label}: '${key}' already has a value (${
            current[key]
          }), and --overwrite is false: pass --overwrite to change it`,
        );
        refused = true;
      } else if (current[key] !== value) change[key] = value;
    }
    for (const key of remove) {
      if (key in current) change[key] = null;
      else ctx.warn(`${label}: ${options.field === "labels" ? "label" : "annotation"} "${key}" not found`);
    }
    if (refused) {
      failures++;
      continue;
    }
    if (Object.keys(change).length === 0) {
      ctx.print(`${label} not ${past}\n`);
      continue;
    }
    const metadata: Record<string, unknown> = { [options.field]: change };
    if (options.resourceVersion) metadata.resourceVersion = options.resourceVersion;
    try {
      if (options.dryRun !== "client") {
        await conn.client.resource(type).patch(object.metadata.name!, { metadata }, {
          ...(object.metadata.namespace ? { namespace: object.metadata.namespace } : {}),
          type: "merge",
          dryRun: options.dryRun === "server",
        });
      }
      const suffix = options.dryRun === "client"
        ? " (dry run)"
        : options.dryRun === "server"
        ? " (server dry run)"
        : "";
      ctx.print(`${label} ${past}${suffix}\n`);
    } catch (err) {
      if (isFatal(err)) throw err;
      ctx.error(`${label}: ${errorLine(err, ctx.hint)}`);
      failures++;
    }
  }
  if (failures > 0) throw new ExitError(1);
}
