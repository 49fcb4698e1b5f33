/**
 * What `skiff node delete` does to retire a node, in this order:
 *
 * 1. cordon and drain it as `skiff drain --ignore-daemonsets` does (pods
 *    evicted and waited for; DaemonSet pods left, the pod garbage collector
 *    removes them with the Node). A node that is not Ready has no agent to
 *    stop its pods: they are deleted at once (grace period 0) instead;
 * 2. delete its node tokens, so its agent can no longer act as it (before
 *    the Node goes, so a running agent cannot register it again);
 * 3. delete its Lease in kube-node-lease, then the Node.
 *
 * The machine can rejoin under the same name with a new join token.
 *
 * @module
 */

import type { Command } from "commander";
import { type KubeObject, type Node, NODE_LEASE_NAMESPACE, NotFoundError } from "@skiff/api";
import { TOKEN_NAMESPACE, tokenRecordOf } from "@skiff/control-plane";
import type { CliContext } from "./_context.ts";
import { runDrain } from "./drain_run.ts";

/** Options of {@linkcode runNodeDelete}. */
export interface NodeDeleteOptions {
  /** `--force`: also delete pods no controller manages. */
  force: boolean;
  /** `--delete-emptydir-data`. */
  deleteEmptyDirData: boolean;
  /** `--grace-period`; -1 for the pod's own. */
  gracePeriod: number;
  /** `--timeout` of the drain in ms; 0 for none. */
  timeoutMs: number;
}

function isReady(node: Node): boolean {
  return node.status?.conditions?.find((c) => c.type === "Ready")?.status === "True";
}

/** Runs `skiff node delete`. */
export async function runNodeDelete(
  ctx: CliContext,
  command: Command,
  name: string,
  options: NodeDeleteOptions,
): Promise<void> {
  const conn = await ctx.connect(command);
  const nodes = conn.client.kind<Node>("v1", "Node");
  let node: Node | undefined;
  try {
    node = await nodes.get(name);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
  }

  if (node) {
    const ready = isReady(node);
    if (!ready) {
      ctx.warn(
        `node "${name}" is not Ready: its pods are deleted at once (grace period 0), as no agent will stop them`,
      );
    }
    await runDrain(ctx, command, name, {
      ignoreDaemonsets: true,
      force: options.force,
      deleteEmptyDirData: options.deleteEmptyDirData,
      gracePeriod: ready ? options.gracePeriod : 0,
      timeoutMs: options.timeoutMs,
      disableEviction: !ready,
      dryRun: "none",
    });
  }

  const secrets = conn.client.kind("v1", "Secret");
  const tokens = (await secrets.listAll({ namespace: TOKEN_NAMESPACE })).items.filter((secret: KubeObject) => {
    const record = tokenRecordOf(secret);
    return record?.role === "node" && record.nodeName === name;
  });
  for (const token of tokens) {
    try {
      await secrets.delete(token.metadata.name!, { namespace: TOKEN_NAMESPACE });
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
  }
  if (tokens.length > 0) {
    ctx.print(
      `revoked ${tokens.length} node token${
        tokens.length === 1 ? "" : "s"
      } of "${name}": its agent can no longer act as it\n`,
    );
  }

  let lease = false;
  try {
    await conn.client.kind("coordination.k8s.io/v1", "Lease").delete(name, { namespace: NODE_LEASE_NAMESPACE });
    lease = true;
    ctx.print(`lease ${NODE_LEASE_NAMESPACE}/${name} deleted\n`);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
  }

  if (!node) {
    if (tokens.length === 0 && !lease) {
      throw new Error(
        `node "${name}" not found, and no node token is bound to that name: see the nodes with \`skiff get nodes\``,
      );
    }
    ctx.warn(`node "${name}" was not registered: only its credentials were left to delete`);
    return;
  }
  try {
    await nodes.delete(name);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
  }
  ctx.print(
    `node/${name} deleted\n` +
      `To bring the machine back, run \`skiff agent --server URL --token K10…\` on it with a join token from \`skiff token create\`\n`,
  );
}
