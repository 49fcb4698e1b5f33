import assert from "node:assert/strict";
import { unschedulableMessage } from "./summary.ts";

Deno.test("unschedulableMessage() counts reasons per node and sorts them as kube-scheduler does", () => {
  const reasons = new Map([
    ["node too hot (81°C > 75°C)", 1],
    ["Insufficient memory", 2],
    ["node(s) were unschedulable", 1],
  ]);
  assert.equal(
    unschedulableMessage(4, reasons),
    "0/4 nodes are available: 1 node too hot (81°C > 75°C), 1 node(s) were unschedulable, 2 Insufficient memory.",
  );
});

Deno.test("unschedulableMessage() says nodes for a one-node reason given by several", () => {
  assert.equal(
    unschedulableMessage(2, new Map([["node too hot (90°C > 75°C)", 2]])),
    "0/2 nodes are available: 2 nodes too hot (90°C > 75°C).",
  );
  assert.equal(unschedulableMessage(0, new Map()), "0/0 nodes are available: no nodes are registered.");
});
