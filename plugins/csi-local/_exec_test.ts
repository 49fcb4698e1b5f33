import assert from "node:assert/strict";
import { CommandError, parseLosetupJson, unmount } from "./_exec.ts";

Deno.test("parseLosetupJson() reads devices and marks deleted backing files", () => {
  const text = JSON.stringify({
    loopdevices: [
      { name: "/dev/loop0", "back-file": "/data/volumes/a.img" },
      { name: "/dev/loop1", "back-file": "/data/volumes/b.img (deleted)" },
      { name: "/dev/loop2", "back-file": null },
    ],
  });
  assert.deepEqual(parseLosetupJson(text), [
    { device: "/dev/loop0", backingFile: "/data/volumes/a.img", deleted: false },
    { device: "/dev/loop1", backingFile: "/data/volumes/b.img", deleted: true },
    { device: "/dev/loop2", backingFile: "", deleted: false },
  ]);
  assert.deepEqual(parseLosetupJson(""), []);
});

Deno.test("a failing command throws CommandError with its command line and stderr", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const error = await unmount(dir).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof CommandError);
    assert.deepEqual(error.argv, ["umount", dir]);
    assert.notEqual(error.exitCode, 0);
    assert.match(error.message, /^Command "umount .*" exited with code \d+: /);
  } finally {
    await Deno.remove(dir);
  }
});
