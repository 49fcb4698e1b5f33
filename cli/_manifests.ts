/**
 * Reads manifests for `-f`: files, directories (`-R` for subdirectories),
 * URLs and `-` (standard input); multi-document YAML and JSON, `List`
 * objects expanded. A syntax error names the file, line and column.
 *
 * @module
 */

import { join } from "node:path";
import YAML from "yaml";
import type { KubeObject, ResourceType } from "@skiff/api";
import type { Io } from "./_io.ts";
import { readAllText } from "./_io.ts";
import { typeOfObject } from "./_resources.ts";
import { UsageError } from "./_errors.ts";

/** A manifest that cannot be read or understood; the message is one line that names the file. */
export class ManifestError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ManifestError";
  }
}

/** One object read from a manifest. */
export interface Manifest {
  /** The object as written. */
  object: KubeObject;
  /** Its resource type. */
  type: ResourceType;
  /** Where it came from: a path, a URL or `<stdin>`. */
  source: string;
  /** Its document number in the source, from 1. */
  document: number;
}

const EXTENSIONS = [".yaml", ".yml", ".json"];

async function listDirectory(dir: string, recursive: boolean): Promise<string[]> {
  const entries: Deno.DirEntry[] = [];
  for await (const entry of Deno.readDir(dir)) entries.push(entry);
  entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const files: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) {
      if (recursive) files.push(...await listDirectory(path, recursive));
    } else if (EXTENSIONS.some((ext) => entry.name.endsWith(ext))) {
      files.push(path);
    }
  }
  return files;
}

async function readSource(source: string, io: Io): Promise<string> {
  if (source === "-") return await readAllText(io.stdin());
  if (/^https?:\/\//.test(source)) {
    let res: Response;
    try {
      res = await fetch(source);
    } catch (cause) {
      throw new ManifestError(
        `cannot fetch "${source}": ${(cause as Error).message}: check the URL and the network`,
        { cause },
      );
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new ManifestError(`cannot fetch "${source}": HTTP ${res.status} ${res.statusText}: check the URL`);
    }
    return await res.text();
  }
  try {
    return await Deno.readTextFile(source);
  } catch (cause) {
    if (cause instanceof Deno.errors.NotFound) {
      throw new ManifestError(`the path "${source}" does not exist: check the -f argument`, { cause });
    }
    throw new ManifestError(`cannot read "${source}": ${(cause as Error).message}`, { cause });
  }
}

/** `line 2, column 8` from V8's JSON error, when it says where. */
function jsonPosition(text: string, message: string): string {
  const lineCol = /\(line ([0-9]+) column ([0-9]+)\)/.exec(message);
  if (lineCol) return `line ${lineCol[1]}, column ${lineCol[2]}: `;
  const position = /at position ([0-9]+)/.exec(message);
  if (position) {
    const before = text.slice(0, Number(position[1]));
    const line = before.split("\n").length;
    const column = before.length - before.lastIndexOf("\n");
    return `line ${line}, column ${column}: `;
  }
  return "";
}

