/**
 * A directory of small JSON records, one file per key, written atomically
 * (temporary file, fsync, rename, fsync of the directory) so that an agent
 * that crashes mid-write leaves either the old record or the new one.
 *
 * @module
 */

import { join } from "node:path";

const KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const SUFFIX = ".json";
const TEMP_MARK = ".tmp-";

/** One entry of {@linkcode JsonRecords.list}. */
export interface RecordEntry<T> {
  /** The record's key. */
  key: string;
  /** Its value, or `undefined` when the file could not be read as JSON. */
  value: T | undefined;
}

/** JSON records in one directory, keyed by a file-name-safe string. */
export class JsonRecords<T> {
  readonly #dir: string;

  /** Keeps records under `dir`, which is created on the first write. */
  constructor(dir: string) {
    this.#dir = dir;
  }

  /** The directory holding the records. */
  get dir(): string {
    return this.#dir;
  }

  /**
   * The record under `key`, or `undefined` when there is none or its file is
   * not valid JSON (a record that cannot be read is as good as none).
   */
  async get(key: string): Promise<T | undefined> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.#path(key));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      return undefined;
    }
  }

  /** Replaces the record under `key`, atomically and durably. */
  async put(key: string, value: T): Promise<void> {
    const path = this.#path(key);
    await Deno.mkdir(this.#dir, { recursive: true });
    const temp = `${path}${TEMP_MARK}${crypto.randomUUID().slice(0, 8)}`;
    try {
      const file = await Deno.open(temp, { write: true, create: true, truncate: true, mode: 0o600 });
      try {
        await file.write(new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n"));
        await file.sync();
      } finally {
        file.close();
      }
      await Deno.rename(temp, path);
    } catch (error) {
      await Deno.remove(temp).catch(() => {});
      throw error;
    }
    await this.#syncDir();
  }

  /** Removes the record under `key`; nothing happens when there is none. */
  async remove(key: string): Promise<void> {
    try {
      await Deno.remove(this.#path(key));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw error;
    }
    await this.#syncDir();
  }

  /** Every record, in key order. */
  async list(): Promise<RecordEntry<T>[]> {
    const keys: string[] = [];
    try {
      for await (const entry of Deno.readDir(this.#dir)) {
        if (!entry.isFile || !entry.name.endsWith(SUFFIX)) continue;
        const key = entry.name.slice(0, -SUFFIX.length);
        if (KEY.test(key)) keys.push(key);
      }
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return [];
      throw error;
    }
    keys.sort();
    return await Promise.all(keys.map(async (key) => ({ key, value: await this.get(key) })));
  }

  /**
   * Removes temporary files left by writes that a crash interrupted, except
   * those of keys in `busy` (being written right now); returns their names.
   */
  async removeTemporaries(busy: ReadonlySet<string> = new Set()): Promise<string[]> {
    const removed: string[] = [];
    try {
      for await (const entry of Deno.readDir(this.#dir)) {
        const at = entry.name.indexOf(SUFFIX + TEMP_MARK);
        if (!entry.isFile || at < 0 || busy.has(entry.name.slice(0, at))) continue;
        await Deno.remove(join(this.#dir, entry.name)).catch(() => {});
        removed.push(entry.name);
      }
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return removed;
      throw error;
    }
    return removed;
  }

  #path(key: string): string {
    if (!KEY.test(key)) {
      throw new TypeError(`Invalid record key "${key}": expected 1 to 128 of letters, digits, "_", "." or "-"`);
    }
    return join(this.#dir, key + SUFFIX);
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
