/**
 * What `skiff cordon` and `skiff uncordon` do (and the first step of
 * `drain`): set or clear `spec.unschedulable` on nodes.
 *
 * @module
 */

import type { Command } from "commander";
import type { Node } from "@skiff/api";
import type { CliContext, Connection } from "./_context.ts";
import { errorLine, ExitError, isFatal, UsageError } from "./_errors.ts";

/** Options of {@linkcode runCordon}. */
export interface CordonOptions {
  /** `-l`. */
  selector?: string;
  /** `--dry-run`. */
  dryRun: "none" | "client" | "server";
}

/**
 * Cordons (`unschedulable` true) or uncordons one node and returns the line
 * to print: `node/pi-1 cordoned`, `node/pi-1 already cordoned`.
 */
export async function setUnschedulable(
  conn: Connection,
  node: Node,
  unschedulable: boolean,
  dryRun: CordonOptions["dryRun"],
): Promise<string> {
  const name = `node/${node.metadata.name}`;
  const verb = unschedulable ? "cordoned" : "uncordoned";
  if (Boolean(node.spec?.unschedulable) === unschedulable) return `${name} already ${verb}`;
  if (dryRun !== "client") {
    await conn.client.kind<Node>("v1", "Node").patch(
      node.metadata.name!,
      { spec: { unschedulable: unschedulable ? true : null } },
      { type: "merge", dryRun: dryRun === "server" },
    );
  }
  return `${name} ${verb}${dryRun === "client" ? " (dry run)" : dryRun === "server" ? " (server dry run)" : ""}`;
}

/** Runs `skiff cordon` (`unschedulable` true) or `skiff uncordon` (false). */
export async function runCordon(
  ctx: CliContext,
  command: Command,
  names: string[],
  unschedulable: boolean,
  options: CordonOptions,
): Promise<void> {
  const verb = unschedulable ? "cordon" : "uncordon";
  if (names.length === 0 && !options.selector) {
    throw new UsageError(`${verb} needs node names or -l <selector>: e.g. \`skiff ${verb} pi-1\``);
  }
  const conn = await ctx.connect(command);
  const nodes = conn.client.kind<Node>("v1", "Node");
  const found: Node[] = [];
  let failures = 0;
  for (const name of names) {
    try {
      found.push(await nodes.get(name));
    } catch (err) {
      if (isFatal(err)) throw err;
      ctx.error(errorLine(err, ctx.hint));
      failures++;
    }
  }
  if (options.selector) found.push(...(await nodes.listAll({ labelSelector: options.selector })).items);
  for (const node of found) {
    try {
      ctx.print(`${await setUnschedulable(conn, node, unschedulable, options.dryRun)}\n`);
    } catch (err) {
      if (isFatal(err)) throw err;
      ctx.error(`node/${node.metadata.name}: ${errorLine(err, ctx.hint)}`);
      failures++;
    }
  }
  if (failures > 0) throw new ExitError(1);
}
