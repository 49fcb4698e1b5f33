/**
 * What `skiff create` does: POSTs every object of the manifests, in order,
 * and reports each; failures are reported one by one and make the exit
 * code 1.
 *
 * @module
 */

import type { Command } from "commander";
import type { KubeObject } from "@skiff/api";
import type { CliContext } from "./_context.ts";
import { errorLine, ExitError, isFatal, UsageError } from "./_errors.ts";
import { placeManifest, readManifests } from "./_manifests.ts";
import { formatObjects, type ObjectFormat, parseOutputFormat } from "./_printers.ts";
import { Progress } from "./_progress.ts";
import { objectName } from "./_resources.ts";

/** Options of {@linkcode runCreate}. */
export interface CreateOptions {
  /** `-f` values. */
  filenames: string[];
  /** `-R`. */
  recursive: boolean;
  /** `--dry-run`. */
  dryRun: "none" | "client" | "server";
  /** `-o`. */
  output?: string;
}

/** Runs `skiff create`. */
export async function runCreate(ctx: CliContext, command: Command, options: CreateOptions): Promise<void> {
  if (options.filenames.length === 0) {
    throw new UsageError("create needs -f <file|dir|url|->: e.g. `skiff create -f web.yaml`");
  }
  const format = options.output === undefined
    ? undefined
    : parseOutputFormat(options.output, ["name", "yaml", "json"]) as ObjectFormat;
  const manifests = await readManifests(options.filenames, ctx.io, {
    recursive: options.recursive,
    requireName: false,
  });
  const conn = await ctx.connect(command);
  const progress = new Progress(ctx.io);
  const suffix = options.dryRun === "client" ? " (dry run)" : options.dryRun === "server" ? " (server dry run)" : "";
  const created: KubeObject[] = [];
  let failures = 0;
  for (const [index, manifest] of manifests.entries()) {
    const object = placeManifest(manifest, conn);
    const label = objectName(manifest.type, object.metadata.name ?? object.metadata.generateName ?? "");
    if (manifests.length > 1) progress.update(`creating ${index + 1}/${manifests.length}: ${label}`);
    try {
      const result = options.dryRun === "client"
        ? object
        : await conn.client.resource(manifest.type).create(object, { dryRun: options.dryRun === "server" });
      created.push(result);
      const name = objectName(manifest.type, result.metadata.name ?? label);
      if (!format) progress.print(`${name} created${suffix}`);
      else if (format.kind === "name") progress.print(name);
    } catch (err) {
      progress.clear();
      if (isFatal(err)) throw err;
      ctx.error(`${label} (from "${manifest.source}"): ${errorLine(err, ctx.hint)}`);
      failures++;
    }
  }
  progress.clear();
  if (format && format.kind !== "name") ctx.print(formatObjects(format, created, { single: created.length === 1 }));
  if (failures > 0) throw new ExitError(1);
}
