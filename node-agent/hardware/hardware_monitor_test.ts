import assert from "node:assert/strict";
import { join } from "node:path";
import { ManualClock } from "@skiff/api";
import { copyFixture, fakeVcgencmd, FIXTURE_INTERFACES, fixtureRoots } from "./_testdata.ts";
import { CHEAP_AREAS, HardwareMonitor, type HardwareMonitorOptions } from "./hardware_monitor.ts";
import { HARDWARE_AREAS, type HardwareArea } from "./readings.ts";

function piOptions(overrides: Partial<HardwareMonitorOptions> = {}): HardwareMonitorOptions {
  return {
    dataDir: Deno.cwd(),
    roots: fixtureRoots("pi4"),
    clock: new ManualClock(),
    arch: "aarch64",
    exec: fakeVcgencmd("throttled=0x50005"),
    listInterfaces: () => Promise.resolve(FIXTURE_INTERFACES.pi4),
    onError: (area, error) => {
      throw new Error(`Unexpected failure of "${area}": ${error.message}`);
    },
    ...overrides,
  };
}

/** Resolves with the next update of `area`. */
function nextUpdate(monitor: HardwareMonitor, area: HardwareArea): Promise<void> {
  return new Promise((resolve) => {
    const off = monitor.onUpdate((updated) => {
      if (updated !== area) return;
      off();
      resolve();
    });
  });
}

Deno.test("HardwareMonitor.start() reads every area of a Raspberry Pi 4 and schedules each", async () => {
  const clock = new ManualClock();
  const monitor = new HardwareMonitor(piOptions({ clock }));
  const readings = await monitor.start();
  try {
    assert.deepEqual(Object.keys(readings).sort(), [...HARDWARE_AREAS].sort());
    assert.equal(readings.cpu.model, "Cortex-A72");
    assert.equal(readings.thermal.celsius, 81.5);
    assert.equal(readings.thermal.throttling?.throttled, true);
    assert.equal(readings.board.model, "Raspberry Pi 4 Model B Rev 1.4");
    assert.equal(readings.devices.paths.serial.length, 1);
    assert.equal(readings.network.interfaces[0]?.name, "eth0");
    assert.equal(clock.pending, HARDWARE_AREAS.length);
    assert.ok(monitor.running);
  } finally {
    monitor.stop();
  }
  assert.equal(clock.pending, 0);
  assert.ok(!monitor.running);
});

Deno.test("HardwareMonitor reads an area again after its period and tells listeners", async () => {
  await using fixture = copyFixture("pi4");
  const clock = new ManualClock();
  const monitor = new HardwareMonitor(piOptions({ clock, roots: fixture.roots, periods: { cpu: 2_000 } }));
  const first = await monitor.start();
  try {
    assert.equal(monitor.periods.cpu, 2_000);
    await Deno.writeTextFile(
      join(fixture.roots.proc, "stat"),
      "cpu  412445 1204 98765 8123556 5432 0 2345 0 0 0\ncpu0 0\ncpu1 0\ncpu2 0\ncpu3 0\n",
    );
    const updated = nextUpdate(monitor, "cpu");
    await clock.advance(2_000);
    await updated;
    const { cpu } = monitor.readings;
    assert.equal(first.cpu.usage, null);
    assert.deepEqual(cpu.usage, { percent: 50, nanocores: 2_000_000_000, windowMs: 2_000 });
    assert.equal(monitor.readings.board, first.board);
  } finally {
    monitor.stop();
  }
});

