import assert from "node:assert/strict";
import { join } from "node:path";
import { ManualClock } from "@skiff/api";
import { copyFixture, fixtureRoots } from "./_testdata.ts";
import { cpuFingerprinter, cpuUsage, kubernetesArch, parseCpuInfo, parseProcStat } from "./cpu.ts";

Deno.test("cpuFingerprinter() on a Raspberry Pi 4 reports ARM Cortex-A72 with 4 cores on arm64", async () => {
  const cpu = cpuFingerprinter({ roots: fixtureRoots("pi4"), arch: "aarch64", clock: new ManualClock() });
  const reading = await cpu.read();
  assert.equal(reading.vendor, "ARM");
  assert.equal(reading.model, "Cortex-A72");
  assert.equal(reading.cores, 4);
  assert.equal(reading.arch, "arm64");
  assert.equal(reading.usage, null);
});

Deno.test("cpuFingerprinter() on an x86 mini PC reports Intel N100 with 4 cores on amd64", async () => {
  const reading = await cpuFingerprinter({ roots: fixtureRoots("minipc"), arch: "x86_64" }).read();
  assert.deepEqual(
    { vendor: reading.vendor, model: reading.model, cores: reading.cores, arch: reading.arch },
    { vendor: "Intel", model: "Intel(R) N100", cores: 4, arch: "amd64" },
  );
});

Deno.test("cpuFingerprinter() reports usage over the window between two /proc/stat samples", async () => {
  await using fixture = copyFixture("pi4");
  const clock = new ManualClock();
  const cpu = cpuFingerprinter({ roots: fixture.roots, clock });
  await cpu.read();
  // 5 s later: 400 ticks busy and 1600 idle over 4 cores, i.e. 20% busy, 0.8 cores.
  await Deno.writeTextFile(
    join(fixture.roots.proc, "stat"),
    "cpu  412645 1204 98865 8125006 5482 0 2345 0 0 0\ncpu0 0\ncpu1 0\ncpu2 0\ncpu3 0\n",
  );
  await clock.advance(5_000);
  const reading = await cpu.read();
  assert.deepEqual(reading.usage, { percent: 20, nanocores: 800_000_000, windowMs: 5_000 });
  assert.equal(reading.sampledAt, clock.now());
});

Deno.test("cpuUsage() gives null when the counters did not move forward", () => {
  const times = { total: 100, idle: 50, cores: 2 };
  assert.equal(cpuUsage(times, times, 1000), null);
  assert.equal(cpuUsage({ total: 200, idle: 100, cores: 2 }, times, 1000), null);
  assert.equal(cpuUsage({ total: 0, idle: 0, cores: 2 }, times, 0), null);
});

Deno.test("parseCpuInfo() names big.LITTLE ARM cores and vendors of other implementers", () => {
  const core = (part: string) => `processor\t: 0\nCPU implementer\t: 0x41\nCPU part\t: ${part}\n\n`;
  assert.deepEqual(parseCpuInfo(core("0xd05") + core("0xd05") + core("0xd0b")), {
    vendor: "ARM",
    model: "Cortex-A55 + Cortex-A76",
  });
  assert.deepEqual(parseCpuInfo(core("0xd03")), { vendor: "ARM", model: "Cortex-A53" });
  assert.deepEqual(
    parseCpuInfo("model name\t: ARMv7 Processor rev 4 (v7l)\nCPU implementer\t: 0x51\nCPU part\t: 0x801\n"),
    { vendor: "Qualcomm", model: "ARMv7 Processor rev 4 (v7l)" },
  );
  assert.deepEqual(parseCpuInfo("vendor_id\t: AuthenticAMD\nmodel name\t: AMD Ryzen 5 5560U\n"), {
    vendor: "AMD",
    model: "AMD Ryzen 5 5560U",
  });
  assert.deepEqual(parseCpuInfo(""), { vendor: "", model: "" });
});

Deno.test("parseProcStat() counts online CPUs and rejects text without a cpu line", () => {
  assert.deepEqual(parseProcStat("cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 1\ncpu1 1\n"), { total: 36, idle: 9, cores: 2 });
  assert.throws(() => parseProcStat("intr 1 2 3\n"), /Cannot parse \/proc\/stat: no "cpu" line/);
});

Deno.test("kubernetesArch() maps machine names to Kubernetes architectures", () => {
  assert.equal(kubernetesArch("x86_64"), "amd64");
  assert.equal(kubernetesArch("aarch64"), "arm64");
  assert.equal(kubernetesArch("armv7l"), "arm");
  assert.equal(kubernetesArch("armv6l"), "arm");
  assert.equal(kubernetesArch("i686"), "386");
  assert.equal(kubernetesArch("riscv64"), "riscv64");
});

Deno.test("cpuFingerprinter() keeps the last usage while the counters do not move, and measures from the last move", async () => {
  await using fixture = copyFixture("pi4");
  const clock = new ManualClock();
  const cpu = cpuFingerprinter({ roots: fixture.roots, clock });
  await cpu.read();
  await Deno.writeTextFile(
    join(fixture.roots.proc, "stat"),
    "cpu  412645 1204 98865 8125006 5482 0 2345 0 0 0\ncpu0 0\ncpu1 0\ncpu2 0\ncpu3 0\n",
  );
  await clock.advance(5_000);
  const moved = await cpu.read();
  await clock.advance(5_000);
  const still = await cpu.read();
  assert.deepEqual(still.usage, moved.usage, "no tick elapsed: the last usage stands");
  // 400 more ticks, all busy, read 5 s after the last sample that moved... plus the 5 s that said nothing.
  await Deno.writeTextFile(
    join(fixture.roots.proc, "stat"),
    "cpu  413045 1204 98865 8125006 5482 0 2345 0 0 0\ncpu0 0\ncpu1 0\ncpu2 0\ncpu3 0\n",
  );
  await clock.advance(5_000);
  const next = await cpu.read();
  assert.equal(next.usage?.percent, 100);
  assert.equal(next.usage?.windowMs, 10_000, "the window starts at the last sample that moved");
});
