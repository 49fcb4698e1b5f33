/**
 * Picks the pod and container that `logs` and `exec` talk to: a pod by
 * name, or one pod of a workload (`deploy/web`); the container named, else
 * the pod's default container, else its only (or first) one.
 *
 * @module
 */

import { type LabelSelector, type Pod, selectorFromLabelSelector } from "@skiff/api";
import type { CliContext, Connection } from "./_context.ts";
import { UsageError } from "./_errors.ts";
import { objectName, resolveType } from "./_resources.ts";
import { DEFAULT_CONTAINER_ANNOTATION } from "./_well_known.ts";

/** Reads the pod `arg` names: `web-1`, `pod/web-1`, or a workload such as `deploy/web`. */
export async function resolvePod(ctx: CliContext, conn: Connection, arg: string): Promise<Pod> {
  const pods = conn.client.kind<Pod>("v1", "Pod");
  const slash = arg.indexOf("/");
  if (slash < 0) return await pods.get(arg, { namespace: conn.namespace });
  const type = resolveType(arg.slice(0, slash));
  const name = arg.slice(slash + 1);
  if (type.kind === "Pod") return await pods.get(name, { namespace: conn.namespace });
  if (!type.namespaced || !["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"].includes(type.kind)) {
    throw new UsageError(
      `cannot pick a pod of ${type.plural}: give a pod, or a deployment, replicaset, statefulset or daemonset`,
    );
  }
  const owner = await conn.client.resource(type).get(name, { namespace: conn.namespace });
  const selector = (owner.spec as { selector?: LabelSelector } | undefined)?.selector;
  if (!selector) throw new Error(`${objectName(type, name)} has no selector, so it has no pods`);
  const list = await pods.listAll({
    namespace: conn.namespace,
    labelSelector: selectorFromLabelSelector(selector).toString(),
  });
  const candidates = list.items.filter((p) => !p.metadata.deletionTimestamp);
  candidates.sort((a, b) => podRank(a) - podRank(b) || (a.metadata.name! < b.metadata.name! ? -1 : 1));
  const chosen = candidates[0];
  if (!chosen) {
    throw new Error(
      `${objectName(type, name)} has no pods yet: check it with \`skiff describe ${type.singular} ${name}\``,
    );
  }
  if (candidates.length > 1) {
    ctx.io.stderr.write(`Found ${candidates.length} pods, using pod/${chosen.metadata.name}\n`);
  }
  return chosen;
}

/** Running pods first, then pending, then the rest. */
function podRank(pod: Pod): number {
  return pod.status?.phase === "Running" ? 0 : pod.status?.phase === "Pending" ? 1 : 2;
}

/** The container to use: the one asked for, else the default one (saying so when the pod has several). */
export function pickContainer(
  ctx: CliContext,
  pod: Pod,
  asked: string | undefined,
  options: { quiet?: boolean } = {},
): string {
  const containers = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].map((c) => c.name);
  if (asked !== undefined) {
    if (!containers.includes(asked)) {
      throw new UsageError(
        `container "${asked}" is not in pod "${pod.metadata.name}": choose one of ${
          containers.map((c) => `"${c}"`).join(", ")
        }`,
      );
    }
    return asked;
  }
  const annotated = pod.metadata.annotations?.[DEFAULT_CONTAINER_ANNOTATION];
  if (annotated && containers.includes(annotated)) return annotated;
  const main = (pod.spec?.containers ?? []).map((c) => c.name);
  const first = main[0];
  if (first === undefined) throw new Error(`pod "${pod.metadata.name}" has no containers`);
  if (main.length > 1 && !options.quiet) {
    ctx.io.stderr.write(`Defaulted container "${first}" out of: ${main.join(", ")}\n`);
  }
  return first;
}
