/**
 * What `skiff rollout status`, `restart`, `pause` and `resume` do.
 *
 * `status` follows the object with a watch and prints kubectl's progress
 * lines until the rollout is complete: for a deployment, the controller has
 * observed the latest generation, every replica is updated, no old replica
 * is left and every updated replica is available.
 *
 * @module
 */

import type { Command } from "commander";
import {
  CompactedError,
  type DaemonSet,
  type Deployment,
  type KubeObject,
  type ResourceType,
  type StatefulSet,
} from "@skiff/api";
import type { CliContext, Connection } from "./_context.ts";
import { errorLine, ExitError, isFatal, UsageError } from "./_errors.ts";
import { Progress } from "./_progress.ts";
import { objectName, parseOneTarget, parseTargets } from "./_resources.ts";
import { sleep, watchRaw } from "./_watch.ts";
import { RESTARTED_AT_ANNOTATION } from "./_well_known.ts";

/** The state of a rollout: a line to print, and whether it is complete. */
export interface RolloutState {
  /** kubectl's line, e.g. `Waiting for deployment "web" rollout to finish: 1 of 3 updated replicas are available...`. */
  message: string;
  /** True when complete. */
  done: boolean;
}

/** The rollout state of a deployment, as kubectl's DeploymentStatusViewer. */
export function deploymentRolloutState(d: Deployment): RolloutState {
  const name = d.metadata.name;
  const status: NonNullable<Deployment["status"]> = d.status ?? {};
  if ((d.metadata.generation ?? 0) > (status.observedGeneration ?? 0)) {
    return { message: "Waiting for deployment spec update to be observed...", done: false };
  }
  const progressing = (status.conditions ?? []).find((c) => c.type === "Progressing");
  if (progressing?.reason === "ProgressDeadlineExceeded") {
    throw new Error(
      `deployment "${name}" exceeded its progress deadline: see why with \`skiff describe deployment ${name}\` and its pods`,
    );
  }
  const desired = d.spec?.replicas ?? 1;
  const updated = status.updatedReplicas ?? 0;
  const total = status.replicas ?? 0;
  const available = status.availableReplicas ?? 0;
  if (updated < desired) {
    return {
      message:
        `Waiting for deployment "${name}" rollout to finish: ${updated} out of ${desired} new replicas have been updated...`,
      done: false,
    };
  }
  if (total > updated) {
    return {
      message: `Waiting for deployment "${name}" rollout to finish: ${
        total - updated
      } old replicas are pending termination...`,
      done: false,
    };
  }
  if (available < updated) {
    return {
      message:
        `Waiting for deployment "${name}" rollout to finish: ${available} of ${updated} updated replicas are available...`,
      done: false,
    };
  }
  return { message: `deployment "${name}" successfully rolled out`, done: true };
}

/** The rollout state of a daemon set, as kubectl's DaemonSetStatusViewer. */
export function daemonSetRolloutState(ds: DaemonSet): RolloutState {
  const name = ds.metadata.name;
  const status: Partial<NonNullable<DaemonSet["status"]>> = ds.status ?? {};
  if ((ds.metadata.generation ?? 0) > (status.observedGeneration ?? 0)) {
    return { message: "Waiting for daemon set spec update to be observed...", done: false };
  }
  const desired = status.desiredNumberScheduled ?? 0;
  if ((status.updatedNumberScheduled ?? 0) < desired) {
    return {
      message: `Waiting for daemon set "${name}" rollout to finish: ${
        status.updatedNumberScheduled ?? 0
      } out of ${desired} new pods have been updated...`,
      done: false,
    };
  }
  if ((status.numberAvailable ?? 0) < desired) {
    return {
      message: `Waiting for daemon set "${name}" rollout to finish: ${
        status.numberAvailable ?? 0
      } of ${desired} updated pods are available...`,
      done: false,
    };
  }
  return { message: `daemon set "${name}" successfully rolled out`, done: true };
}

