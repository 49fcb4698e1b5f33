import assert from "node:assert/strict";
import type { NodeStatus } from "@skiff/api";
import { mapPatch, statusChange } from "./node_status.ts";

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
