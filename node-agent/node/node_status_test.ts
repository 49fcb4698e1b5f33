import assert from "node:assert/strict";
import type { Node, NodeStatus } from "@skiff/api";
import { HardwareMonitor } from "../hardware/mod.ts";
import { machineFixture, startTestPlane } from "./_testing.ts";
import { NodeHeartbeat } from "./heartbeat.ts";
import { nodeAddresses } from "./node_address.ts";
import { mapPatch, nodeObject, statusChange } from "./node_status.ts";
import { registerNode } from "./registration.ts";

const status = (thermal: "True" | "False", message: string, memory = "8Gi"): NodeStatus => ({
  capacity: { cpu: "4", memory },
  conditions: [
    {
      type: "ThermalPressure",
      status: thermal,
      reason: thermal === "True" ? "TemperatureHigh" : "TemperatureNormal",
      message,
    },
    { type: "Ready", status: "True", reason: "KubeletReady", lastHeartbeatTime: message },
  ],
  addresses: [{ type: "InternalIP", address: "192.168.1.41" }],
});

Deno.test("statusChange() ignores heartbeat times and messages, and names a condition or capacity that changed", () => {
  assert.equal(statusChange(undefined, status("False", "45.0°C")), "first report");
  assert.equal(statusChange(status("False", "45.0°C"), status("False", "46.2°C")), undefined);
  assert.equal(
    statusChange(status("False", "45.0°C"), status("True", "81.5°C")),
    "condition ThermalPressure is now True (TemperatureHigh)",
  );
  assert.equal(statusChange(status("False", "a"), status("False", "a", "4Gi")), "capacity changed");
});

Deno.test("mapPatch() sets what differs and removes owned keys that are gone", () => {
  assert.equal(mapPatch({ a: "1" }, { a: "1" }), undefined);
  assert.deepEqual(mapPatch({ a: "1", b: "2", c: "3" }, { a: "9" }, ["b"]), { a: "9", b: null });
  assert.deepEqual(mapPatch(undefined, { a: "1" }), { a: "1" });
});

Deno.test("statusChange() names an ExternalIP added or removed as an address change", () => {
  const before = status("False", "a");
  const after: NodeStatus = {
    ...before,
    addresses: nodeAddresses("192.168.1.41", "pi-4", { externalIp: "203.0.113.7" }),
  };
  const plain: NodeStatus = { ...before, addresses: nodeAddresses("192.168.1.41", "pi-4") };
  assert.equal(statusChange(plain, after), "addresses changed");
  assert.equal(statusChange(after, plain), "addresses changed");
  assert.equal(statusChange(after, { ...after }), undefined);
});

Deno.test("nodeObject() and NodeHeartbeat report a configured ExternalIP in status.addresses, and put it back when overwritten", async () => {
  await using t = await startTestPlane();
  await using fixture = machineFixture("pi4");
  const monitor = new HardwareMonitor({ dataDir: t.dir, clock: t.clock, onError: () => {}, ...fixture.hardware });
  const readings = await monitor.start();
  try {
    const client = t.clientWithToken(await t.nodeToken("pi-4"));
    const addresses = nodeAddresses("192.168.1.41", "pi-4", { externalIp: "203.0.113.7" });
    const desired = nodeObject(readings, {
      name: "pi-4",
      now: t.clock.now(),
      addresses,
      containerRuntimeVersion: "fake://0.1.0",
    });
    assert.deepEqual(desired.status?.addresses, addresses);
    const { node } = await registerNode(client, desired);
    const expected = [
      { type: "InternalIP", address: "192.168.1.41" },
      { type: "ExternalIP", address: "203.0.113.7" },
      { type: "Hostname", address: "pi-4" },
    ];
    assert.deepEqual(node.status?.addresses, expected);

    const heartbeat = new NodeHeartbeat({
      client,
      node,
      monitor,
      addresses,
      containerRuntimeVersion: "fake://0.1.0",
      clock: t.clock,
      log: () => {},
    });
    await heartbeat.start();
    try {
      assert.deepEqual((await t.node("pi-4")).status?.addresses, expected);
      await t.admin.kind<Node>("v1", "Node").patch("pi-4", {
        status: { addresses: [{ type: "InternalIP", address: "192.168.1.41" }] },
      }, { subresource: "status" });
      await heartbeat.report();
      assert.deepEqual((await t.node("pi-4")).status?.addresses, expected);
    } finally {
      await heartbeat.stop();
    }
  } finally {
    monitor.stop();
  }
});
