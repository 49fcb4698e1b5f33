import assert from "node:assert/strict";
import { labelValueErrors } from "@skiff/api";
import { fixtureReadings } from "./_testdata.ts";
import { boardLabelValue, nodeLabels } from "./node_labels.ts";

Deno.test("nodeLabels() of a Raspberry Pi 4 gives well-known and hardware.skiff.dev labels", async () => {
  const readings = await fixtureReadings("pi4");
  assert.deepEqual(nodeLabels({ ...readings, disks: { ...readings.disks, nonRotational: true } }, "Pi-4"), {
    "kubernetes.io/arch": "arm64",
    "kubernetes.io/os": "linux",
    "kubernetes.io/hostname": "pi-4",
    "hardware.skiff.dev/cpu-vendor": "ARM",
    "hardware.skiff.dev/cpu-model": "Cortex-A72",
    "hardware.skiff.dev/cpu-cores": "4",
    "hardware.skiff.dev/board": "raspberry-pi-4-model-b",
    "hardware.skiff.dev/kernel-version": "6.6.51-rpt-rpi-v8",
    "hardware.skiff.dev/os-release": "debian-12",
    "hardware.skiff.dev/storage-nonrotational": "true",
  });
});

Deno.test("nodeLabels() of an x86 mini PC sanitizes the CPU model into a label value", async () => {
  const readings = await fixtureReadings("minipc");
  const labels = nodeLabels({ ...readings, disks: { ...readings.disks, nonRotational: false } }, "nuc");
  assert.equal(labels["kubernetes.io/arch"], "amd64");
  assert.equal(labels["hardware.skiff.dev/cpu-vendor"], "Intel");
  assert.equal(labels["hardware.skiff.dev/cpu-model"], "Intel-N100");
  assert.equal(labels["hardware.skiff.dev/board"], "azw-mini-s");
  assert.equal(labels["hardware.skiff.dev/os-release"], "ubuntu-24.04");
  assert.equal(labels["hardware.skiff.dev/storage-nonrotational"], "false");
});

Deno.test("nodeLabels() leaves out what is unknown and keeps long models valid", async () => {
  const readings = await fixtureReadings("minipc");
  const labels = nodeLabels({
    ...readings,
    cpu: {
      ...readings.cpu,
      model: "Intel(R) Core(TM) i7-1260P 12th Gen @ 2.10GHz / with an absurdly long marketing suffix",
    },
    board: { ...readings.board, model: null },
    disks: { ...readings.disks, nonRotational: null },
  }, "host");
  assert.equal(labels["hardware.skiff.dev/board"], undefined);
  assert.equal(labels["hardware.skiff.dev/storage-nonrotational"], undefined);
  const model = labels["hardware.skiff.dev/cpu-model"] ?? "";
  assert.ok(model.startsWith("Intel-Core-i7-1260P-12th-Gen-2.10GHz-with"), model);
  assert.ok(model.length <= 63);
  assert.deepEqual(labelValueErrors(model), []);
});

Deno.test("nodeLabels() rejects a hostname that is not a label value", async () => {
  const readings = await fixtureReadings("pi4");
  assert.throws(
    () => nodeLabels(readings, "bad host"),
    /Cannot use hostname "bad host" as label "kubernetes.io\/hostname"/,
  );
  assert.throws(() => nodeLabels(readings, ""), /must not be empty/);
});

Deno.test("boardLabelValue() drops the revision and lower-cases the model", () => {
  assert.equal(boardLabelValue("Raspberry Pi 4 Model B Rev 1.4"), "raspberry-pi-4-model-b");
  assert.equal(boardLabelValue("Raspberry Pi 5 Model B Rev 1.0"), "raspberry-pi-5-model-b");
  assert.equal(boardLabelValue("Raspberry Pi Compute Module 4 Rev 1.1"), "raspberry-pi-compute-module-4");
  assert.equal(boardLabelValue("Intel(R) Client Systems NUC11TNHi5"), "intel-client-systems-nuc11tnhi5");
});
