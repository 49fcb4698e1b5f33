import assert from "node:assert/strict";
import { cluster, info, node, pod } from "../_testing.ts";
import { devices, requestedDevices } from "./devices.ts";

const serial = (n: string) => ({ requests: { "devices.skiff.dev/serial": n } });

Deno.test("Devices fits a pod only on nodes reporting enough free devices of the kind", () => {
  const c = cluster([
    node("plain"),
    node("one", { extra: { "devices.skiff.dev/serial": "1" } }),
    node("taken", { extra: { "devices.skiff.dev/serial": "1" } }),
  ], [pod("holder", { nodeName: "taken", ...serial("1") })]);
  const p = info("p", serial("1"));
  const state = devices.prepare!(p, c)!;
  assert.equal(devices.filter!(p, c.node("one")!, state), undefined);
  assert.equal(devices.filter!(p, c.node("plain")!, state), "node(s) had no serial device");
  assert.equal(devices.filter!(p, c.node("taken")!, state), "node(s) had no free serial device");
  const two = info("two", serial("2"));
  assert.equal(
    devices.filter!(two, c.node("one")!, devices.prepare!(two, c)!),
    "node(s) had fewer than 2 serial devices",
  );
});

Deno.test("Devices skips pods that ask for no device", () => {
  assert.equal(devices.prepare!(info("p", { requests: { cpu: "1" } }), cluster([])), undefined);
  assert.deepEqual(requestedDevices(info("p", { requests: { "devices.skiff.dev/camera": "1" } })), [[
    "devices.skiff.dev/camera",
    1,
  ]]);
});
