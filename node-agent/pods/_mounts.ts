/**
 * Host mounts the pod side makes itself (tmpfs for memory-backed emptyDir
 * volumes), what is mounted where (from /proc/self/mountinfo), and removal
 * of pod directories that never follows into a mount.
 *
 * @module
 */

import { type Exec, run } from "../_exec.ts";

/** Decodes the octal escapes of a mountinfo path (`\040` is a space). */
function unescapeMountPath(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** Every mount point of the agent's mount namespace. */
export async function mountPoints(mountinfo = "/proc/self/mountinfo"): Promise<string[]> {
  const text = await Deno.readTextFile(mountinfo);
  const points: string[] = [];
  for (const line of text.split("\n")) {
    const fields = line.split(" ");
    if (fields.length > 4) points.push(unescapeMountPath(fields[4]!));
  }
  return points;
}

/** The mount points at or under `dir`, deepest first. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const prefix = dir.endsWith("/") ? dir : `${dir}/`;
  const points = (await mountPoints()).filter((p) => p === dir || p.startsWith(prefix));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Mounts a tmpfs at `path` (created if missing) unless one is mounted there already. */
export async function mountTmpfs(path: string, options: { sizeBytes?: number; exec?: Exec } = {}): Promise<void> {
  await Deno.mkdir(path, { recursive: true });
  if ((await mountsUnder(path)).includes(path)) return;
  const opts = ["mode=0777", ...(options.sizeBytes !== undefined ? [`size=${options.sizeBytes}`] : [])];
  await (options.exec ?? run)(["mount", "-t", "tmpfs", "-o", opts.join(","), "tmpfs", path]);
}

/** Unmounts everything at or under `path`, deepest first; nothing mounted is fine. */
export async function unmountAll(path: string, exec: Exec = run): Promise<void> {
  for (const point of await mountsUnder(path)) await exec(["umount", point]);
}

/**
 * Removes `dir` and everything in it, refusing when anything under it is
 * still mounted (removing would delete a volume's data through the mount).
 *
 * @throws {Error} naming the mount still there.
 */
export async function removeUnmounted(dir: string): Promise<void> {
  const mounted = await mountsUnder(dir);
  if (mounted.length > 0) {
    throw new Error(`Cannot remove "${dir}": "${mounted[0]}" is still mounted; unmount it first`);
  }
  try {
    await Deno.remove(dir, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}
