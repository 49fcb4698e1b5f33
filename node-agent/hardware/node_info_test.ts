import assert from "node:assert/strict";
import { fixtureReadings } from "./_testdata.ts";
import { KUBELET_VERSION, nodeInfo } from "./node_info.ts";

Deno.test("nodeInfo() of a Raspberry Pi 4 fills status.nodeInfo from the readings", async () => {
  const info = nodeInfo(await fixtureReadings("pi4"), { containerRuntimeVersion: "containerd://1.6.20" });
  assert.deepEqual(info, {
    machineID: "7f3c2a1b9e8d4c6f8a0b1c2d3e4f5a6b",
    systemUUID: "",
    bootID: "5b0d3b8e-6a47-4c2f-9d3e-2f1c8a7b6e90",
    kernelVersion: "6.6.51+rpt-rpi-v8",
    osImage: "Debian GNU/Linux 12 (bookworm)",
    containerRuntimeVersion: "containerd://1.6.20",
    kubeletVersion: "v1.32.0-skiff",
    kubeProxyVersion: "",
    operatingSystem: "linux",
    architecture: "arm64",
  });
  assert.equal(KUBELET_VERSION, "v1.32.0-skiff");
});

Deno.test("nodeInfo() of an x86 mini PC carries its DMI system UUID and leaves the runtime to the caller", async () => {
  const info = nodeInfo(await fixtureReadings("minipc"));
  assert.equal(info.systemUUID, "03000200-0400-0500-0006-000700080009");
  assert.equal(info.osImage, "Ubuntu 24.04.1 LTS");
  assert.equal(info.architecture, "amd64");
  assert.equal(info.containerRuntimeVersion, "");
});
