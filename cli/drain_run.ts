/**
 * What `skiff drain` does, as kubectl does it:
 *
 * 1. cordon the node;
 * 2. list its pods and sort them: finished pods and managed pods are
 *    evicted; mirror pods are left alone; DaemonSet-managed pods are left
 *    with `--ignore-daemonsets` and refuse the drain without it; pods no
 *    controller manages need `--force`, pods with emptyDir data need
 *    `--delete-emptydir-data`;
 * 3. evict each pod through `pods/eviction` (retrying while a disruption
 *    budget says no), or delete it with `--disable-eviction`;
 * 4. wait until they are gone, with progress, up to `--timeout`.
 *
 * A refused drain leaves the node cordoned, as kubectl does.
 *
 * @module
 */

import type { Command } from "commander";
import { type Node, NotFoundError, type Pod, TooManyRequestsError } from "@skiff/api";
import type { CliContext, Connection } from "./_context.ts";
import { setUnschedulable } from "./_cordon.ts";
import { isFatal } from "./_errors.ts";
import { Progress } from "./_progress.ts";
import { resolveType } from "./_resources.ts";
import { type Awaited, holdReason, waitForDeletion } from "./_wait.ts";
import { sleep } from "./_watch.ts";
import { MIRROR_POD_ANNOTATION } from "./_well_known.ts";

/** Options of {@linkcode runDrain}. */
export interface DrainOptions {
  /** `--ignore-daemonsets`. */
  ignoreDaemonsets: boolean;
  /** `--force`. */
  force: boolean;
  /** `--delete-emptydir-data`. */
  deleteEmptyDirData: boolean;
  /** `--grace-period`; -1 for the pod's own. */
  gracePeriod: number;
  /** `--timeout` in ms; 0 for none. */
  timeoutMs: number;
  /** `--pod-selector`. */
  podSelector?: string;
  /** `--disable-eviction`. */
  disableEviction: boolean;
  /** `--dry-run`. */
  dryRun: "none" | "client" | "server";
}

/** How drain treats the pods of a node. */
export interface DrainPlan {
  /** Pods to evict. */
  evict: Pod[];
  /** Warnings to print, e.g. `ignoring DaemonSet-managed Pods: kube-system/proxy-x`. */
  warnings: string[];
  /** Reasons the drain cannot go on, e.g. `cannot delete Pods that declare no controller (use --force to override): default/solo`. */
  errors: string[];
}

const key = (p: Pod) => `${p.metadata.namespace}/${p.metadata.name}`;

/** Sorts a node's pods into those to evict, warnings and refusals, as kubectl's drain filters do. */
export function planDrain(
  pods: readonly Pod[],
  options: Pick<DrainOptions, "ignoreDaemonsets" | "force" | "deleteEmptyDirData">,
): DrainPlan {
  const groups = {
    daemonSetErrors: [] as string[],
    daemonSetWarnings: [] as string[],
    unmanagedErrors: [] as string[],
    unmanagedWarnings: [] as string[],
    localErrors: [] as string[],
    localWarnings: [] as string[],
  };
  const evict: Pod[] = [];
  for (const pod of pods) {
    if (pod.metadata.annotations?.[MIRROR_POD_ANNOTATION] !== undefined) continue;
    const finished = pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed";
    const controller = (pod.metadata.ownerReferences ?? []).find((o) => o.controller);
    if (!finished && controller?.kind === "DaemonSet") {
      if (options.ignoreDaemonsets) groups.daemonSetWarnings.push(key(pod));
      else groups.daemonSetErrors.push(key(pod));
      continue;
    }
    let refused = false;
    if (!finished && !controller) {
      if (options.force) groups.unmanagedWarnings.push(key(pod));
      else {
        groups.unmanagedErrors.push(key(pod));
        refused = true;
      }
    }
    if (!finished && (pod.spec?.volumes ?? []).some((v) => v.emptyDir !== undefined)) {
      if (options.deleteEmptyDirData) groups.localWarnings.push(key(pod));
      else {
        groups.localErrors.push(key(pod));
        refused = true;
      }
    }
    if (!refused) evict.push(pod);
  }
  const errors: string[] = [];
  const warnings: string[] = [];
  if (groups.daemonSetErrors.length) {
    errors.push(
      `cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): ${groups.daemonSetErrors.join(", ")}`,
    );
  }
  if (groups.unmanagedErrors.length) {
    errors.push(
      `cannot delete Pods that declare no controller (use --force to override): ${groups.unmanagedErrors.join(", ")}`,
    );
  }
  if (groups.localErrors.length) {
    errors.push(
      `cannot delete Pods with local storage (use --delete-emptydir-data to override): ${
        groups.localErrors.join(", ")
      }`,
    );
  }
  if (groups.daemonSetWarnings.length) {
    warnings.push(`ignoring DaemonSet-managed Pods: ${groups.daemonSetWarnings.join(", ")}`);
  }
  if (groups.unmanagedWarnings.length) {
    warnings.push(`deleting Pods that declare no controller: ${groups.unmanagedWarnings.join(", ")}`);
  }
  if (groups.localWarnings.length) {
    warnings.push(`deleting Pods with local storage: ${groups.localWarnings.join(", ")}`);
  }
  return { evict, warnings, errors };
}

