import assert from "node:assert/strict";
import { createTempDir, removeTree, uniqueName, withTempDir } from "./tmp.ts";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("createTempDir() makes an empty directory that await using removes", async () => {
  let path: string;
  {
    await using dir = await createTempDir({ prefix: "skiff-tmp-test-" });
    path = dir.path;
    assert.match(path, /\/skiff-tmp-test-[^/]+$/);
    assert.deepEqual([...Deno.readDirSync(path)], []);
    await Deno.mkdir(dir.join("a", "b"), { recursive: true });
    await Deno.writeTextFile(dir.join("a", "b", "c.txt"), "x");
  }
  assert.equal(await exists(path), false);
});

Deno.test("createTempDir() remove() is safe to call twice", async () => {
  const dir = await createTempDir();
  await dir.remove();
  await dir.remove();
  assert.equal(await exists(dir.path), false);
});

Deno.test("withTempDir() removes the directory when the callback throws", async () => {
  let seen = "";
  await assert.rejects(
    () =>
      withTempDir((path) => {
        seen = path;
        throw new Error("boom");
      }),
    /boom/,
  );
  assert.notEqual(seen, "");
  assert.equal(await exists(seen), false);
});

Deno.test({
  name: "removeTree() unmounts what is mounted below the directory first",
  ignore: Deno.uid() !== 0,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "skiff-tmp-mount-" });
    await Deno.mkdir(`${dir}/mnt`);
    const mount = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "tmpfs", `${dir}/mnt`],
    }).output();
    assert.ok(mount.success);
    await Deno.writeTextFile(`${dir}/mnt/file`, "x");
    await removeTree(dir);
    assert.equal(await exists(dir), false);
    const mounts = await Deno.readTextFile("/proc/self/mountinfo");
    assert.ok(!mounts.includes(dir));
  },
});

Deno.test("uniqueName() includes the prefix and pid and differs per call", () => {
  const a = uniqueName("lab-");
  const b = uniqueName("lab-");
  assert.match(a, new RegExp(`^lab-${Deno.pid}-[0-9a-z]{4}$`));
  assert.notEqual(a, b);
});
