/**
 * What `skiff rollout history` and `rollout undo` do, as kubectl does for
 * deployments: each ReplicaSet the deployment controls is one revision
 * (annotation `deployment.kubernetes.io/revision`, set by the deployment
 * controller), with its change cause (`kubernetes.io/change-cause`).
 * Undo copies the chosen revision's pod template, minus the
 * `pod-template-hash` label, back into the deployment.
 *
 * @module
 */

import type { Command } from "commander";
import {
  type Deployment,
  type KubeObject,
  LABEL_POD_TEMPLATE_HASH,
  type PodTemplateSpec,
  type ReplicaSet,
} from "@skiff/api";
import type { CliContext, Connection } from "./_context.ts";
import { DescribeWriter, podTemplateLines } from "./_describe.ts";
import { UsageError } from "./_errors.ts";
import { objectName, parseOneTarget } from "./_resources.ts";
import { renderTable } from "./_table.ts";
import { CHANGE_CAUSE_ANNOTATION, LAST_APPLIED_ANNOTATION, REVISION_ANNOTATION } from "./_well_known.ts";

/** Annotations of a ReplicaSet that undo does not copy into the deployment (kubectl's list). */
const ANNOTATIONS_TO_SKIP = new Set([
  LAST_APPLIED_ANNOTATION,
  REVISION_ANNOTATION,
  "deployment.kubernetes.io/revision-history",
  "deployment.kubernetes.io/desired-replicas",
  "deployment.kubernetes.io/max-replicas",
  "deprecated.deployment.rollback.to",
]);

/** One revision of a deployment. */
export interface Revision {
  /** The revision number. */
  revision: number;
  /** The ReplicaSet that holds it. */
  replicaSet: ReplicaSet;
}

/** The revisions of `deployment`, oldest first: the ReplicaSets it controls that carry a revision. */
export function revisionsOf(deployment: Deployment, replicaSets: readonly ReplicaSet[]): Revision[] {
  const revisions: Revision[] = [];
  for (const rs of replicaSets) {
    const owned = (rs.metadata.ownerReferences ?? []).some((o) => o.controller && o.uid === deployment.metadata.uid);
    if (!owned) continue;
    const text = rs.metadata.annotations?.[REVISION_ANNOTATION];
    if (text === undefined || !/^[0-9]+$/.test(text)) continue;
    revisions.push({ revision: Number(text), replicaSet: rs });
  }
  return revisions.sort((a, b) => a.revision - b.revision);
}

/** A template without the `pod-template-hash` label, as undo writes it. */
export function withoutHash(template: PodTemplateSpec | undefined): PodTemplateSpec {
  const copy = structuredClone(template ?? {});
  if (copy.metadata?.labels) {
    delete copy.metadata.labels[LABEL_POD_TEMPLATE_HASH];
    if (Object.keys(copy.metadata.labels).length === 0) delete copy.metadata.labels;
  }
  return copy;
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v) =>
      typeof v === "object" && v !== null && !Array.isArray(v)
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
        : v,
  );
}

async function readDeployment(
  ctx: CliContext,
  command: Command,
  args: string[],
  verb: string,
): Promise<{ conn: Connection; deployment: Deployment; revisions: Revision[]; label: string }> {
  const { type, name } = parseOneTarget(args, `rollout ${verb}`);
  if (type.kind !== "Deployment") {
    throw new UsageError(
      `rollout ${verb} works on deployments: ${type.plural} keep no revision history that Skiff serves`,
    );
  }
  const conn = await ctx.connect(command);
  const deployment = await conn.client.kind<Deployment>("apps/v1", "Deployment").get(name, {
    namespace: conn.namespace,
  });
  const replicaSets = await conn.client.kind<ReplicaSet>("apps/v1", "ReplicaSet").listAll({
    namespace: conn.namespace,
  });
  return { conn, deployment, revisions: revisionsOf(deployment, replicaSets.items), label: objectName(type, name) };
}