async function evictOne(
  ctx: CliContext,
  conn: Connection,
  pod: Pod,
  options: DrainOptions,
  deadline: number,
): Promise<boolean> {
  const pods = conn.client.kind<Pod>("v1", "Pod");
  const namespace = pod.metadata.namespace!;
  const name = pod.metadata.name!;
  const grace = options.gracePeriod >= 0 ? { gracePeriodSeconds: options.gracePeriod } : {};
  for (;;) {
    try {
      if (options.disableEviction) {
        await pods.delete(name, { namespace, ...grace, dryRun: options.dryRun === "server" });
      } else {
        await conn.client.request("POST", pods.path(namespace, name, "eviction"), {
          body: {
            apiVersion: "policy/v1",
            kind: "Eviction",
            metadata: { name, namespace },
            ...(options.gracePeriod >= 0 ? { deleteOptions: grace } : {}),
          },
          ...(options.dryRun === "server" ? { query: { dryRun: "All" } } : {}),
        });
      }
      return true;
    } catch (err) {
      if (err instanceof NotFoundError) return false;
      if (!(err instanceof TooManyRequestsError) || performance.now() >= deadline || ctx.io.signal?.aborted) throw err;
      ctx.io.stderr.write(
        `error when evicting pods/"${name}" -n "${namespace}" (will retry after 5s): ${err.message}\n`,
      );
      await sleep(5000, ctx.io.signal);
    }
  }
}

/** Runs `skiff drain`. */
export async function runDrain(
  ctx: CliContext,
  command: Command,
  nodeName: string,
  options: DrainOptions,
): Promise<void> {
  const conn = await ctx.connect(command);
  const node = await conn.client.kind<Node>("v1", "Node").get(nodeName);
  const progress = new Progress(ctx.io);
  ctx.print(`${await setUnschedulable(conn, node, true, options.dryRun)}\n`);
  const list = await conn.client.kind<Pod>("v1", "Pod").listAll({
    fieldSelector: `spec.nodeName=${nodeName}`,
    ...(options.podSelector ? { labelSelector: options.podSelector } : {}),
  });
  const plan = planDrain(list.items, options);
  if (plan.errors.length > 0) {
    throw new Error(
      `cannot drain node "${nodeName}": ${
        plan.errors.join("; ")
      }: the node stays cordoned; run \`skiff uncordon ${nodeName}\` to undo`,
    );
  }
  for (const warning of plan.warnings) ctx.warn(warning);
  const suffix = options.dryRun === "client" ? " (dry run)" : options.dryRun === "server" ? " (server dry run)" : "";
  const deadline = options.timeoutMs > 0 ? performance.now() + options.timeoutMs : Infinity;
  const podType = resolveType("pods");
  const waiting: Awaited[] = [];
  for (const pod of plan.evict) {
    progress.print(`evicting pod ${key(pod)}${suffix}`);
    if (options.dryRun === "client") continue;
    try {
      if (pod.metadata.deletionTimestamp || await evictOne(ctx, conn, pod, options, deadline)) {
        waiting.push({
          type: podType,
          namespace: pod.metadata.namespace,
          name: pod.metadata.name!,
          uid: pod.metadata.uid,
        });
      }
    } catch (err) {
      if (isFatal(err)) throw err;
      throw new Error(
        `cannot evict pod ${key(pod)}: ${
          (err as Error).message
        }: the node stays cordoned; run \`skiff drain ${nodeName}\` again, or \`skiff uncordon ${nodeName}\` to undo`,
        { cause: err },
      );
    }
  }
  if (options.dryRun === "none" && waiting.length > 0) {
    const remaining = await waitForDeletion(conn, waiting, {
      timeoutMs: Math.max(0, deadline - performance.now()),
      progress,
      what: "to leave the node",
      onGone: (item) => progress.print(`pod/${item.name} evicted`),
      ...(ctx.io.signal ? { signal: ctx.io.signal } : {}),
    });
    progress.clear();
    if (remaining.length > 0) {
      const first = remaining[0]!;
      throw new Error(
        `timed out after ${
          Math.round(options.timeoutMs / 1000)
        }s waiting for ${remaining.length} pod(s) to leave node "${nodeName}": ${
          remaining.map((r) => `${r.item.namespace}/${r.item.name}`).join(", ")
        } (${holdReason(first.item.type, first.object)}): the node stays cordoned; retry with a longer --timeout`,
      );
    }
  }
  ctx.print(`node/${nodeName} drained${suffix}\n`);
}
