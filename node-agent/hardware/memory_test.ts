import assert from "node:assert/strict";
import { fixtureRoots } from "./_testdata.ts";
import { memoryFingerprinter, memoryFromMeminfo, parsePsi } from "./memory.ts";

const KiB = 1024;

Deno.test("memoryFingerprinter() on a Raspberry Pi 4 reads capacity, working set and no PSI", async () => {
  const reading = await memoryFingerprinter({ roots: fixtureRoots("pi4") }).read();
  assert.equal(reading.totalBytes, 3885312 * KiB);
  assert.equal(reading.availableBytes, 2967220 * KiB);
  assert.equal(reading.workingSetBytes, (3885312 - 2967220) * KiB);
  assert.equal(reading.swapTotalBytes, 102396 * KiB);
  assert.equal(reading.psi, null);
});

Deno.test("memoryFingerprinter() on an x86 mini PC reads memory pressure stall figures", async () => {
  const reading = await memoryFingerprinter({ roots: fixtureRoots("minipc") }).read();
  assert.equal(reading.totalBytes, 16146792 * KiB);
  assert.deepEqual(reading.psi, { someAvg10: 1.25, fullAvg10: 0.5 });
});

Deno.test("memoryFromMeminfo() estimates available memory on kernels without MemAvailable", () => {
  const text = "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n";
  const reading = memoryFromMeminfo(text, { sampledAt: 0 });
  assert.equal(reading.availableBytes, 400 * KiB);
  assert.equal(reading.workingSetBytes, 600 * KiB);
});

Deno.test("memoryFromMeminfo() without MemTotal fails naming the field", () => {
  assert.throws(() => memoryFromMeminfo("MemFree: 1 kB\n", { sampledAt: 0 }), /no "MemTotal" line/);
});

Deno.test("parsePsi() gives null for absent or malformed text", () => {
  assert.equal(parsePsi(null), null);
  assert.equal(parsePsi("garbage"), null);
});
