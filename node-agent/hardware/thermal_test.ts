import assert from "node:assert/strict";
import { fakeVcgencmd, fixtureRoots, noVcgencmd } from "./_testdata.ts";
import type { Exec } from "../_exec.ts";
import { describeThrottling, isThrottled, parseThrottled, thermalFingerprinter } from "./thermal.ts";

Deno.test("parseThrottled() decodes a healthy Pi: throttled=0x0", () => {
  const t = parseThrottled("throttled=0x0\n");
  assert.equal(t.raw, 0);
  assert.ok(!t.underVoltage && !t.throttled && !t.underVoltageOccurred && !t.throttledOccurred);
  assert.ok(!isThrottled(t));
});

Deno.test("parseThrottled() decodes under-voltage and throttling now and since boot: throttled=0x50005", () => {
  const t = parseThrottled("throttled=0x50005");
  assert.deepEqual(t, {
    raw: 0x50005,
    underVoltage: true,
    armFrequencyCapped: false,
    throttled: true,
    softTemperatureLimit: false,
    underVoltageOccurred: true,
    armFrequencyCappedOccurred: false,
    throttledOccurred: true,
    softTemperatureLimitOccurred: false,
  });
  assert.ok(isThrottled(t));
  assert.deepEqual(describeThrottling(t), ["under-voltage", "throttled"]);
});

Deno.test("parseThrottled() tells past events from present ones: throttled=0x50000", () => {
  const t = parseThrottled("throttled=0x50000");
  assert.ok(t.underVoltageOccurred && t.throttledOccurred);
  assert.ok(!t.underVoltage && !t.throttled);
  assert.ok(!isThrottled(t));
});

Deno.test("parseThrottled() decodes the soft temperature limit and frequency capping", () => {
  const soft = parseThrottled("throttled=0x80008");
  assert.ok(soft.softTemperatureLimit && soft.softTemperatureLimitOccurred && isThrottled(soft));
  const capped = parseThrottled("throttled=0xe0002");
  assert.ok(capped.armFrequencyCapped && capped.armFrequencyCappedOccurred && capped.throttledOccurred);
  assert.ok(capped.softTemperatureLimitOccurred && !capped.underVoltageOccurred);
  assert.deepEqual(describeThrottling(capped), ["ARM frequency capped"]);
  assert.equal(parseThrottled(0x4).throttled, true);
});

Deno.test("parseThrottled() rejects output that is not throttled=0x…", () => {
  assert.throws(() => parseThrottled("VCHI initialization failed"), /Cannot parse vcgencmd output "VCHI/);
  assert.throws(() => parseThrottled("throttled=zz"), TypeError);
  assert.throws(() => parseThrottled(-1), TypeError);
});

Deno.test("thermalFingerprinter() on a Raspberry Pi 4 reads 81.5°C from cpu-thermal and vcgencmd bits", async () => {
  const reading = await thermalFingerprinter({
    roots: fixtureRoots("pi4"),
    exec: fakeVcgencmd("throttled=0x50005"),
  }).read();
  assert.equal(reading.celsius, 81.5);
  assert.deepEqual(reading.zones, [{ zone: "thermal_zone0", type: "cpu-thermal", celsius: 81.5 }]);
  assert.equal(reading.throttling?.raw, 0x50005);
  assert.equal(reading.throttlingError, null);
});

Deno.test("thermalFingerprinter() on an x86 mini PC takes the hottest zone and skips bogus ones", async () => {
  const reading = await thermalFingerprinter({ roots: fixtureRoots("minipc"), exec: noVcgencmd }).read();
  assert.equal(reading.celsius, 45);
  assert.deepEqual(reading.zones.map((z) => z.type), ["acpitz", "x86_pkg_temp"]);
  assert.equal(reading.throttling, null);
  assert.equal(reading.throttlingError, null);
});

Deno.test("thermalFingerprinter() stops running vcgencmd once it turns out not to exist", async () => {
  let calls = 0;
  const exec: Exec = (cmd) => {
    calls++;
    return noVcgencmd!(cmd);
  };
  const thermal = thermalFingerprinter({ roots: fixtureRoots("minipc"), exec });
  await thermal.read();
  await thermal.read();
  assert.equal(calls, 1);
});

Deno.test("thermalFingerprinter() reports why an existing vcgencmd failed and tries again next time", async () => {
  let calls = 0;
  const exec: Exec = () => {
    calls++;
    return Promise.resolve({ code: 255, stdout: "", stderr: "VCHI initialization failed\n" });
  };
  const thermal = thermalFingerprinter({ roots: fixtureRoots("pi4"), exec });
  const reading = await thermal.read();
  assert.equal(reading.throttling, null);
  assert.equal(reading.throttlingError, "vcgencmd get_throttled exited with code 255: VCHI initialization failed");
  assert.equal(reading.celsius, 81.5);
  await thermal.read();
  assert.equal(calls, 2);
});

Deno.test("thermalFingerprinter() without thermal zones reports no temperature", async () => {
  const empty = await Deno.makeTempDir();
  try {
    const reading = await thermalFingerprinter({ roots: { sys: empty }, exec: noVcgencmd }).read();
    assert.equal(reading.celsius, null);
    assert.deepEqual(reading.zones, []);
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
});
