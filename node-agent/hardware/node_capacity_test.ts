import assert from "node:assert/strict";
import { fixtureReadings } from "./_testdata.ts";
import { DEFAULT_SYSTEM_RESERVED, deviceResourceName, nodeCapacity } from "./node_capacity.ts";
import type { HardwareReadings } from "./readings.ts";

const GiB = 1024 ** 3;

async function pi(disk: Partial<HardwareReadings["disks"]> = {}): Promise<HardwareReadings> {
  const readings = await fixtureReadings("pi4");
  return { ...readings, disks: { ...readings.disks, capacityBytes: 32 * GiB, availableBytes: 20 * GiB, ...disk } };
}

Deno.test("nodeCapacity() of a Raspberry Pi 4 gives Kubernetes quantities and device counts", async () => {
  const { capacity } = nodeCapacity(await pi());
  assert.deepEqual(capacity, {
    cpu: "4",
    memory: "3885312Ki",
    pods: "110",
    "ephemeral-storage": "32Gi",
    "devices.skiff.dev/serial": "1",
    "devices.skiff.dev/camera": "1",
    "devices.skiff.dev/gpio": "1",
    "devices.skiff.dev/i2c": "0",
    "devices.skiff.dev/spi": "0",
  });
});

Deno.test("nodeCapacity() allocatable subtracts the default reservation and the eviction margins", async () => {
  const { allocatable } = nodeCapacity(await pi());
  assert.deepEqual(DEFAULT_SYSTEM_RESERVED, { cpu: "100m", memory: "256Mi", "ephemeral-storage": "1Gi" });
  assert.equal(allocatable.cpu, "3900m");
  // 3885312Ki - 256Mi reserved - 100Mi eviction threshold.
  assert.equal(allocatable.memory, `${3885312 - 356 * 1024}Ki`);
  // 32Gi - 1Gi reserved - 10% eviction threshold (3.2Gi): 28215566746 bytes, rounded down.
  assert.equal(allocatable["ephemeral-storage"], String(32 * GiB - GiB - Math.ceil(3.2 * GiB)));
  assert.equal(allocatable.pods, "110");
  assert.equal(allocatable[deviceResourceName("serial")], "1");
});

Deno.test("nodeCapacity() takes a custom reservation, pod limit and thresholds", async () => {
  const { capacity, allocatable } = nodeCapacity(await pi(), {
    reserved: { cpu: "1", memory: "1Gi" },
    maxPods: 30,
    thresholds: { memoryAvailableBytes: 0, diskAvailablePercent: 0 },
  });
  assert.equal(capacity.pods, "30");
  assert.equal(allocatable.cpu, "3");
  assert.equal(allocatable.memory, `${3885312 - 1024 * 1024}Ki`);
  assert.equal(allocatable["ephemeral-storage"], "31Gi");
});

Deno.test("nodeCapacity() never gives negative allocatable", async () => {
  const { allocatable } = nodeCapacity(await pi({ capacityBytes: 512 * 1024 * 1024 }), { reserved: { cpu: "8" } });
  assert.equal(allocatable.cpu, "0");
  assert.equal(allocatable["ephemeral-storage"], "0");
});

Deno.test("nodeCapacity() rejects a bad reservation or pod limit naming it", async () => {
  const readings = await pi();
  assert.throws(
    () => nodeCapacity(readings, { reserved: { memory: "lots" } }),
    /Invalid reserved "memory": Cannot parse/,
  );
  assert.throws(
    () => nodeCapacity(readings, { reserved: { cpu: "-1" } }),
    /Invalid reserved "cpu": must not be negative/,
  );
  assert.throws(() => nodeCapacity(readings, { maxPods: 0 }), /Invalid option "maxPods": 0/);
});
