/**
 * What `skiff apply` does, object by object, as kubectl does it:
 *
 * - the object is read; if it does not exist it is created with the
 *   annotation `kubectl.kubernetes.io/last-applied-configuration`
 *   holding what was applied;
 * - otherwise a three-way strategic merge patch (last applied, now
 *   applied, live) is sent, or nothing when it is empty ("unchanged");
 * - a conflict re-reads the object and tries again.
 *
 * `--prune` then deletes objects that carry the annotation, match the
 * selector, and are no longer in the manifests.
 *
 * @module
 */

import type { Command } from "commander";
import {
  ConflictError,
  createThreeWayPatch,
  type KubeObject,
  NotFoundError,
  patchSchemaFor,
  RESOURCE_TYPES,
  type ResourceType,
} from "@skiff/api";
import type { CliContext, Connection } from "./_context.ts";
import { errorLine, ExitError, isFatal, UsageError } from "./_errors.ts";
import { type Manifest, placeManifest, readManifests } from "./_manifests.ts";
import { formatObjects, type ObjectFormat, parseOutputFormat } from "./_printers.ts";
import { Progress } from "./_progress.ts";
import { objectName } from "./_resources.ts";
import { LAST_APPLIED_ANNOTATION } from "./_well_known.ts";

/** The field manager name of client-side apply, as kubectl's. */
const FIELD_MANAGER = "kubectl-client-side-apply";

/** Types `--prune` looks at, as kubectl's default allowlist (those Skiff serves). */
const PRUNE_KINDS = [
  "ConfigMap",
  "Endpoints",
  "Namespace",
  "PersistentVolumeClaim",
  "PersistentVolume",
  "Pod",
  "Secret",
  "Service",
  "DaemonSet",
  "Deployment",
  "ReplicaSet",
  "StatefulSet",
];

/** Options of {@linkcode runApply}. */
export interface ApplyOptions {
  /** `-f` values. */
  filenames: string[];
  /** `-R`. */
  recursive: boolean;
  /** `--dry-run`. */
  dryRun: "none" | "client" | "server";
  /** `-o`. */
  output?: string;
  /** `--prune`. */
  prune: boolean;
  /** `-l`. */
  selector?: string;
  /** `--all`. */
  all: boolean;
  /** `--server-side`. */
  serverSide: boolean;
  /** `--force-conflicts`. */
  forceConflicts: boolean;
}

/** Sorts object keys, so the annotation does not change when only the order of a file does. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/**
 * The object to send, with the last-applied annotation set to the object
 * itself (without that annotation), as kubectl's
 * `GetModifiedConfiguration`.
 */
export function withLastApplied(obj: KubeObject): KubeObject {
  const copy = structuredClone(obj);
  const annotations = { ...(copy.metadata.annotations ?? {}) };
  delete annotations[LAST_APPLIED_ANNOTATION];
  if (Object.keys(annotations).length > 0) copy.metadata.annotations = annotations;
  else delete copy.metadata.annotations;
  const original = JSON.stringify(canonical(copy));
  copy.metadata.annotations = { ...annotations, [LAST_APPLIED_ANNOTATION]: original + "\n" };
  return copy;
}

function lastAppliedOf(obj: KubeObject): Record<string, unknown> | undefined {
  const text = obj.metadata.annotations?.[LAST_APPLIED_ANNOTATION];
  if (!text) return undefined;
  try {
    const parsed = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null ? parsed : undefined;
  } catch {
    return undefined;
  }
}

type Outcome = { verb: "created" | "configured" | "unchanged" | "serverside-applied"; object: KubeObject };

async function applyOne(
  conn: Connection,
  type: ResourceType,
  obj: KubeObject,
  options: ApplyOptions,
): Promise<Outcome> {
  const resource = conn.client.resource(type);
  const name = obj.metadata.name!;
  const namespace = obj.metadata.namespace;
  const nsOption = namespace !== undefined ? { namespace } : {};
  const serverDryRun = options.dryRun === "server";
  if (options.serverSide) {
    if (options.dryRun === "client") return { verb: "serverside-applied", object: obj };
    const object = await resource.apply(obj, {
      fieldManager: "skiff",
      force: options.forceConflicts,
      dryRun: serverDryRun,
    });
    return { verb: "serverside-applied", object };
  }
  const modified = withLastApplied(obj);
  for (let attempt = 0;; attempt++) {
    let current: KubeObject;
    try {
      current = await resource.get(name, nsOption);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      if (options.dryRun === "client") return { verb: "created", object: modified };
      const object = await resource.create(modified, { dryRun: serverDryRun, fieldManager: FIELD_MANAGER });
      return { verb: "created", object };
    }
    const patch = createThreeWayPatch({ lastApplied: lastAppliedOf(current), modified, current });
    if (Object.keys(patch).length === 0) return { verb: "unchanged", object: current };
    if (options.dryRun === "client") return { verb: "configured", object: current };
    try {
      const object = await resource.patch(name, patch, {
        ...nsOption,
        type: patchSchemaFor(type.kind) ? "strategic" : "merge",
        dryRun: serverDryRun,
        fieldManager: FIELD_MANAGER,
      });
      return { verb: "configured", object };
    } catch (err) {
      if (err instanceof ConflictError && attempt < 4) continue;
      throw err;
    }
  }
}

