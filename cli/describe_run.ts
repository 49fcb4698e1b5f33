/**
 * What `skiff describe` does: reads the objects, gathers what their
 * describer shows besides them (events; a node's pods and usage; a
 * deployment's replica sets) and prints each.
 *
 * @module
 */

import type { Command } from "commander";
import {
  ApiError,
  type KubeObject,
  type NodeMetrics,
  NotFoundError,
  type Pod,
  type ReplicaSet,
  type ResourceType,
} from "@skiff/api";
import type { CliContext, Connection } from "./_context.ts";
import { type DescribeExtras, describeObject } from "./_describe.ts";
import { errorLine, ExitError, UsageError } from "./_errors.ts";
import { eventsFor } from "./_events.ts";
import { parseTargets } from "./_resources.ts";

/** Options of {@linkcode runDescribe}. */
export interface DescribeOptions {
  /** `-l`. */
  selector?: string;
  /** `-A`. */
  allNamespaces: boolean;
  /** `--show-events`. */
  showEvents: boolean;
}

async function extrasFor(
  ctx: CliContext,
  conn: Connection,
  obj: KubeObject,
  options: DescribeOptions,
): Promise<DescribeExtras> {
  const extras: DescribeExtras = { now: ctx.io.now() };
  if (options.showEvents) extras.events = await eventsFor(conn.client, obj);
  if (obj.kind === "Node") {
    const pods = await conn.client.kind<Pod>("v1", "Pod").listAll({
      fieldSelector: `spec.nodeName=${obj.metadata.name}`,
    });
    extras.pods = pods.items;
    try {
      extras.nodeMetrics = await conn.client.kind<NodeMetrics>("metrics.k8s.io/v1beta1", "NodeMetrics").get(
        obj.metadata.name!,
      );
    } catch (err) {
      if (!(err instanceof ApiError) || err.code >= 500 || err.code === 401) throw err;
    }
  }
  if (obj.kind === "Deployment") {
    const list = await conn.client.kind<ReplicaSet>("apps/v1", "ReplicaSet").listAll({
      namespace: obj.metadata.namespace!,
    });
    extras.replicaSets = list.items.filter((rs) =>
      (rs.metadata.ownerReferences ?? []).some((o) => o.controller && o.uid === obj.metadata.uid)
    );
  }
  return extras;
}

/** Runs `skiff describe`. */
export async function runDescribe(
  ctx: CliContext,
  command: Command,
  args: string[],
  options: DescribeOptions,
): Promise<void> {
  const targets = parseTargets(args, "describe");
  if (options.allNamespaces && targets.some((t) => t.names.length > 0)) {
    throw new UsageError("objects cannot be described by name across all namespaces: drop -A, or give -n");
  }
  const conn = await ctx.connect(command);
  const found: { type: ResourceType; object: KubeObject }[] = [];
  let failures = 0;
  for (const { type, names } of targets) {
    const resource = conn.client.resource(type);
    const namespace = type.namespaced && !options.allNamespaces ? conn.namespace : undefined;
    if (names.length > 0) {
      for (const name of names) {
        try {
          found.push({ type, object: await resource.get(name, namespace ? { namespace } : {}) });
        } catch (err) {
          if (!(err instanceof NotFoundError)) throw err;
          ctx.error(errorLine(err));
          failures++;
        }
      }
      continue;
    }
    const list = await resource.listAll({
      ...(namespace ? { namespace } : {}),
      ...(options.selector ? { labelSelector: options.selector } : {}),
    });
    for (const object of list.items) found.push({ type, object });
  }
  if (found.length === 0 && failures === 0) {
    ctx.io.stderr.write(
      targets.some((t) => t.type.namespaced) && !options.allNamespaces
        ? `No resources found in ${conn.namespace} namespace.\n`
        : "No resources found\n",
    );
  }
  const texts: string[] = [];
  for (const { type, object } of found) {
    const typed = { apiVersion: type.apiVersion, kind: type.kind, ...object };
    texts.push(describeObject(typed, type.namespaced, await extrasFor(ctx, conn, typed, options)));
  }
  ctx.print(texts.join("\n\n"));
  if (failures > 0) throw new ExitError(1);
}
