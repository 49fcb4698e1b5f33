/**
 * Default locations, as ARCHITECTURE.md sets them.
 *
 * @module
 */

import { join } from "node:path";

/** `/var/lib/skiff` as root, else `$XDG_DATA_HOME/skiff` (or `~/.local/share/skiff`). */
export function defaultDataDir(): string {
  if (Deno.uid() === 0) return "/var/lib/skiff";
  const xdg = Deno.env.get("XDG_DATA_HOME");
  if (xdg) return join(xdg, "skiff");
  return join(Deno.env.get("HOME") ?? ".", ".local", "share", "skiff");
}
