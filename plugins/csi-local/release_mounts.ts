/**
 * Tears down what csi-local mounted: for node teardown, and for tests that
 * must leave no mount or loop device behind even when they fail.
 *
 * @module
 */

import * as exec from "./_exec.ts";
import { mountPointsUnder, readMountInfo, resolvePath } from "./_mountinfo.ts";

/** Options of {@linkcode releaseCsiLocalMounts}. */
export interface ReleaseMountsOptions {
  /** Directories where a CO published volumes (their mounts go too). */
  targetRoots?: string[];
}

/** Most unmount passes before giving up on a busy mount. */
const MAX_PASSES = 16;

/**
 * Unmounts every mount at or below `dataDir` and each target root, deepest
 * first, then detaches every loop device whose backing file lies in
 * `dataDir`. Volume data and records stay. Returns the mount points it
 * unmounted.
 *
 * @throws {Error} when a mount is still there after every pass.
 */
export async function releaseCsiLocalMounts(
  dataDir: string,
  options: ReleaseMountsOptions = {},
): Promise<string[]> {
  const roots = await Promise.all(
    [dataDir, ...(options.targetRoots ?? [])].map(resolvePath),
  );
  const released: string[] = [];
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const entries = await readMountInfo();
    const mounted = roots.flatMap((root) => mountPointsUnder(entries, root));
    if (mounted.length === 0) break;
    for (const mountPoint of new Set(mounted)) {
      await exec.unmount(mountPoint);
      released.push(mountPoint);
    }
  }
  const entries = await readMountInfo();
  const stuck = roots.flatMap((root) => mountPointsUnder(entries, root));
  if (stuck.length > 0) {
    throw new Error(
      `Cannot release csi-local mounts: "${stuck[0]}" is still mounted after ${MAX_PASSES} passes`,
    );
  }
  const dataRoot = roots[0] ?? dataDir;
  for (const loop of await exec.listLoopDevices()) {
    if (!loop.backingFile.startsWith(`${dataRoot}/`)) continue;
    try {
      await exec.detachLoop(loop.device);
    } catch (error) {
      const still = (await exec.listLoopDevices()).some((l) => l.device === loop.device);
      if (still) throw error;
    }
  }
  return released;
}
