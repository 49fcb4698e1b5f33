/**
 * Volume records of csi-local: one small JSON file per volume in
 * `<data-dir>/volumes/<id>.json`, written atomically (temporary file,
 * fsync, rename, fsync of the directory), so a restart keeps every volume
 * and a crash never leaves half a record.
 *
 * @module
 */

import { join } from "node:path";
import type { VolumeKind } from "./_validate.ts";

/** Where one volume is published, and how. */
export interface Publication {
  /** The target path, as the CO gave it. */
  targetPath: string;
  /** True when mounted read-only. */
  readonly: boolean;
  /** The access mode it was published with. */
  accessMode: string;
  /** `fs_type` it was published with. */
  fsType: string;
  /** Per-mount flags applied after the bind mount (`ro`/`rw` first). */
  flags: string[];
}

/** Everything csi-local remembers about one volume. */
export interface VolumeRecord {
  /** Format version of this record. */
  version: 1;
  /** Volume id (derived from the name). */
  id: string;
  /** The CO's name, the key of CreateVolume idempotency. */
  name: string;
  /** How it is stored. */
  kind: VolumeKind;
  /** Size in bytes. */
  capacityBytes: number;
  /** When it was created (ISO 8601). */
  createdAt: string;
  /** Current publications. */
  publications: Publication[];
}

/** Volume ids are 32 lowercase hex digits; anything else is unknown. */
export const VOLUME_ID_PATTERN = /^[0-9a-f]{32}$/;

/** Reads and writes volume records below one data directory. */
export class VolumeStore {
  readonly #dir: string;
  readonly #records = new Map<string, VolumeRecord>();

  /** A store over `<dataDir>/volumes`; call {@linkcode load} first. */
  constructor(dataDir: string) {
    this.#dir = join(dataDir, "volumes");
  }

  /** The directory holding records and volume data. */
  get dir(): string {
    return this.#dir;
  }

  /**
   * Reads every record from disk, removing leftover temporary files.
   *
   * @throws {Error} naming the file when a record cannot be read.
   */
  async load(): Promise<void> {
    await Deno.mkdir(this.#dir, { recursive: true });
    this.#records.clear();
    for await (const entry of Deno.readDir(this.#dir)) {
      if (!entry.isFile) continue;
      const path = join(this.#dir, entry.name);
      if (entry.name.endsWith(".json.tmp")) {
        await Deno.remove(path);
        continue;
      }
      if (!entry.name.endsWith(".json")) continue;
      let record: VolumeRecord;
      try {
        record = JSON.parse(await Deno.readTextFile(path)) as VolumeRecord;
      } catch (error) {
        throw new Error(
          `Cannot read volume record "${path}": ${
            (error as Error).message
          }; restore or remove it, then restart csi-local`,
          { cause: error },
        );
      }
      if (
        record.version !== 1 || !VOLUME_ID_PATTERN.test(record.id ?? "") ||
        `${record.id}.json` !== entry.name
      ) {
        throw new Error(
          `Cannot read volume record "${path}": not a csi-local volume record (version 1); restore or remove it, then restart csi-local`,
        );
      }
      this.#records.set(record.id, record);
    }
  }

  /** A copy of the record of volume `id`, if any. */
  get(id: string): VolumeRecord | undefined {
    const record = this.#records.get(id);
    return record && structuredClone(record);
  }

  /** Every record (copies), ordered by id. */
  list(): VolumeRecord[] {
    return [...this.#records.values()]
      .sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
      .map((record) => structuredClone(record));
  }

  /** Number of volumes. */
  get size(): number {
    return this.#records.size;
  }

  /** Writes `record` atomically and keeps it in memory. */
  async save(record: VolumeRecord): Promise<void> {
    const path = join(this.#dir, `${record.id}.json`);
    const temporary = `${path}.tmp`;
    const file = await Deno.open(temporary, {
      write: true,
      create: true,
      truncate: true,
      mode: 0o600,
    });
    try {
      await file.write(
        new TextEncoder().encode(JSON.stringify(record, null, 2) + "\n"),
      );
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(temporary, path);
    await this.#syncDir();
    this.#records.set(record.id, structuredClone(record));
  }

  /** Removes the record of volume `id` (no error when there is none). */
  async remove(id: string): Promise<void> {
    try {
      await Deno.remove(join(this.#dir, `${id}.json`));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    await this.#syncDir();
    this.#records.delete(id);
  }

  async #syncDir(): Promise<void> {
    const dir = await Deno.open(this.#dir, { read: true });
    try {
      await dir.sync();
    } finally {
      dir.close();
    }
  }
}
