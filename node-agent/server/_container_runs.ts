/**
 * The runs of one container of a pod on this node, as the runtime keeps
 * them (the pod manager keeps the two latest): found by their labels, of the
 * newest pod of that namespace and name (a pod deleted and created again
 * under the same name has a new uid), newest first.
 *
 * @module
 */

import {
  containerIdentity,
  type ContainerInfo,
  LABEL_CONTAINER_NAME,
  LABEL_POD_NAME,
  LABEL_POD_NAMESPACE,
  type Runtime,
} from "../runtime/mod.ts";

/** A run of a container: what the runtime says, and its restart count. */
export interface ContainerRun {
  /** The container as the runtime sees it. */
  info: ContainerInfo;
  /** Restarts before this run. */
  restartCount: number;
}

/** The runs of container `container` of pod `namespace/pod`, newest first (empty when none ran here). */
export async function containerRuns(
  runtime: Runtime,
  where: { namespace: string; pod: string; container: string },
): Promise<ContainerRun[]> {
  const infos = await runtime.listContainers({
    labels: {
      [LABEL_POD_NAMESPACE]: where.namespace,
      [LABEL_POD_NAME]: where.pod,
      [LABEL_CONTAINER_NAME]: where.container,
    },
  });
  const runs: (ContainerRun & { podUid: string })[] = [];
  for (const info of infos) {
    const identity = containerIdentity(info.labels);
    if (identity) runs.push({ info, restartCount: identity.restartCount, podUid: identity.podUid });
  }
  const newest = runs.reduce<(typeof runs)[number] | undefined>(
    (best, run) => !best || run.info.createdAt > best.info.createdAt ? run : best,
    undefined,
  );
  return runs
    .filter((run) => run.podUid === newest?.podUid)
    .sort((a, b) => b.restartCount - a.restartCount || b.info.createdAt - a.info.createdAt)
    .map(({ info, restartCount }) => ({ info, restartCount }));
}
