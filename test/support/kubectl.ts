/**
 * Finds a kubectl to use as an outside client in tests: the one on PATH, or
 * else Debian's `kubernetes-client` fetched with `apt-get download` and
 * unpacked with `dpkg-deb -x` into a cache directory, never installed over
 * the system.
 *
 * @module
 */

import { join } from "node:path";
import { run } from "./_run.ts";
import { findProgram } from "./requirements.ts";
import { removeTree } from "./tmp.ts";

/** Options for {@linkcode findKubectl}. */
export interface FindKubectlOptions {
  /** Look on PATH first (default `true`). */
  usePath?: boolean;
  /**
   * Where Debian's package is unpacked. Default:
   * `$XDG_CACHE_HOME/skiff/kubernetes-client` (or `~/.cache/...`).
   */
  cacheDir?: string;
}

/**
 * Returns the absolute path of a kubectl binary.
 *
 * @example
 * ```ts
 * const kubectl = await findKubectl();
 * // run [kubectl, "--kubeconfig", file, "get", "pods"]
 * ```
 * @throws {Error} when none is on PATH and Debian's package cannot be fetched,
 *   with apt-get's message and what to do.
 */
export async function findKubectl(
  options: FindKubectlOptions = {},
): Promise<string> {
  if (options.usePath !== false) {
    const onPath = findProgram("kubectl");
    if (onPath !== undefined) return onPath;
  }
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const kubectl = join(cacheDir, "usr/bin/kubectl");
  if (findProgram(kubectl) !== undefined) return kubectl;

  const parent = join(cacheDir, "..");
  await Deno.mkdir(parent, { recursive: true });
  const work = await Deno.makeTempDir({ dir: parent, prefix: ".kubectl-" });
  try {
    const download = await run(
      ["apt-get", "download", "kubernetes-client"],
      { cwd: work, check: false },
    );
    const deb = [...Deno.readDirSync(work)].find((e) => e.name.endsWith(".deb"));
    if (!download.success || deb === undefined) {
      throw new Error(
        `Cannot fetch kubectl: "apt-get download kubernetes-client" failed: ${(download.stderr.trim() ||
          "no .deb was written")}; run "apt-get update" if the package lists are missing, or put a kubectl on PATH`,
      );
    }
    const tree = join(work, "tree");
    await run(["dpkg-deb", "-x", join(work, deb.name), tree]);
    if (findProgram(join(tree, "usr/bin/kubectl")) === undefined) {
      throw new Error(
        `Cannot fetch kubectl: Debian's "${deb.name}" holds no usr/bin/kubectl`,
      );
    }
    try {
      await Deno.rename(tree, cacheDir);
    } catch (error) {
      // Another process unpacked it first: use theirs.
      if (findProgram(kubectl) === undefined) throw error;
    }
    return kubectl;
  } finally {
    await removeTree(work);
  }
}

function defaultCacheDir(): string {
  const base = Deno.env.get("XDG_CACHE_HOME") ??
    join(Deno.env.get("HOME") ?? "/root", ".cache");
  return join(base, "skiff", "kubernetes-client");
}
