import assert from "node:assert/strict";
import type { Container } from "@skiff/api";
import { DeviceAllocator, deviceRequests } from "./devices.ts";

const paths: Record<string, string[]> = { serial: ["/dev/ttyUSB0", "/dev/ttyUSB1"], camera: ["/dev/video0"] };
const wants = (name: string, limits: Record<string, string>): Container => ({ name, resources: { limits } });

Deno.test("deviceRequests() reads devices.skiff.dev/<kind> counts", () => {
  assert.deepEqual(
    deviceRequests(wants("c", { cpu: "1", "devices.skiff.dev/serial": "2", "devices.skiff.dev/camera": "0" })),
    new Map([["serial", 2]]),
  );
  assert.throws(() => deviceRequests(wants("c", { "devices.skiff.dev/serial": "1.5" })), /not a whole number/);
});

Deno.test("DeviceAllocator gives each container its own devices and keeps them across calls", () => {
  const devices = new DeviceAllocator((kind) => paths[kind] ?? []);
  const a = wants("a", { "devices.skiff.dev/serial": "1" });
  const b = wants("b", { "devices.skiff.dev/serial": "1", "devices.skiff.dev/camera": "1" });
  assert.deepEqual(devices.allocate("pod-1", a), ["/dev/ttyUSB0"]);
  assert.deepEqual(devices.allocate("pod-1", a), ["/dev/ttyUSB0"], "the same again");
  assert.deepEqual(devices.allocate("pod-2", b), ["/dev/ttyUSB1", "/dev/video0"]);
  assert.throws(
    () => devices.allocate("pod-3", wants("c", { "devices.skiff.dev/serial": "1" })),
    /Cannot give container "c" 1 "serial" device\(s\): the node has 2, of which 0 free/,
  );
  devices.releasePod("pod-1");
  assert.deepEqual(devices.allocate("pod-3", wants("c", { "devices.skiff.dev/serial": "1" })), ["/dev/ttyUSB0"]);
  assert.deepEqual(devices.allocate("pod-3", { name: "plain" }), []);
});

Deno.test("DeviceAllocator.adopt() restores what a running container holds", () => {
  const devices = new DeviceAllocator((kind) => paths[kind] ?? []);
  devices.adopt("pod-1/a", ["/dev/ttyUSB1"]);
  assert.deepEqual(devices.allocate("pod-2", wants("b", { "devices.skiff.dev/serial": "1" })), ["/dev/ttyUSB0"]);
  assert.deepEqual(devices.allocate("pod-1", wants("a", { "devices.skiff.dev/serial": "1" })), ["/dev/ttyUSB1"]);
  const none = new DeviceAllocator();
  assert.throws(() => none.allocate("p", wants("a", { "devices.skiff.dev/gpio": "1" })), /the node has 0/);
});
