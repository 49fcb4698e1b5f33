import assert from "node:assert/strict";
import { join } from "node:path";
import { pathExists } from "./_fs.ts";

Deno.test("pathExists() sees files and dangling symlinks, and not missing paths", async () => {
  const dir = await Deno.makeTempDir({ prefix: "skiff-fs-" });
  try {
    await Deno.writeTextFile(join(dir, "f"), "x");
    await Deno.symlink(join(dir, "missing"), join(dir, "link"));
    assert.equal(await pathExists(join(dir, "f")), true);
    assert.equal(await pathExists(join(dir, "link")), true);
    assert.equal(await pathExists(join(dir, "missing")), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
