import assert from "node:assert/strict";
import { join } from "node:path";
import { checkVolumePlugins } from "./volume_plugins.ts";

Deno.test("checkVolumePlugins() finds no plugins when the plugins directory does not exist", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.deepEqual(await checkVolumePlugins(dir), { pluginsDir: join(dir, "plugins"), drivers: [], failures: [] });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkVolumePlugins() reports a socket that does not answer", async () => {
  const dir = await Deno.makeTempDir();
  const socketPath = join(dir, "plugins", "broken", "csi.sock");
  await Deno.mkdir(join(dir, "plugins", "broken"), { recursive: true });
  const listener = Deno.listen({ transport: "unix", path: socketPath });
  const closing = (async () => {
    for await (const conn of listener) conn.close();
  })();
  try {
    const check = await checkVolumePlugins(dir, { timeoutMs: 1_000 });
    assert.deepEqual(check.drivers, []);
    assert.equal(check.failures.length, 1);
    assert.equal(check.failures[0]?.socketPath, socketPath);
  } finally {
    listener.close();
    await closing.catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
