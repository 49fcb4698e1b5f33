/**
 * What the containerd runtime remembers about each container, one small JSON
 * file per container under its state directory, written atomically
 * (temporary file, fsync, rename), so that an agent killed at any moment
 * finds either the old record or the new one after it restarts.
 *
 * containerd forgets a task's exit status once the task is deleted; the
 * record keeps it (exit code, time, OOM kill), with what ctr cannot tell
 * cheaply (image digest, log path, start time).
 *
 * @module
 */

import { join } from "node:path";

/** How a container's task ended. */
export interface ExitRecord {
  /** Exit code. */
  exitCode: number;
  /** When it exited (ms since the epoch). */
  finishedAt: number;
  /** Whether the kernel's OOM killer struck its cgroup. */
  oomKilled: boolean;
}

/** One container. */
export interface ContainerRecord {
  /** Container id. */
  id: string;
  /** Normalized image reference. */
  image: string;
  /** The image's digest. */
  imageId: string;
  /** Labels, as the caller gave them. */
  labels: Record<string, string>;
  /** The CRI-format log file, if any. */
  logPath?: string;
  /** When it was created (ms). */
  createdAt: number;
  /** When its task started (ms). */
  startedAt?: number;
  /** How its task ended. */
  exit?: ExitRecord;
  /** The cgroup path below each controller, e.g. `/skiff/<id>`. */
  cgroupsPath: string;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Whether `id` is usable as a container id (and a file name). */
export function isValidContainerId(id: string): boolean {
  return ID.test(id);
}

/** The directories of a runtime state directory. */
export class StateLayout {
  /** The state directory. */
  readonly root: string;

  /** Lays out `root`. */
  constructor(root: string) {
    this.root = root;
  }

  /** Where records live. */
  get recordsDir(): string {
    return join(this.root, "containers");
  }
  /** A container's record. */
  record(id: string): string {
    return join(this.recordsDir, `${id}.json`);
  }
  /** A container's OCI spec file. */
  spec(id: string): string {
    return join(this.root, "specs", `${id}.json`);
  }
  /** A container's rootfs mount point. */
  rootfs(id: string): string {
    return join(this.root, "rootfs", id);
  }
  /** The FIFO a container's output goes through. */
  fifo(id: string): string {
    return join(this.root, "fifo", id);
  }
  /** Where ctr writes a task's pid. */
  pidFile(id: string): string {
    return join(this.root, "pids", id);
  }
}

/** The container records of a state directory, cached in memory. */
export class RecordStore {
  readonly #layout: StateLayout;
  readonly #records = new Map<string, ContainerRecord>();
  readonly #writes = new Map<string, Promise<void>>();
  #loaded = false;

  /** Keeps records under `layout.recordsDir`. */
  constructor(layout: StateLayout) {
    this.#layout = layout;
  }

  /** Reads every record from disk (once); unreadable files are skipped. */
  async load(): Promise<void> {
    if (this.#loaded) return;
    await Deno.mkdir(this.#layout.recordsDir, { recursive: true });
    for await (const entry of Deno.readDir(this.#layout.recordsDir)) {
      if (!entry.isFile || !entry.name.endsWith(".json")) continue;
      const id = entry.name.slice(0, -5);
      if (!isValidContainerId(id) || this.#records.has(id)) continue;
      const record = await this.#read(id);
      if (record) this.#records.set(id, record);
    }
    this.#loaded = true;
  }

  /** The record of `id`, from memory, else from disk. */
  async get(id: string): Promise<ContainerRecord | undefined> {
    const cached = this.#records.get(id);
    if (cached) return cached;
    const record = await this.#read(id);
    if (record) this.#records.set(id, record);
    return record;
  }

  /** The record of `id` if it is in memory. */
  peek(id: string): ContainerRecord | undefined {
    return this.#records.get(id);
  }

  /** Every record in memory. */
  all(): ContainerRecord[] {
    return [...this.#records.values()];
  }

  /**
   * Writes `record` durably. Writes of one id are queued, each writing the
   * record as it is when its turn comes, so the file ends as the last state.
   */
  put(record: ContainerRecord): Promise<void> {
    this.#records.set(record.id, record);
    const previous = this.#writes.get(record.id) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(() => this.#write(record));
    this.#writes.set(record.id, next);
    return next.finally(() => {
      if (this.#writes.get(record.id) === next) this.#writes.delete(record.id);
    });
  }

  async #write(record: ContainerRecord): Promise<void> {
    if (this.#records.get(record.id) !== record) return;
    const path = this.#layout.record(record.id);
    const temp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
    await Deno.mkdir(this.#layout.recordsDir, { recursive: true });
    try {
      const file = await Deno.open(temp, { write: true, create: true, truncate: true, mode: 0o600 });
      try {
        const bytes = new TextEncoder().encode(JSON.stringify(record) + "\n");
        for (let at = 0; at < bytes.length;) at += await file.write(bytes.subarray(at));
        await file.sync();
      } finally {
        file.close();
      }
      await Deno.rename(temp, path);
    } catch (error) {
      await Deno.remove(temp).catch(() => {});
      throw error;
    }
  }

  /** Forgets `id`. */
  async remove(id: string): Promise<void> {
    this.#records.delete(id);
    await this.#writes.get(id)?.catch(() => {});
    await Deno.remove(this.#layout.record(id)).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }

  async #read(id: string): Promise<ContainerRecord | undefined> {
    try {
      const value = JSON.parse(await Deno.readTextFile(this.#layout.record(id))) as ContainerRecord;
      return value && value.id === id ? value : undefined;
    } catch {
      return undefined;
    }
  }
}
