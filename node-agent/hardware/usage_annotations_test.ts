import assert from "node:assert/strict";
import { fixtureReadings } from "./_testdata.ts";
import type { HardwareReadings } from "./readings.ts";
import { USAGE_ANNOTATIONS, usageAnnotations } from "./usage_annotations.ts";

const GiB = 1024 ** 3;

async function busyPi(throttled: string): Promise<HardwareReadings> {
  const readings = await fixtureReadings("pi4", { throttled });
  return {
    ...readings,
    cpu: { ...readings.cpu, usage: { percent: 37.46, nanocores: 1_498_400_000, windowMs: 5_000 } },
    disks: { ...readings.disks, usedBytes: 8 * GiB, availableBytes: 24 * GiB },
    network: { ...readings.network, rxBytesPerSecond: 1_000_000.4, txBytesPerSecond: 99_999.6 },
  };
}

Deno.test("usageAnnotations() of a hot, throttled Raspberry Pi 4", async () => {
  assert.deepEqual(usageAnnotations(await busyPi("throttled=0x50005")), {
    "hardware.skiff.dev/temperature-celsius": "81.5",
    "hardware.skiff.dev/throttled": "true",
    "hardware.skiff.dev/cpu-usage-percent": "37.5",
    "hardware.skiff.dev/memory-usage-percent": "23.6",
    "hardware.skiff.dev/disk-usage-percent": "25.0",
    "hardware.skiff.dev/network-receive-bytes-per-second": "1000000",
    "hardware.skiff.dev/network-transmit-bytes-per-second": "100000",
  });
});

Deno.test("usageAnnotations() says not throttled when only past events are set", async () => {
  const annotations = usageAnnotations(await busyPi("throttled=0x50000"));
  assert.equal(annotations["hardware.skiff.dev/throttled"], "false");
});

Deno.test("usageAnnotations() leaves out what is not measured yet", async () => {
  const readings = await fixtureReadings("minipc");
  const annotations = usageAnnotations({ ...readings, thermal: { ...readings.thermal, celsius: null } });
  assert.deepEqual(Object.keys(annotations).sort(), [
    "hardware.skiff.dev/disk-usage-percent",
    "hardware.skiff.dev/memory-usage-percent",
  ]);
  assert.ok(Object.keys(annotations).every((key) => USAGE_ANNOTATIONS.includes(key)));
});