function suffix(dryRun: ApplyOptions["dryRun"]): string {
  return dryRun === "client" ? " (dry run)" : dryRun === "server" ? " (server dry run)" : "";
}

/** Runs `skiff apply`. */
export async function runApply(ctx: CliContext, command: Command, options: ApplyOptions): Promise<void> {
  if (options.filenames.length === 0) {
    throw new UsageError("apply needs -f <file|dir|url|->: e.g. `skiff apply -f web.yaml`");
  }
  const format = options.output === undefined
    ? undefined
    : parseOutputFormat(options.output, ["name", "yaml", "json"]) as ObjectFormat;
  if (options.prune && !options.selector && !options.all) {
    throw new UsageError(
      "--prune would consider every applied object: pass --all to prune them all, or -l <selector> to limit it",
    );
  }
  if (!options.prune && (options.all || options.selector)) {
    throw new UsageError("-l and --all only mean something with --prune");
  }
  if (options.forceConflicts && !options.serverSide) {
    throw new UsageError("--force-conflicts only applies with --server-side");
  }
  const manifests = await readManifests(options.filenames, ctx.io, { recursive: options.recursive, requireName: true });
  const conn = await ctx.connect(command);
  const placed = manifests.map((m) => ({ manifest: m, object: placeManifest(m, conn) }));
  const progress = new Progress(ctx.io);
  const results: KubeObject[] = [];
  let failures = 0;
  const applied = new Set<string>();
  for (const [index, { manifest, object }] of placed.entries()) {
    const name = objectName(manifest.type, object.metadata.name!);
    applied.add(appliedKey(manifest.type, object));
    if (placed.length > 1) progress.update(`applying ${index + 1}/${placed.length}: ${name}`);
    try {
      const outcome = await applyOne(conn, manifest.type, object, options);
      results.push(outcome.object);
      if (!format) progress.print(`${name} ${outcome.verb}${suffix(options.dryRun)}`);
      else if (format.kind === "name") progress.print(name);
    } catch (err) {
      if (isFatal(err)) {
        progress.clear();
        throw err;
      }
      progress.clear();
      ctx.error(`${name} (from "${manifest.source}"): ${errorLine(err, ctx.hint)}`);
      failures++;
    }
  }
  progress.clear();
  if (format && format.kind !== "name") ctx.print(formatObjects(format, results, { single: results.length === 1 }));
  if (options.prune) failures += await prune(ctx, conn, { manifests, applied, options, progress });
  if (failures > 0) throw new ExitError(1);
}

function appliedKey(type: ResourceType, obj: KubeObject): string {
  return `${type.apiVersion}/${type.kind}/${obj.metadata.namespace ?? ""}/${obj.metadata.name}`;
}

async function prune(
  ctx: CliContext,
  conn: Connection,
  args: { manifests: Manifest[]; applied: Set<string>; options: ApplyOptions; progress: Progress },
): Promise<number> {
  const { options, applied, progress } = args;
  const namespaces = new Set<string>();
  for (const m of args.manifests) if (m.type.namespaced) namespaces.add(placeManifest(m, conn).metadata.namespace!);
  let failures = 0;
  for (const type of RESOURCE_TYPES.filter((t) => PRUNE_KINDS.includes(t.kind) && t.group !== "metrics.k8s.io")) {
    const scopes = type.namespaced ? [...namespaces] : [undefined];
    for (const namespace of scopes) {
      if (type.namespaced && namespace === undefined) continue;
      const list = await conn.client.resource(type).listAll({
        ...(namespace !== undefined ? { namespace } : {}),
        ...(options.selector ? { labelSelector: options.selector } : {}),
      });
      for (const obj of list.items) {
        if (!obj.metadata.annotations?.[LAST_APPLIED_ANNOTATION]) continue;
        const full = { ...obj, apiVersion: type.apiVersion, kind: type.kind };
        if (applied.has(appliedKey(type, full))) continue;
        const name = objectName(type, obj.metadata.name!);
        try {
          if (options.dryRun !== "client") {
            await conn.client.resource(type).delete(obj.metadata.name!, {
              ...(namespace !== undefined ? { namespace } : {}),
              dryRun: options.dryRun === "server",
              propagationPolicy: "Background",
            });
          }
          progress.print(`${name} pruned${suffix(options.dryRun)}`);
        } catch (err) {
          if (err instanceof NotFoundError) continue;
          if (isFatal(err)) throw err;
          ctx.error(`${name}: cannot prune: ${errorLine(err, ctx.hint)}`);
          failures++;
        }
      }
    }
  }
  return failures;
}
