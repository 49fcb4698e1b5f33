import assert from "node:assert/strict";
import { cluster, info, node, pod } from "../_testing.ts";
import { insufficientResources, nodeResourcesFit, REASON_TOO_MANY_PODS } from "./node_resources_fit.ts";

Deno.test("NodeResourcesFit counts what the node's pods already request", () => {
  const c = cluster([node("a", { cpu: "2", memory: "4Gi" })], [
    pod("old", { nodeName: "a", requests: { cpu: "1500m", memory: "1Gi" } }),
  ]);
  const a = c.node("a")!;
  assert.equal(
    nodeResourcesFit.filter!(info("fits", { requests: { cpu: "500m", memory: "3Gi" } }), a, undefined),
    undefined,
  );
  assert.deepEqual(
    nodeResourcesFit.filter!(info("big", { requests: { cpu: "501m", memory: "3073Mi" } }), a, undefined),
    ["Insufficient cpu", "Insufficient memory"],
  );
});

Deno.test("NodeResourcesFit refuses a node at its pod limit", () => {
  const c = cluster([node("a", { pods: 1 })], [pod("old", { nodeName: "a" })]);
  assert.equal(nodeResourcesFit.filter!(info("p"), c.node("a")!, undefined), REASON_TOO_MANY_PODS);
});

Deno.test("NodeResourcesFit checks ephemeral-storage and extended resources but leaves devices to Devices", () => {
  const c = cluster([node("a", { extra: { "ephemeral-storage": "10Gi", "example.com/dongle": "1" } })]);
  const a = c.node("a")!;
  assert.deepEqual(
    insufficientResources(
      info("p", {
        requests: { "ephemeral-storage": "11Gi", "example.com/dongle": "2", "devices.skiff.dev/serial": "1" },
      }),
      a,
    ),
    ["Insufficient ephemeral-storage", "Insufficient example.com/dongle"],
  );
  assert.equal(
    nodeResourcesFit.filter!(info("dev", { requests: { "devices.skiff.dev/serial": "1" } }), a, undefined),
    undefined,
  );
});

Deno.test("NodeResourcesFit frees what finished pods requested", () => {
  const done = pod("done", { nodeName: "a", requests: { memory: "8Gi" } });
  done.status = { phase: "Succeeded" };
  const c = cluster([node("a", { memory: "8Gi" })], [done]);
  assert.equal(
    nodeResourcesFit.filter!(info("p", { requests: { memory: "8Gi" } }), c.node("a")!, undefined),
    undefined,
  );
});