/** Options of {@linkcode runRolloutHistory}. */
export interface RolloutHistoryOptions {
  /** Show this revision's pod template. */
  revision?: number;
}

/** Runs `skiff rollout history`. */
export async function runRolloutHistory(
  ctx: CliContext,
  command: Command,
  args: string[],
  options: RolloutHistoryOptions,
): Promise<void> {
  const { revisions, label } = await readDeployment(ctx, command, args, "history");
  if (options.revision !== undefined && options.revision > 0) {
    const found = revisions.find((r) => r.revision === options.revision);
    if (!found) {
      throw new Error(
        `unable to find revision ${options.revision} of ${label}: it has ${
          revisions.length === 0 ? "no revisions" : `revisions ${revisions.map((r) => r.revision).join(", ")}`
        }`,
      );
    }
    const w = new DescribeWriter();
    w.text(0, "Pod Template:");
    podTemplateLines(w, 1, withoutHash(found.replicaSet.spec?.template));
    ctx.print(`${label} with revision #${found.revision}\n${w.render()}`);
    return;
  }
  const rows = [["REVISION", "CHANGE-CAUSE"]];
  for (const r of revisions) {
    rows.push([String(r.revision), r.replicaSet.metadata.annotations?.[CHANGE_CAUSE_ANNOTATION] ?? "<none>"]);
  }
  ctx.print(`${label}\n${renderTable(rows)}\n`);
}

/** Options of {@linkcode runRolloutUndo}. */
export interface RolloutUndoOptions {
  /** The revision to go back to; 0 for the one before the current. */
  toRevision: number;
  /** `--dry-run`. */
  dryRun: "none" | "client" | "server";
}

/** Runs `skiff rollout undo`. */
export async function runRolloutUndo(
  ctx: CliContext,
  command: Command,
  args: string[],
  options: RolloutUndoOptions,
): Promise<void> {
  const { conn, deployment, revisions, label } = await readDeployment(ctx, command, args, "undo");
  const name = deployment.metadata.name!;
  if (deployment.spec?.paused) {
    throw new Error(
      `you cannot roll back a paused deployment: resume it first with \`skiff rollout resume deployment/${name}\` and try again`,
    );
  }
  let target: Revision | undefined;
  if (options.toRevision === 0) {
    if (revisions.length === 0) throw new Error(`no rollout history found for ${label}`);
    if (revisions.length === 1) {
      throw new Error(`no revision to roll back to: ${label} has only revision ${revisions[0]!.revision}`);
    }
    target = revisions[revisions.length - 2];
  } else {
    target = revisions.find((r) => r.revision === options.toRevision);
    if (!target) {
      throw new Error(
        `unable to find revision ${options.toRevision} of ${label}: see its revisions with \`skiff rollout history deployment/${name}\``,
      );
    }
  }
  const template = withoutHash(target!.replicaSet.spec?.template);
  if (canonicalJson(template) === canonicalJson(withoutHash(deployment.spec?.template))) {
    ctx.print(`${label} skipped rollback (current template already matches revision ${target!.revision})\n`);
    return;
  }
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(deployment.metadata.annotations ?? {})) {
    if (ANNOTATIONS_TO_SKIP.has(k)) annotations[k] = v;
  }
  for (const [k, v] of Object.entries(target!.replicaSet.metadata.annotations ?? {})) {
    if (!ANNOTATIONS_TO_SKIP.has(k)) annotations[k] = v;
  }
  const patch = [
    { op: "replace", path: "/spec/template", value: template },
    { op: "add", path: "/metadata/annotations", value: annotations },
  ];
  if (options.dryRun !== "client") {
    await conn.client.kind<KubeObject>("apps/v1", "Deployment").patch(name, patch, {
      namespace: conn.namespace,
      type: "json",
      dryRun: options.dryRun === "server",
    });
  }
  const suffix = options.dryRun === "client" ? " (dry run)" : options.dryRun === "server" ? " (server dry run)" : "";
  ctx.print(`${label} rolled back${suffix}\n`);
}
