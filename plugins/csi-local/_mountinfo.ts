/**
 * Reads the mount table of this process (`/proc/self/mountinfo`), so that
 * every decision to mount or unmount is taken on what is mounted, not on
 * what the plugin remembers.
 *
 * @module
 */

/** One line of `/proc/self/mountinfo`. */
export interface MountEntry {
  /** Mount id. */
  id: number;
  /** Parent mount id. */
  parentId: number;
  /** `major:minor` of the filesystem's device. */
  device: string;
  /** Path inside the filesystem that is mounted (a bind mount's source). */
  root: string;
  /** Where it is mounted. */
  mountPoint: string;
  /** Per-mount options, e.g. `["ro", "nosuid", "relatime"]`. */
  options: string[];
  /** Filesystem type, e.g. `ext4`. */
  fsType: string;
  /** Mount source, e.g. `/dev/loop0`. */
  source: string;
}

/** Undoes the octal escapes (`\040` for space) of mountinfo paths. */
function unescape(field: string): string {
  return field.replace(
    /\\([0-7]{3})/g,
    (_, octal: string) => String.fromCharCode(parseInt(octal, 8)),
  );
}

/** Parses the text of a mountinfo file. Malformed lines are skipped. */
export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const separator = line.indexOf(" - ");
    if (separator < 0) continue;
    const head = line.slice(0, separator).split(" ");
    const tail = line.slice(separator + 3).split(" ");
    const [id, parentId, device, root, mountPoint, options] = head;
    const [fsType, source] = tail;
    if (
      id === undefined || parentId === undefined || device === undefined ||
      root === undefined || mountPoint === undefined ||
      options === undefined || fsType === undefined
    ) {
      continue;
    }
    entries.push({
      id: Number(id),
      parentId: Number(parentId),
      device,
      root: unescape(root),
      mountPoint: unescape(mountPoint),
      options: options.split(","),
      fsType,
      source: unescape(source ?? ""),
    });
  }
  return entries;
}

/** The current mount table of this process. */
export async function readMountInfo(): Promise<MountEntry[]> {
  return parseMountInfo(await Deno.readTextFile("/proc/self/mountinfo"));
}

/**
 * The path with symbolic links resolved when it exists (the mount table
 * shows resolved paths), otherwise the path unchanged.
 */
export async function resolvePath(path: string): Promise<string> {
  try {
    return await Deno.realPath(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return path;
    throw error;
  }
}

/**
 * The topmost mount at `path`, or `undefined` when `path` is not a mount
 * point.
 */
export async function mountAt(path: string): Promise<MountEntry | undefined> {
  const resolved = await resolvePath(path);
  const entries = await readMountInfo();
  let top: MountEntry | undefined;
  for (const entry of entries) {
    if (entry.mountPoint === resolved) top = entry;
  }
  return top;
}

/**
 * Mount points at or below `root` in `entries`, deepest and latest first:
 * the order in which to unmount them.
 */
export function mountPointsUnder(
  entries: readonly MountEntry[],
  root: string,
): string[] {
  const prefix = root.endsWith("/") ? root : `${root}/`;
  const found = entries
    .map((entry, index) => ({ entry, index }))
    .filter(({ entry }) => entry.mountPoint === root || entry.mountPoint.startsWith(prefix));
  found.sort((a, b) => b.entry.mountPoint.length - a.entry.mountPoint.length || b.index - a.index);
  return found.map(({ entry }) => entry.mountPoint);
}
