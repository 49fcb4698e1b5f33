/**
 * Opens a store backend chosen by URL scheme, as kine does: `sqlite:` (the
 * embedded default).
 *
 * @module
 */

import type { Store } from "./store.ts";
import { openSqliteStore, type SqliteStoreOptions } from "./sqlite_store.ts";

/** Options shared by every backend. */
export type OpenStoreOptions = Omit<SqliteStoreOptions, "path">;

/**
 * Opens the store at `url`: `sqlite:///var/lib/skiff/state.db`,
 * `sqlite:relative/path.db` or `sqlite::memory:`.
 */
export function openStore(url: string, options: OpenStoreOptions = {}): Store {
  const colon = url.indexOf(":");
  const scheme = colon > 0 ? url.slice(0, colon) : "";
  switch (scheme) {
    case "sqlite": {
      let path = url.slice(colon + 1);
      if (path.startsWith("//")) path = path.slice(2);
      if (path === "") {
        throw new TypeError(`Invalid store URL "${url}": no file path`);
      }
      return openSqliteStore({ ...options, path });
    }
    default:
      throw new TypeError(
        `Unsupported store URL "${url}": use sqlite:///path/to/state.db`,
      );
  }
}
