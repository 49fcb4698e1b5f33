/**
 * Temporary directories that clean up after themselves, and unique names for
 * anything tests create in places shared with other tests running in
 * parallel on the same machine (network namespaces, links, containerd
 * namespaces).
 *
 * @module
 */

import { join } from "node:path";
import { run } from "./_run.ts";

/** Options for {@linkcode createTempDir}. */
export interface TempDirOptions {
  /** Start of the directory's name (default `"skiff-test-"`). */
  prefix?: string;
  /** Directory to create it in (default: the system temp dir). */
  parent?: string;
}

/** A temporary directory; `await using` removes it at the end of the scope. */
export interface TempDir extends AsyncDisposable {
  /** Absolute path of the directory. */
  readonly path: string;
  /** Joins path segments onto the directory's path. */
  join(...segments: string[]): string;
  /**
   * Removes the directory and everything in it, unmounting anything still
   * mounted below it first. Safe to call more than once.
   */
  remove(): Promise<void>;
}

/**
 * Creates a fresh, empty temporary directory.
 *
 * @example
 * ```ts
 * await using tmp = await createTempDir({ prefix: "store-" });
 * await Deno.writeTextFile(tmp.join("a.txt"), "hello");
 * ```
 */
export async function createTempDir(
  options: TempDirOptions = {},
): Promise<TempDir> {
  const path = await Deno.makeTempDir({
    prefix: options.prefix ?? "skiff-test-",
    ...(options.parent ? { dir: options.parent } : {}),
  });
  let removed: Promise<void> | undefined;
  const remove = () => removed ??= removeTree(path);
  return {
    path,
    join: (...segments) => join(path, ...segments),
    remove,
    [Symbol.asyncDispose]: remove,
  };
}

/**
 * Runs `fn` with a fresh temporary directory and removes the directory
 * afterwards, whether `fn` succeeds or throws.
 */
export async function withTempDir<T>(
  fn: (path: string) => T | Promise<T>,
  options: TempDirOptions = {},
): Promise<T> {
  await using dir = await createTempDir(options);
  return await fn(dir.path);
}

/**
 * Returns `prefix` followed by a short suffix unique to this process and
 * call: the process id and four random characters, e.g. `"skiff-t4711-k3x9"`.
 */
export function uniqueName(prefix: string): string {
  const random = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(36);
  return `${prefix}${Deno.pid}-${random.padStart(4, "0").slice(-4)}`;
}

/**
 * Removes `path` recursively, first unmounting (lazily, deepest first) any
 * mount point at or below it, so that a containerd root or a test's bind
 * mounts never make the removal fail or reach into a mounted filesystem.
 * A path that does not exist is not an error.
 */
export async function removeTree(path: string): Promise<void> {
  for (const mountPoint of await mountsBelow(path)) {
    await run(["umount", "-l", mountPoint], { check: false });
  }
  try {
    await Deno.remove(path, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** Mount points at or below `path`, deepest first. */
async function mountsBelow(path: string): Promise<string[]> {
  let mountInfo: string;
  try {
    mountInfo = await Deno.readTextFile("/proc/self/mountinfo");
  } catch {
    return [];
  }
  const prefix = path.endsWith("/") ? path : `${path}/`;
  const found: string[] = [];
  for (const line of mountInfo.split("\n")) {
    const field = line.split(" ")[4];
    if (field === undefined) continue;
    const mountPoint = field.replace(
      /\\([0-7]{3})/g,
      (_, octal: string) => String.fromCharCode(parseInt(octal, 8)),
    );
    if (mountPoint === path || mountPoint.startsWith(prefix)) {
      found.push(mountPoint);
    }
  }
  return found.sort((a, b) => b.length - a.length);
}
