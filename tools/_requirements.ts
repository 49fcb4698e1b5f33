/**
 * Test requirement for building bundles: deno's npm tarballs in the cache,
 * fetched from the npm registry when missing. Like
 * test/support/requirements.ts, a missing requirement skips with a note
 * locally and fails loudly in CI (`CI=true`).
 *
 * @module
 */

import { type BundleArch, DENO_CACHE_DIR, denoTarball } from "./bundle.ts";

/**
 * Makes sure deno's npm tarball for each of `archs` is in `cacheDir`
 * (default: the repository's `.cache/deno-npm`), fetching it with npm.
 *
 * @throws {Error} in CI when a tarball cannot be had (no network to npm).
 */
export async function requireDenoTarballs(
  archs: readonly BundleArch[],
  options: { cacheDir?: string; ci?: boolean } = {},
): Promise<{ ignore: boolean }> {
  const cacheDir = options.cacheDir ?? DENO_CACHE_DIR;
  try {
    for (const arch of archs) await denoTarball(arch, cacheDir);
    return { ignore: false };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const ci = options.ci ?? /^(true|1)$/i.test(Deno.env.get("CI") ?? "");
    if (ci) throw new Error(`Missing test requirement in CI: deno from npm (${reason})`, { cause: error });
    console.error(`Skipping tests that need deno from npm: ${reason}`);
    return { ignore: true };
  }
}