/** The rollout state of a stateful set, as kubectl's StatefulSetStatusViewer. */
export function statefulSetRolloutState(sts: StatefulSet): RolloutState {
  const status: Partial<NonNullable<StatefulSet["status"]>> = sts.status ?? {};
  if (!status.observedGeneration || (sts.metadata.generation ?? 0) > status.observedGeneration) {
    return { message: "Waiting for statefulset spec update to be observed...", done: false };
  }
  const desired = sts.spec?.replicas ?? 1;
  if ((status.readyReplicas ?? 0) < desired) {
    return { message: `Waiting for ${desired - (status.readyReplicas ?? 0)} pods to be ready...`, done: false };
  }
  if (status.updateRevision !== status.currentRevision) {
    return {
      message: `waiting for statefulset rolling update to complete ${
        status.updatedReplicas ?? 0
      } pods at revision ${status.updateRevision}...`,
      done: false,
    };
  }
  return {
    message: `statefulset rolling update complete ${status.currentReplicas ?? desired} pods at revision ${
      status.currentRevision ?? ""
    }...`,
    done: true,
  };
}

function rolloutState(obj: KubeObject): RolloutState {
  switch (obj.kind) {
    case "Deployment":
      return deploymentRolloutState(obj as Deployment);
    case "DaemonSet":
      return daemonSetRolloutState(obj as DaemonSet);
    default:
      return statefulSetRolloutState(obj as StatefulSet);
  }
}

const ROLLOUT_KINDS = ["Deployment", "DaemonSet", "StatefulSet"];

function checkRolloutType(type: ResourceType, verb: string): void {
  if (!ROLLOUT_KINDS.includes(type.kind)) {
    throw new UsageError(`rollout ${verb} works on deployments, daemonsets and statefulsets, not ${type.plural}`);
  }
}

/** Options of {@linkcode runRolloutStatus}. */
export interface RolloutStatusOptions {
  /** Keep watching until done. */
  watch: boolean;
  /** Give up after this many ms (0: never). */
  timeoutMs: number;
}

/** Runs `skiff rollout status`. */
export async function runRolloutStatus(
  ctx: CliContext,
  command: Command,
  args: string[],
  options: RolloutStatusOptions,
): Promise<void> {
  const { type, name } = parseOneTarget(args, "rollout status");
  checkRolloutType(type, "status");
  const conn = await ctx.connect(command);
  const namespace = type.namespaced ? conn.namespace : undefined;
  const resource = conn.client.resource(type);
  const progress = new Progress(ctx.io);
  const timeout = new AbortController();
  const started = performance.now();
  const timer = options.timeoutMs > 0 ? setTimeout(() => timeout.abort(), options.timeoutMs) : undefined;
  const signal = ctx.io.signal ? AbortSignal.any([ctx.io.signal, timeout.signal]) : timeout.signal;
  let last = "";
  let done = false;
  const show = (obj: KubeObject): boolean => {
    const state = rolloutState({ apiVersion: type.apiVersion, kind: type.kind, ...obj });
    done = state.done;
    if (state.message !== last) {
      progress.print(state.message);
      last = state.message;
    }
    return state.done;
  };
  const ticker = setInterval(() => {
    if (!done) {
      progress.update(`waiting for ${objectName(type, name)} (${Math.floor((performance.now() - started) / 1000)}s)`);
    }
  }, 1000);
  try {
    let current = await resource.get(name, namespace ? { namespace } : {});
    if (show(current) || !options.watch) return;
    let resourceVersion = current.metadata.resourceVersion ?? "";
    while (!signal.aborted) {
      try {
        for await (
          const event of watchRaw(conn.client, resource.path(namespace), {
            query: { fieldSelector: `metadata.name=${name}`, resourceVersion, allowWatchBookmarks: "true" },
            signal,
          })
        ) {
          const obj = event.object as KubeObject;
          resourceVersion = obj.metadata?.resourceVersion ?? resourceVersion;
          if (event.type === "BOOKMARK") continue;
          if (event.type === "DELETED") {
            throw new Error(`${objectName(type, name)} was deleted while its rollout was watched`);
          }
          current = obj;
          if (show(current)) return;
        }
      } catch (err) {
        if (!(err instanceof CompactedError)) throw err;
        current = await resource.get(name, namespace ? { namespace } : {});
        resourceVersion = current.metadata.resourceVersion ?? "";
        if (show(current)) return;
      }
      if (!signal.aborted) await sleep(200, signal);
    }
    if (timeout.signal.aborted) {
      progress.clear();
      throw new Error(
        `timed out after ${Math.round(options.timeoutMs / 1000)}s waiting for ${objectName(type, name)} to roll out: ${
          last.replace(/^Waiting for [^:]*: /, "").replace(/\.\.\.$/, "")
        }: see why with \`skiff describe ${type.singular} ${name}\` and its pods`,
      );
    }
  } finally {
    clearInterval(ticker);
    if (timer !== undefined) clearTimeout(timer);
    progress.clear();
  }
}

