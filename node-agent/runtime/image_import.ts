/**
 * Airgap images, as k3s does it: every `*.tar` image archive (OCI layout or
 * `docker save`) dropped into `<data-dir>/images` is imported into
 * containerd with `ctr images import`, at start and whenever a file appears
 * or changes. Images are named by the archive itself (the
 * `io.containerd.image.name` annotation of an OCI index, the repo tags of
 * a `docker save`), so `busybox` in a pod finds `docker.io/library/busybox:latest`.
 *
 * What was imported is remembered by file name, size and modification
 * time, so a restart does not import everything again.
 *
 * @example
 * ```ts
 * import { startImageImport } from "./image_import.ts";
 *
 * await using importer = await startImageImport({
 *   imagesDir: "/var/lib/skiff/images",
 *   address: "/run/containerd/containerd.sock",
 *   namespace: "skiff",
 *   onImported: ({ file, refs }) => console.log(`Imported ${refs.join(", ")} from ${file}`),
 * });
 * ```
 *
 * @module
 */

import { basename, join } from "node:path";
import { type Exec, run } from "../_exec.ts";
import { Ctr, ctrMessage } from "./_ctr.ts";

/** Options of {@linkcode ImageImporter}. */
export interface ImageImportOptions {
  /** The directory to import `*.tar` files from (created when missing). */
  imagesDir: string;
  /** containerd's socket. */
  address: string;
  /** containerd namespace. */
  namespace: string;
  /** Runs ctr (default: the agent's `run`). */
  exec?: Exec;
  /** Where the record of imported files is kept (default `<imagesDir>/.imported-<namespace>.json`). */
  recordFile?: string;
  /** How long a new or changed file must stay unchanged before it is imported, in ms (default 1000). */
  settleMs?: number;
  /** Called after each file is imported. */
  onImported?: (imported: ImportedFile) => void;
  /** Called when a file cannot be imported (it is tried again when it changes, or at the next start). */
  onError?: (error: Error) => void;
}

/** One imported archive. */
export interface ImportedFile {
  /** Its path. */
  file: string;
  /** The image references it gave. */
  refs: string[];
}

interface FileStamp {
  size: number;
  mtimeMs: number;
}

/** The image names `ctr images import` printed (`unpacking NAME (sha256:…)...done`). */
export function parseImportedRefs(output: string): string[] {
  const refs: string[] = [];
  for (const match of output.matchAll(/^unpacking (\S+) \(sha256:[0-9a-f]{64}\)/gm)) refs.push(match[1]!);
  return refs;
}

/** Imports image archives from a directory, once each. */
export class ImageImporter implements AsyncDisposable {
  readonly #options: ImageImportOptions;
  readonly #ctr: Ctr;
  readonly #recordFile: string;
  #record: Record<string, FileStamp> | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #watcher: Deno.FsWatcher | undefined;
  #watching: Promise<void> | undefined;
  #timers = new Map<string, ReturnType<typeof setTimeout>>();
  #pending = new Set<Promise<unknown>>();
  #closed = false;

  /** An importer for `options.imagesDir`. */
  constructor(options: ImageImportOptions) {
    this.#options = options;
    this.#ctr = new Ctr({ address: options.address, namespace: options.namespace, exec: options.exec ?? run });
    this.#recordFile = options.recordFile ?? join(options.imagesDir, `.imported-${options.namespace}.json`);
  }

  /** Imports every `*.tar` not imported yet (or changed since); returns what it imported. */
  importAll(): Promise<ImportedFile[]> {
    return this.#serial(async () => {
      await Deno.mkdir(this.#options.imagesDir, { recursive: true });
      const names: string[] = [];
      for await (const entry of Deno.readDir(this.#options.imagesDir)) {
        if (entry.isFile && entry.name.endsWith(".tar")) names.push(entry.name);
      }
      const out: ImportedFile[] = [];
      for (const name of names.sort()) {
        const imported = await this.#importFile(join(this.#options.imagesDir, name));
        if (imported) out.push(imported);
      }
      return out;
    });
  }

