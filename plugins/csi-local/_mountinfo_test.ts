import assert from "node:assert/strict";
import { mountAt, mountPointsUnder, parseMountInfo } from "./_mountinfo.ts";

const SAMPLE = [
  "26 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw",
  "40 26 254:0 /tmp/a/vol /tmp/a/target\\040one rw,relatime - ext4 /dev/vda rw",
  "41 26 7:0 / /tmp/a/mounts/x ro,nosuid - ext4 /dev/loop0 rw",
  "42 40 7:0 / /tmp/a/target\\040one/inner rw - ext4 /dev/loop0 rw",
  "43 26 7:1 / /tmp/ab rw - ext4 /dev/loop1 rw",
  "garbage line without separator",
  "",
].join("\n");

Deno.test("parseMountInfo() reads fields and unescapes octal sequences", () => {
  const entries = parseMountInfo(SAMPLE);
  assert.equal(entries.length, 5);
  const target = entries[1];
  assert.ok(target);
  assert.equal(target.mountPoint, "/tmp/a/target one");
  assert.equal(target.root, "/tmp/a/vol");
  assert.equal(target.device, "254:0");
  assert.equal(target.fsType, "ext4");
  assert.deepEqual(entries[2]?.options, ["ro", "nosuid"]);
  assert.equal(entries[2]?.source, "/dev/loop0");
});

Deno.test("mountPointsUnder() lists mounts below a root deepest first and skips siblings sharing a prefix", () => {
  const entries = parseMountInfo(SAMPLE);
  assert.deepEqual(mountPointsUnder(entries, "/tmp/a"), [
    "/tmp/a/target one/inner",
    "/tmp/a/target one",
    "/tmp/a/mounts/x",
  ]);
  assert.deepEqual(mountPointsUnder(entries, "/tmp/ab"), ["/tmp/ab"]);
  assert.deepEqual(mountPointsUnder(entries, "/nowhere"), []);
});

Deno.test("mountAt() finds the root filesystem and nothing at a plain directory", async () => {
  assert.ok(await mountAt("/"));
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await mountAt(dir), undefined);
    assert.equal(await mountAt(`${dir}/missing`), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