Deno.test("HardwareMonitor keeps the last reading of an area that fails and reports the error", async () => {
  await using fixture = copyFixture("pi4");
  const clock = new ManualClock();
  const failures: [HardwareArea, string][] = [];
  let failed!: () => void;
  const failure = new Promise<void>((resolve) => failed = resolve);
  const monitor = new HardwareMonitor(piOptions({
    clock,
    roots: fixture.roots,
    onError: (area, error) => {
      failures.push([area, error.message]);
      failed();
    },
  }));
  const first = await monitor.start();
  try {
    await Deno.remove(join(fixture.roots.proc, "meminfo"));
    await clock.advance(monitor.periods.memory);
    await failure;
    assert.equal(failures[0]?.[0], "memory");
    assert.match(failures[0]?.[1] ?? "", /Cannot read memory figures from ".*meminfo"/);
    assert.equal(monitor.readings.memory, first.memory);
    assert.match(monitor.errors.get("memory")?.message ?? "", /meminfo/);
    // Other areas due at the same time read their files asynchronously and reschedule once done.
    const deadline = Date.now() + 10_000;
    while (clock.pending < HARDWARE_AREAS.length && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(clock.pending, HARDWARE_AREAS.length, "the failed area is scheduled again");
  } finally {
    monitor.stop();
  }
});

Deno.test("HardwareMonitor.start() fails naming the area that cannot be read and schedules nothing", async () => {
  const clock = new ManualClock();
  const monitor = new HardwareMonitor(piOptions({ clock, dataDir: "/nonexistent/skiff" }));
  await assert.rejects(monitor.start(), /Cannot read the hardware: disks: Cannot measure the data directory/);
  assert.equal(clock.pending, 0);
  assert.ok(!monitor.running);
  assert.throws(() => monitor.readings, /No hardware readings yet for disks/);
});

Deno.test("HardwareMonitor.refresh() reads only the areas asked for once every area has a reading", async () => {
  const clock = new ManualClock();
  let listings = 0;
  const monitor = new HardwareMonitor(piOptions({
    clock,
    listInterfaces: () => {
      listings++;
      return Promise.resolve([]);
    },
  }));
  const first = await monitor.refresh({ areas: ["cpu"] });
  assert.ok(first.board, "the first refresh reads every area");
  await clock.advance(1_000);
  const cheap = await monitor.refresh({ areas: CHEAP_AREAS });
  assert.equal(cheap.board, first.board);
  assert.equal(cheap.cpu.sampledAt, clock.now());
  assert.equal(listings, 1, "a cheap round reuses the interface list");
  await monitor.refresh({ full: true });
  assert.equal(listings, 2);
  assert.equal(clock.pending, 0, "refresh() schedules nothing");
});

Deno.test("HardwareMonitor rejects invalid periods", () => {
  assert.throws(() => new HardwareMonitor(piOptions({ periods: { cpu: 0 } })), /"periods.cpu": 0 is not a positive/);
  assert.throws(
    () => new HardwareMonitor(piOptions({ periods: { gpu: 5 } as Record<string, number> })),
    /"periods.gpu": no such hardware area/,
  );
});

Deno.test("HardwareMonitor on this machine reports sane values", async () => {
  const monitor = new HardwareMonitor({ dataDir: Deno.cwd() });
  const readings = await monitor.start();
  monitor.stop();
  assert.ok(readings.cpu.cores >= 1);
  assert.ok(["amd64", "arm64"].includes(readings.cpu.arch), readings.cpu.arch);
  assert.ok(readings.memory.totalBytes > 0);
  assert.ok(readings.memory.availableBytes > 0 && readings.memory.availableBytes <= readings.memory.totalBytes);
  assert.ok(readings.disks.capacityBytes > 0);
  assert.ok(readings.pids.limit > readings.pids.running && readings.pids.running > 0);
  assert.ok(readings.board.kernelVersion.length > 0);
  assert.ok(readings.network.counters.some((c) => c.name === "lo"));
  assert.ok(readings.network.interfaces.length > 0, readings.network.interfacesError ?? "no interfaces");
  const again = await monitor.refresh({ areas: ["cpu"] });
  assert.ok(again.cpu.usage === null || (again.cpu.usage.percent >= 0 && again.cpu.usage.percent <= 100));
});
