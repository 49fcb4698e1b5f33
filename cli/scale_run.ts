/**
 * What `skiff scale` does: patches each object's `scale` subresource,
 * after checking `--current-replicas` when given (pinned to the version
 * read, so a change in between is a conflict, not a surprise).
 *
 * @module
 */

import type { Command } from "commander";
import type { KubeObject } from "@skiff/api";
import type { CliContext } from "./_context.ts";
import { errorLine, ExitError, isFatal, UsageError } from "./_errors.ts";
import { objectName, parseTargets } from "./_resources.ts";

/** Options of {@linkcode runScale}. */
export interface ScaleOptions {
  /** `--replicas`. */
  replicas: number;
  /** `--current-replicas`. */
  currentReplicas?: number;
  /** `--dry-run`. */
  dryRun: "none" | "client" | "server";
}

/** Runs `skiff scale`. */
export async function runScale(
  ctx: CliContext,
  command: Command,
  args: string[],
  options: ScaleOptions,
): Promise<void> {
  const targets = parseTargets(args, "scale");
  for (const { type, names } of targets) {
    if (!type.subresources.some((s) => s.name === "scale")) {
      const scalable = "deployments, replicasets and statefulsets";
      throw new UsageError(`${type.plural} cannot be scaled: only ${scalable} can`);
    }
    if (names.length === 0) {
      throw new UsageError(`name the ${type.plural} to scale: e.g. \`skiff scale ${type.singular}/web --replicas=3\``);
    }
  }
  const conn = await ctx.connect(command);
  const suffix = options.dryRun === "client" ? " (dry run)" : options.dryRun === "server" ? " (server dry run)" : "";
  let failures = 0;
  for (const { type, names } of targets) {
    const resource = conn.client.resource(type);
    const namespace = type.namespaced ? conn.namespace : undefined;
    for (const name of names) {
      try {
        const patch: Record<string, unknown> = { spec: { replicas: options.replicas } };
        if (options.currentReplicas !== undefined) {
          const scale = await conn.client.json<KubeObject>("GET", resource.path(namespace, name, "scale"));
          const current = (scale.spec as { replicas?: number } | undefined)?.replicas ?? 0;
          if (current !== options.currentReplicas) {
            ctx.error(
              `${
                objectName(type, name)
              }: expected replicas to be ${options.currentReplicas}, was ${current}: nothing was changed`,
            );
            failures++;
            continue;
          }
          patch.metadata = { resourceVersion: scale.metadata.resourceVersion };
        }
        if (options.dryRun !== "client") {
          await resource.patch(name, patch, {
            ...(namespace ? { namespace } : {}),
            subresource: "scale",
            type: "merge",
            dryRun: options.dryRun === "server",
          });
        }
        ctx.print(`${objectName(type, name)} scaled${suffix}\n`);
      } catch (err) {
        if (isFatal(err)) throw err;
        ctx.error(errorLine(err, ctx.hint));
        failures++;
      }
    }
  }
  if (failures > 0) throw new ExitError(1);
}