function parseDocuments(text: string, source: string): unknown[] {
  const trimmed = text.trimStart();
  if (source.endsWith(".json") || trimmed.startsWith("{") || trimmed.startsWith("[")) {
    try {
      return [JSON.parse(text)];
    } catch (cause) {
      const message = (cause as Error).message.split("\n")[0]!.replace(/ in JSON at position.*$/, "");
      throw new ManifestError(
        `cannot parse "${source}": ${
          jsonPosition(text, (cause as Error).message)
        }${message}: fix the JSON and run the command again`,
        { cause },
      );
    }
  }
  const docs = YAML.parseAllDocuments(text);
  const values: unknown[] = [];
  for (const doc of docs) {
    const error = doc.errors[0];
    if (error) {
      const where = error.linePos?.[0];
      const reason = error.message.split("\n")[0]!.replace(/ at line [0-9]+, column [0-9]+:?$/, "");
      throw new ManifestError(
        `cannot parse "${source}": ${
          where ? `line ${where.line}, column ${where.col}: ` : ""
        }${reason}: fix the YAML and run the command again`,
        { cause: error },
      );
    }
    values.push(doc.toJS());
  }
  return values;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function toManifests(value: unknown, source: string, document: number): Manifest[] {
  if (value === null || value === undefined) return [];
  const where = `"${source}" document ${document}`;
  if (!isObject(value)) {
    throw new ManifestError(
      `${where} is not an object: each document must be a Kubernetes object with apiVersion and kind`,
    );
  }
  if (typeof value.kind === "string" && value.kind.endsWith("List") && Array.isArray(value.items)) {
    return value.items.flatMap((item) => toManifests(item, source, document));
  }
  for (const field of ["apiVersion", "kind"]) {
    if (typeof value[field] !== "string" || value[field] === "") {
      throw new ManifestError(`${where} has no ${field}: every object needs apiVersion and kind`);
    }
  }
  if (value.metadata !== undefined && !isObject(value.metadata)) {
    throw new ManifestError(`${where}: metadata must be a mapping`);
  }
  const object = { ...value, metadata: { ...(value.metadata as Record<string, unknown> ?? {}) } } as KubeObject;
  const type = typeOfObject(object);
  if (!type) {
    throw new ManifestError(
      `${where}: no resource type for kind "${object.kind}" in version "${object.apiVersion}": this server does not serve it; run \`skiff api-resources\` to list what it serves`,
    );
  }
  return [{ object, type, source, document }];
}

/** Options of {@linkcode readManifests}. */
export interface ReadManifestsOptions {
  /** Walk subdirectories of directories. */
  recursive: boolean;
  /** Require `metadata.name` (everything but create, which allows generateName). */
  requireName: boolean;
}

/**
 * Reads every object from `sources`, in order.
 *
 * @throws {ManifestError} for a missing file, a syntax error (with line and
 * column) or an object without apiVersion, kind or name
 */
export async function readManifests(
  sources: readonly string[],
  io: Io,
  options: ReadManifestsOptions,
): Promise<Manifest[]> {
  const manifests: Manifest[] = [];
  for (const source of sources) {
    let files = [source];
    if (source !== "-" && !/^https?:\/\//.test(source)) {
      const info = await Deno.stat(source).catch(() => undefined);
      if (info?.isDirectory) {
        files = await listDirectory(source, options.recursive);
        if (files.length === 0) {
          throw new ManifestError(
            `no manifests in "${source}": it has no .yaml, .yml or .json files${
              options.recursive ? "" : " (use -R for subdirectories)"
            }`,
          );
        }
      }
    }
    for (const file of files) {
      const label = file === "-" ? "<stdin>" : file;
      const text = await readSource(file, io);
      parseDocuments(text, label).forEach((value, i) => manifests.push(...toManifests(value, label, i + 1)));
    }
  }
  for (const m of manifests) {
    const meta = m.object.metadata;
    if (!meta.name && !(options.requireName === false && meta.generateName)) {
      throw new ManifestError(
        `"${m.source}" document ${m.document} (${m.object.kind}) has no metadata.name: give the object a name`,
      );
    }
  }
  if (manifests.length === 0) {
    throw new ManifestError(`no objects passed: ${sources.map((s) => `"${s}"`).join(", ")} hold no objects`);
  }
  return manifests;
}

/**
 * A copy of the manifest's object in the namespace it goes to: its own,
 * else `-n` or the context's; cluster-scoped objects lose any namespace.
 *
 * @throws {UsageError} when `-n` names another namespace than the object
 */
export function placeManifest(
  manifest: Manifest,
  where: { namespace: string; namespaceFromFlag: boolean },
): KubeObject {
  const object = structuredClone(manifest.object);
  if (!manifest.type.namespaced) {
    delete object.metadata.namespace;
    return object;
  }
  const own = object.metadata.namespace;
  if (own && where.namespaceFromFlag && own !== where.namespace) {
    throw new UsageError(
      `the namespace from the provided object "${own}" does not match the namespace "${where.namespace}" ("${manifest.source}" document ${manifest.document}): pass --namespace=${own}, or remove the object's namespace`,
    );
  }
  object.metadata.namespace = own || where.namespace;
  return object;
}
