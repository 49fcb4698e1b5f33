import assert from "node:assert/strict";
import type { Condition } from "@skiff/api";
import { fixtureReadings } from "./_testdata.ts";
import { nodeConditions } from "./node_conditions.ts";
import type { HardwareReadings } from "./readings.ts";
import { parseThrottled } from "./thermal.ts";

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const GiB = 1024 ** 3;

function byType(conditions: Condition[]): Record<string, Condition> {
  return Object.fromEntries(conditions.map((c) => [c.type, c]));
}

async function healthyPi(): Promise<HardwareReadings> {
  const readings = await fixtureReadings("pi4");
  return {
    ...readings,
    thermal: { ...readings.thermal, celsius: 54.2, throttling: parseThrottled("throttled=0x0") },
    disks: { ...readings.disks, capacityBytes: 32 * GiB, availableBytes: 20 * GiB, inodes: 1000, inodesFree: 900 },
  };
}

Deno.test("nodeConditions() of a healthy node: no pressure, Ready, worded as the kubelet words them", async () => {
  const conditions = nodeConditions(await healthyPi(), { now: T0 });
  assert.deepEqual(conditions.map((c) => [c.type, c.status, c.reason]), [
    ["MemoryPressure", "False", "KubeletHasSufficientMemory"],
    ["DiskPressure", "False", "KubeletHasNoDiskPressure"],
    ["PIDPressure", "False", "KubeletHasSufficientPID"],
    ["ThermalPressure", "False", "TemperatureNormal"],
    ["Ready", "True", "KubeletReady"],
  ]);
  const ready = byType(conditions).Ready;
  assert.deepEqual(ready, {
    type: "Ready",
    status: "True",
    lastHeartbeatTime: "2026-01-01T12:00:00Z",
    lastTransitionTime: "2026-01-01T12:00:00Z",
    reason: "KubeletReady",
    message: "kubelet is posting ready status",
  });
  assert.equal(byType(conditions).ThermalPressure?.message, "temperature 54.2°C is below the 80°C threshold");
});

Deno.test("nodeConditions() of a Raspberry Pi 4 at 81.5°C reports ThermalPressure", async () => {
  const readings = await fixtureReadings("pi4");
  const thermal = byType(nodeConditions(readings, { now: T0 })).ThermalPressure;
  assert.equal(thermal?.status, "True");
  assert.equal(thermal?.reason, "TemperatureHigh");
  assert.equal(thermal?.message, "temperature 81.5°C is at or above the 80°C threshold");
});

Deno.test("nodeConditions() reports ThermalPressure while throttled, whatever the temperature", async () => {
  const readings = await healthyPi();
  const throttled = { ...readings, thermal: { ...readings.thermal, throttling: parseThrottled("throttled=0x50005") } };
  const thermal = byType(nodeConditions(throttled, { now: T0 })).ThermalPressure;
  assert.equal(thermal?.status, "True");
  assert.equal(thermal?.reason, "CPUThrottled");
  assert.equal(
    thermal?.message,
    "CPU is throttled (under-voltage, throttled) at 54.2°C; under-voltage detected: use a power supply that delivers enough current",
  );
});

Deno.test("nodeConditions() keeps ThermalPressure until the node cools below the hysteresis", async () => {
  const readings = await healthyPi();
  const at = (celsius: number) => ({ ...readings, thermal: { ...readings.thermal, celsius } });
  const hot = nodeConditions(at(80), { now: T0 });
  const cooling = nodeConditions(at(76), { now: T0 + 10_000, previous: hot });
  assert.equal(byType(cooling).ThermalPressure?.status, "True");
  assert.match(byType(cooling).ThermalPressure?.message ?? "", /has not yet cooled below 75°C/);
  const cool = nodeConditions(at(74.9), { now: T0 + 20_000, previous: cooling });
  assert.equal(byType(cool).ThermalPressure?.status, "False");
  assert.equal(byType(nodeConditions(at(76), { now: T0 + 30_000, previous: cool })).ThermalPressure?.status, "False");
});

Deno.test("nodeConditions() without sensors reports no thermal pressure and says why", async () => {
  const readings = await healthyPi();
  const blind = { ...readings, thermal: { ...readings.thermal, celsius: null, zones: [], throttling: null } };
  const thermal = byType(nodeConditions(blind, { now: T0 })).ThermalPressure;
  assert.equal(thermal?.status, "False");
  assert.equal(thermal?.reason, "NoThermalSensor");
});

Deno.test("nodeConditions() reports memory, disk and PID pressure below the thresholds", async () => {
  const readings = await healthyPi();
  const starved: HardwareReadings = {
    ...readings,
    memory: { ...readings.memory, availableBytes: 50 * 1024 * 1024 },
    disks: { ...readings.disks, availableBytes: 1 * GiB, inodesFree: 10 },
    pids: { limit: 1000, running: 950, available: 50, sampledAt: 0 },
  };
  const conditions = byType(nodeConditions(starved, { now: T0 }));
  assert.equal(conditions.MemoryPressure?.status, "True");
  assert.equal(
    conditions.MemoryPressure?.message,
    "kubelet has insufficient memory available: 50Mi available, threshold 100Mi",
  );
  assert.equal(conditions.DiskPressure?.status, "True");
  assert.equal(conditions.DiskPressure?.reason, "KubeletHasDiskPressure");
  assert.match(
    conditions.DiskPressure?.message ?? "",
    /3\.1% of ".*" is free, threshold 10%; 1\.0% of inodes are free/,
  );
  assert.equal(conditions.PIDPressure?.status, "True");
  assert.equal(conditions.PIDPressure?.reason, "KubeletHasInsufficientPID");
});

Deno.test("nodeConditions() moves lastTransitionTime only when the status changes", async () => {
  const readings = await healthyPi();
  const first = nodeConditions(readings, { now: T0 });
  const second = nodeConditions(readings, { now: T0 + 10_000, previous: first });
  assert.equal(byType(second).Ready?.lastHeartbeatTime, "2026-01-01T12:00:10Z");
  assert.equal(byType(second).Ready?.lastTransitionTime, "2026-01-01T12:00:00Z");
  const notReady = nodeConditions(readings, {
    now: T0 + 20_000,
    previous: second,
    notReadyReasons: ["container runtime is down", "pod network is not ready"],
  });
  assert.deepEqual(
    [byType(notReady).Ready?.status, byType(notReady).Ready?.reason, byType(notReady).Ready?.message],
    ["False", "KubeletNotReady", "container runtime is down, pod network is not ready"],
  );
  assert.equal(byType(notReady).Ready?.lastTransitionTime, "2026-01-01T12:00:20Z");
  assert.equal(byType(notReady).MemoryPressure?.lastTransitionTime, "2026-01-01T12:00:00Z");
});

Deno.test("nodeConditions() rejects invalid thresholds and times naming them", async () => {
  const readings = await healthyPi();
  assert.throws(() => nodeConditions(readings, { now: NaN }), /Invalid option "now"/);
  assert.throws(
    () => nodeConditions(readings, { now: T0, thresholds: { diskAvailablePercent: 150 } }),
    /Invalid threshold "diskAvailablePercent": 150 is more than 100 percent/,
  );
});
