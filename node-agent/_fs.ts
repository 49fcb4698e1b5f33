/**
 * File-system helpers shared by the agent's parts.
 *
 * @module
 */

/**
 * Whether something (a file, directory, symlink, namespace file) is at
 * `path`; a symlink counts, whether or not its target exists.
 *
 * @throws {Deno.errors.PermissionDenied} and any other error than NotFound.
 */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
