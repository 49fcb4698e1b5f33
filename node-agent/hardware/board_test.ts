import assert from "node:assert/strict";
import { fixtureRoots } from "./_testdata.ts";
import { boardFingerprinter, deviceTreeString, parseOsRelease } from "./board.ts";

Deno.test("boardFingerprinter() on a Raspberry Pi 4 reads the device-tree model without its trailing NUL", async () => {
  const reading = await boardFingerprinter({ roots: fixtureRoots("pi4") }).read();
  assert.equal(reading.model, "Raspberry Pi 4 Model B Rev 1.4");
  assert.equal(reading.operatingSystem, "linux");
  assert.deepEqual(reading.osRelease, { id: "debian", versionId: "12", prettyName: "Debian GNU/Linux 12 (bookworm)" });
  assert.equal(reading.kernelVersion, "6.6.51+rpt-rpi-v8");
  assert.equal(reading.machineId, "7f3c2a1b9e8d4c6f8a0b1c2d3e4f5a6b");
  assert.equal(reading.bootId, "5b0d3b8e-6a47-4c2f-9d3e-2f1c8a7b6e90");
  assert.equal(reading.systemUuid, "");
});

Deno.test("boardFingerprinter() on an x86 mini PC names the board from DMI vendor and product", async () => {
  const reading = await boardFingerprinter({ roots: fixtureRoots("minipc") }).read();
  assert.equal(reading.model, "AZW MINI S");
  assert.equal(reading.osRelease.prettyName, "Ubuntu 24.04.1 LTS");
  assert.equal(reading.kernelVersion, "6.8.0-45-generic");
  assert.equal(reading.systemUuid, "03000200-0400-0500-0006-000700080009");
});

Deno.test("boardFingerprinter() without device tree or DMI reports no model", async () => {
  const empty = await Deno.makeTempDir();
  try {
    const reading = await boardFingerprinter({
      roots: { ...fixtureRoots("pi4"), proc: `${fixtureRoots("minipc").proc}`, sys: empty },
    })
      .read();
    assert.equal(reading.model, null);
  } finally {
    await Deno.remove(empty);
  }
});

Deno.test("boardFingerprinter() without a kernel version fails naming it", async () => {
  const empty = await Deno.makeTempDir();
  try {
    await assert.rejects(boardFingerprinter({ roots: { proc: empty } }).read(), /Cannot read the kernel version/);
  } finally {
    await Deno.remove(empty);
  }
});

Deno.test("parseOsRelease() unquotes values and falls back to NAME and linux", () => {
  assert.deepEqual(parseOsRelease(`NAME='Alpine Linux'\nID=alpine\nPRETTY_NAME="Say \\"hi\\""\n`), {
    id: "alpine",
    versionId: "",
    prettyName: 'Say "hi"',
  });
  assert.deepEqual(parseOsRelease("NAME=Arch\nID=arch\n"), { id: "arch", versionId: "", prettyName: "Arch" });
  assert.deepEqual(parseOsRelease(""), { id: "linux", versionId: "", prettyName: "linux" });
});

Deno.test("deviceTreeString() keeps the first NUL-terminated string", () => {
  assert.equal(deviceTreeString("Raspberry Pi 5 Model B Rev 1.0\0"), "Raspberry Pi 5 Model B Rev 1.0");
  assert.equal(deviceTreeString("raspberrypi,4-model-b\0brcm,bcm2711\0"), "raspberrypi,4-model-b");
});