async function eachObject(
  ctx: CliContext,
  command: Command,
  args: string[],
  verb: string,
  fn: (conn: Connection, type: ResourceType, obj: KubeObject) => Promise<string>,
): Promise<void> {
  const targets = parseTargets(args, `rollout ${verb}`);
  for (const { type, names } of targets) {
    checkRolloutType(type, verb);
    if (names.length === 0) {
      throw new UsageError(`name the ${type.plural} to ${verb}: e.g. \`skiff rollout ${verb} ${type.singular}/web\``);
    }
  }
  const conn = await ctx.connect(command);
  let failures = 0;
  for (const { type, names } of targets) {
    const namespace = type.namespaced ? conn.namespace : undefined;
    for (const name of names) {
      try {
        const obj = await conn.client.resource(type).get(name, namespace ? { namespace } : {});
        ctx.print(`${objectName(type, name)} ${await fn(conn, type, obj)}\n`);
      } catch (err) {
        if (isFatal(err)) throw err;
        ctx.error(`${objectName(type, name)}: ${errorLine(err, ctx.hint)}`);
        failures++;
      }
    }
  }
  if (failures > 0) throw new ExitError(1);
}

/** Runs `skiff rollout restart`: stamps the pod template with the time, which rolls every pod. */
export async function runRolloutRestart(ctx: CliContext, command: Command, args: string[]): Promise<void> {
  await eachObject(ctx, command, args, "restart", async (conn, type, obj) => {
    if ((obj.spec as { paused?: boolean } | undefined)?.paused) {
      throw new UsageError(
        `can't restart paused ${type.singular} (run \`skiff rollout resume ${type.singular}/${obj.metadata.name}\` first)`,
      );
    }
    const at = new Date(ctx.io.now()).toISOString().replace(/\.[0-9]{3}Z$/, "Z");
    await conn.client.resource(type).patch(obj.metadata.name!, {
      spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: at } } } },
    }, { ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}), type: "strategic" });
    return "restarted";
  });
}

/** Runs `skiff rollout pause` (`paused` true) or `resume` (false). */
export async function runRolloutPause(
  ctx: CliContext,
  command: Command,
  args: string[],
  paused: boolean,
): Promise<void> {
  const verb = paused ? "pause" : "resume";
  await eachObject(ctx, command, args, verb, async (conn, type, obj) => {
    if (type.kind !== "Deployment") throw new UsageError(`rollout ${verb} works on deployments only`);
    if (Boolean((obj.spec as { paused?: boolean } | undefined)?.paused) === paused) {
      return paused ? "already paused" : "is not paused";
    }
    await conn.client.resource(type).patch(obj.metadata.name!, { spec: { paused: paused ? true : null } }, {
      ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
      type: "merge",
    });
    return paused ? "paused" : "resumed";
  });
}
