import assert from "node:assert/strict";
import { statfs } from "node:fs/promises";
import { fixtureRoots } from "./_testdata.ts";
import { disksFingerprinter, mountOf, parseMountInfo } from "./disks.ts";

Deno.test("disksFingerprinter() on a Raspberry Pi 4 finds the SD card behind /dev/root and calls it non-rotational", async () => {
  const dataDir = await Deno.makeTempDir();
  try {
    const reading = await disksFingerprinter({ dataDir, roots: fixtureRoots("pi4") }).read();
    assert.equal(reading.mountPoint, "/");
    assert.equal(reading.source, "/dev/root");
    assert.equal(reading.fsType, "ext4");
    assert.equal(reading.disk, "mmcblk0");
    assert.equal(reading.nonRotational, true);
    assert.deepEqual(reading.blockDevices, [{ name: "mmcblk0", rotational: false }]);
    const fs = await statfs(dataDir);
    assert.equal(reading.capacityBytes, fs.blocks * fs.bsize);
    assert.ok(reading.availableBytes > 0 && reading.availableBytes <= reading.capacityBytes);
    assert.ok(reading.usedBytes > 0 && reading.inodes > 0);
  } finally {
    await Deno.remove(dataDir);
  }
});

Deno.test("disksFingerprinter() on an x86 mini PC finds the NVMe disk and lists the spinning one", async () => {
  const reading = await disksFingerprinter({ dataDir: Deno.cwd(), roots: fixtureRoots("minipc") }).read();
  assert.equal(reading.disk, "nvme0n1");
  assert.equal(reading.nonRotational, true);
  assert.deepEqual(reading.blockDevices, [{ name: "nvme0n1", rotational: false }, { name: "sda", rotational: true }]);
});

Deno.test("disksFingerprinter() leaves the disk unknown when the mount has no block device", async () => {
  const roots = fixtureRoots("pi4");
  const proc = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${proc}/self`);
    await Deno.writeTextFile(`${proc}/self/mountinfo`, "26 1 0:31 / / rw - btrfs /dev/sdb rw\n");
    const reading = await disksFingerprinter({ dataDir: Deno.cwd(), roots: { ...roots, proc } }).read();
    assert.equal(reading.fsType, "btrfs");
    assert.equal(reading.disk, null);
    assert.equal(reading.nonRotational, null);
  } finally {
    await Deno.remove(proc, { recursive: true });
  }
});

Deno.test("disksFingerprinter() with a missing data directory fails naming it", async () => {
  const disks = disksFingerprinter({ dataDir: "/nonexistent/skiff-data", roots: fixtureRoots("pi4") });
  await assert.rejects(disks.read(), /Cannot measure the data directory "\/nonexistent\/skiff-data"/);
  assert.throws(() => disksFingerprinter({ dataDir: "" }), /Invalid option "dataDir"/);
});

Deno.test("parseMountInfo() unescapes mount points and mountOf() picks the deepest mount", () => {
  const mounts = parseMountInfo(Deno.readTextFileSync(`${fixtureRoots("minipc").proc}/self/mountinfo`));
  assert.equal(mounts.length, 5);
  const media = mounts.find((m) => m.source === "/dev/sda1");
  assert.deepEqual(media, { device: "8:1", mountPoint: "/mnt/media library", fsType: "ext4", source: "/dev/sda1" });
  assert.equal(mountOf(mounts, "/mnt/media library/films")?.device, "8:1");
  assert.equal(mountOf(mounts, "/mnt/media libraryx")?.device, "259:2");
  assert.equal(mountOf(mounts, "/boot/efi")?.device, "259:1");
  assert.equal(mountOf([], "/"), null);
});

Deno.test("parseMountInfo() takes optional fields in its stride and skips malformed lines", () => {
  const mounts = parseMountInfo(
    "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue\nbad line\n",
  );
  assert.deepEqual(mounts, [{ device: "98:0", mountPoint: "/mnt2", fsType: "ext3", source: "/dev/root" }]);
});
