/**
 * Writes `data` to `path` so that readers see either the old file or the
 * whole new one: a temporary file in the same folder is written, flushed to
 * disk, given `mode`, then renamed over `path`.
 */
export async function atomicWriteFile(
  path: string,
  data: string,
  options: { mode: number },
): Promise<void> {
  const suffix = crypto.randomUUID().slice(0, 8);
  const temp = `${path}.${suffix}.tmp`;
  try {
    const file = await Deno.open(temp, {
      write: true,
      createNew: true,
      mode: options.mode,
    });
    try {
      const bytes = new TextEncoder().encode(data);
      let written = 0;
      while (written < bytes.length) {
        written += await file.write(bytes.subarray(written));
      }
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.chmod(temp, options.mode);
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}