  /** Starts watching the directory: a `*.tar` that appears or changes is imported once it settles. */
  watch(): void {
    if (this.#watcher || this.#closed) return;
    const watcher = Deno.watchFs(this.#options.imagesDir, { recursive: false });
    this.#watcher = watcher;
    this.#watching = (async () => {
      try {
        for await (const event of watcher) {
          if (event.kind !== "create" && event.kind !== "modify" && event.kind !== "rename") continue;
          for (const path of event.paths) if (path.endsWith(".tar")) this.#settle(path);
        }
      } catch (error) {
        if (!this.#closed) this.#options.onError?.(error as Error);
      }
    })();
  }

  /** Stops watching and waits for an import in progress. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    this.#watcher?.close();
    await this.#watching;
    await Promise.allSettled([...this.#pending]);
    await this.#queue.catch(() => {});
  }

  /** Same as {@linkcode ImageImporter.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Imports `path` once it has stopped changing. */
  #settle(path: string): void {
    clearTimeout(this.#timers.get(path));
    const settleMs = this.#options.settleMs ?? 1_000;
    const check = async (previous: FileStamp | undefined) => {
      this.#timers.delete(path);
      if (this.#closed) return;
      const now = await stamp(path);
      if (!now) return;
      if (!previous || now.size !== previous.size || now.mtimeMs !== previous.mtimeMs) {
        this.#timers.set(path, setTimeout(() => this.#track(check(now)), settleMs));
        return;
      }
      await this.#serial(() => this.#importFile(path));
    };
    this.#timers.set(path, setTimeout(() => this.#track(check(undefined)), settleMs));
  }

  #track(promise: Promise<unknown>): void {
    const tracked = promise.catch((error) => this.#options.onError?.(error as Error)).finally(() =>
      this.#pending.delete(tracked)
    );
    this.#pending.add(tracked);
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#queue.catch(() => {}).then(fn);
    this.#queue = next;
    return next;
  }

  async #importFile(path: string): Promise<ImportedFile | undefined> {
    const record = await this.#loadRecord();
    const name = basename(path);
    const now = await stamp(path);
    if (!now) return undefined;
    const known = record[name];
    if (known && known.size === now.size && known.mtimeMs === now.mtimeMs) return undefined;
    let output: string;
    try {
      output = await this.#ctr.importImage(path);
    } catch (error) {
      this.#options.onError?.(
        new Error(`Cannot import image archive "${path}": ${ctrMessage(error)}`, { cause: error }),
      );
      return undefined;
    }
    record[name] = now;
    await this.#saveRecord(record);
    const imported = { file: path, refs: parseImportedRefs(output) };
    this.#options.onImported?.(imported);
    return imported;
  }

  async #loadRecord(): Promise<Record<string, FileStamp>> {
    if (this.#record) return this.#record;
    try {
      const parsed = JSON.parse(await Deno.readTextFile(this.#recordFile));
      this.#record = parsed && typeof parsed === "object" ? parsed as Record<string, FileStamp> : {};
    } catch {
      this.#record = {};
    }
    return this.#record;
  }

  async #saveRecord(record: Record<string, FileStamp>): Promise<void> {
    const temp = `${this.#recordFile}.tmp-${crypto.randomUUID().slice(0, 8)}`;
    await Deno.writeTextFile(temp, JSON.stringify(record, null, 2) + "\n");
    await Deno.rename(temp, this.#recordFile);
  }
}

async function stamp(path: string): Promise<FileStamp | undefined> {
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) return undefined;
    return { size: info.size, mtimeMs: info.mtime?.getTime() ?? 0 };
  } catch {
    return undefined;
  }
}

/** Imports what is in `options.imagesDir` now and keeps watching it; close the importer to stop. */
export async function startImageImport(options: ImageImportOptions): Promise<ImageImporter> {
  const importer = new ImageImporter(options);
  // Watch first, so that a file dropped during the first pass is not missed.
  importer.watch();
  try {
    await importer.importAll();
  } catch (error) {
    await importer.close();
    throw error;
  }
  return importer;
}
