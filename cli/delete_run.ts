/**
 * What `skiff delete` does: finds the objects (names, selector, `--all` or
 * manifests), deletes each with the grace period and cascade asked for,
 * prints `pod "web" deleted`, then (with `--wait`, the default) waits until
 * they are gone, or says what still holds them when the timeout passes.
 *
 * @module
 */

import type { Command } from "commander";
import { type KubeObject, NotFoundError, type ResourceType } from "@skiff/api";
import type { CliContext, Connection } from "./_context.ts";
import { errorLine, ExitError, isFatal, UsageError } from "./_errors.ts";
import { placeManifest, readManifests } from "./_manifests.ts";
import { Progress } from "./_progress.ts";
import { parseTargets, qualifiedKind } from "./_resources.ts";
import { type Awaited, holdReason, waitForDeletion } from "./_wait.ts";

/** Options of {@linkcode runDelete}. */
export interface DeleteOptions {
  /** `-f` values. */
  filenames: string[];
  /** `-R`. */
  recursive: boolean;
  /** `-l`. */
  selector?: string;
  /** `--all`. */
  all: boolean;
  /** `-A`. */
  allNamespaces: boolean;
  /** `--ignore-not-found`. */
  ignoreNotFound: boolean;
  /** `--wait`. */
  wait: boolean;
  /** `--timeout`, in ms; 0 picks one from the grace periods. */
  timeoutMs: number;
  /** `--grace-period`; -1 for the object's own. */
  gracePeriod: number;
  /** `--now`. */
  now: boolean;
  /** `--force`. */
  force: boolean;
  /** `--cascade`. */
  cascade: "background" | "foreground" | "orphan";
  /** `--dry-run`. */
  dryRun: "none" | "client" | "server";
}

interface Victim {
  type: ResourceType;
  namespace: string | undefined;
  name: string;
}

async function findVictims(
  ctx: CliContext,
  conn: Connection,
  args: string[],
  options: DeleteOptions,
): Promise<Victim[]> {
  if (options.filenames.length > 0) {
    if (args.length > 0) {
      throw new UsageError("give either -f or types and names, not both: e.g. `skiff delete -f web.yaml`");
    }
    const manifests = await readManifests(options.filenames, ctx.io, {
      recursive: options.recursive,
      requireName: true,
    });
    return manifests.map((m) => {
      const obj = placeManifest(m, conn);
      return { type: m.type, namespace: obj.metadata.namespace, name: obj.metadata.name! };
    });
  }
  if (args.length === 0) {
    throw new UsageError(
      "delete needs something to delete: `skiff delete <type> <name>`, `<type>/<name>`, `-l <selector>`, `--all` or `-f <file>`",
    );
  }
  const targets = parseTargets(args, "delete");
  const victims: Victim[] = [];
  for (const { type, names } of targets) {
    const namespace = type.namespaced ? conn.namespace : undefined;
    if (names.length > 0) {
      if (options.selector || options.all) {
        throw new UsageError("name objects, or pick them with -l / --all, not both");
      }
      for (const name of names) victims.push({ type, namespace, name });
      continue;
    }
    if (!options.selector && !options.all) {
      throw new UsageError(
        `no name was given for ${type.plural}: name the objects, or pass -l <selector> or --all to delete many`,
      );
    }
    const list = await conn.client.resource(type).listAll({
      ...(type.namespaced && !options.allNamespaces ? { namespace } : {}),
      ...(options.selector ? { labelSelector: options.selector } : {}),
    });
    for (const obj of list.items) {
      victims.push({ type, namespace: obj.metadata.namespace, name: obj.metadata.name! });
    }
  }
  if (victims.length === 0) ctx.io.stderr.write("No resources found\n");
  return victims;
}

/** Runs `skiff delete`. */
export async function runDelete(
  ctx: CliContext,
  command: Command,
  args: string[],
  options: DeleteOptions,
): Promise<void> {
  if (options.now && options.gracePeriod >= 0) throw new UsageError("--now and --grace-period cannot be used together");
  let grace = options.now ? 1 : options.gracePeriod;
  if (options.force && grace < 0) grace = 0;
  if (options.force && grace !== 0) ctx.warn("--force is ignored because --grace-period is not 0");
  // As kubectl: a zero grace period without --force means "as fast as possible", one second.
  if (grace === 0 && !options.force) grace = 1;
  const conn = await ctx.connect(command);
  const victims = await findVictims(ctx, conn, args, options);
  if (options.force && grace === 0) {
    ctx.warn(
      "Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.",
    );
  }
  const suffix = options.dryRun === "client" ? " (dry run)" : options.dryRun === "server" ? " (server dry run)" : "";
  const deleted: { victim: Victim; object: KubeObject }[] = [];
  let failures = 0;
  for (const victim of victims) {
    const label = `${qualifiedKind(victim.type)} "${victim.name}"`;
    const nsOption = victim.namespace !== undefined ? { namespace: victim.namespace } : {};
    try {
      const resource = conn.client.resource(victim.type);
      const object = options.dryRun === "client"
        ? await resource.get(victim.name, nsOption)
        : await resource.delete(victim.name, {
          ...nsOption,
          ...(grace >= 0 ? { gracePeriodSeconds: grace } : {}),
          propagationPolicy: (options.cascade[0]!.toUpperCase() + options.cascade.slice(1)) as
            | "Background"
            | "Foreground"
            | "Orphan",
          dryRun: options.dryRun === "server",
        });
      ctx.print(`${label} deleted${suffix}\n`);
      deleted.push({ victim, object });
    } catch (err) {
      if (err instanceof NotFoundError && options.ignoreNotFound) continue;
      if (isFatal(err)) throw err;
      ctx.error(errorLine(err, ctx.hint));
      failures++;
    }
  }
  if (options.wait && options.dryRun === "none" && deleted.length > 0) {
    failures += await waitForAll(ctx, conn, deleted, options.timeoutMs);
  }
  if (failures > 0) throw new ExitError(1);
}

async function waitForAll(
  ctx: CliContext,
  conn: Connection,
  deleted: { victim: Victim; object: KubeObject }[],
  timeoutSetting: number,
): Promise<number> {
  const graces = deleted.map(({ object }) => object.metadata.deletionGracePeriodSeconds ?? 0);
  const timeoutMs = timeoutSetting > 0 ? timeoutSetting : (Math.max(0, ...graces) + 60) * 1000;
  const items: Awaited[] = deleted.map(({ victim, object }) => ({
    ...victim,
    uid: object.kind === "Status"
      ? (object.details as { uid?: string } | undefined)?.uid || undefined
      : object.metadata.uid,
  }));
  const progress = new Progress(ctx.io);
  const remaining = await waitForDeletion(conn, items, {
    timeoutMs,
    progress,
    what: "to be deleted",
    ...(ctx.io.signal ? { signal: ctx.io.signal } : {}),
  });
  progress.clear();
  for (const { item, object } of remaining) {
    ctx.error(
      `timed out after ${Math.round(timeoutMs / 1000)}s waiting for ${
        qualifiedKind(item.type)
      } "${item.name}" to be deleted: ${
        holdReason(item.type, object)
      }; or pass --wait=false not to wait, or a longer --timeout`,
    );
  }
  return remaining.length;
}
