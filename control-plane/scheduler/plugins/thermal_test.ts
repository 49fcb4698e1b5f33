import assert from "node:assert/strict";
import { cluster, info, node } from "../_testing.ts";
import {
  coolnessScore,
  REASON_THERMAL_PRESSURE,
  REASON_THROTTLED,
  thermal,
  thermalReading,
  tooHotReason,
} from "./thermal.ts";

const hot = (celsius: string, extra: Record<string, string> = {}) => ({
  annotations: { "hardware.skiff.dev/temperature-celsius": celsius, ...extra },
});
const c = cluster([
  node("cool", hot("42")),
  node("hot", hot("81")),
  node("edge", hot("75")),
  node("throttled", hot("60", { "hardware.skiff.dev/throttled": "true" })),
  node("pressure", { conditions: [{ type: "ThermalPressure", status: "True" }] }),
  node("silent"),
]);
const plugin = thermal({ maxTemperatureCelsius: 75 });

Deno.test("Thermal refuses nodes above the threshold, throttling, or under thermal pressure", () => {
  const p = info("p");
  const state = plugin.prepare!(p, c)!;
  const verdict = (name: string) => plugin.filter!(p, c.node(name)!, state);
  assert.equal(verdict("cool"), undefined);
  assert.equal(verdict("edge"), undefined);
  assert.equal(verdict("hot"), "node too hot (81°C > 75°C)");
  assert.equal(verdict("throttled"), REASON_THROTTLED);
  assert.equal(verdict("pressure"), REASON_THERMAL_PRESSURE);
  assert.equal(verdict("silent"), undefined);
});

Deno.test("Thermal lets pods tolerating the thermal-pressure taint onto hot nodes", () => {
  const p = info("monitor", {
    spec: { tolerations: [{ key: "node.skiff.dev/thermal-pressure", operator: "Exists", effect: "NoSchedule" }] },
  });
  assert.equal(plugin.filter!(p, c.node("hot")!, plugin.prepare!(p, c)!), undefined);
});

Deno.test("Thermal prefers cooler nodes and is neutral about nodes that report nothing", () => {
  const p = info("p");
  const state = plugin.prepare!(p, c)!;
  const cool = plugin.score!(p, c.node("cool")!, state);
  const edge = plugin.score!(p, c.node("edge")!, state);
  assert.ok(cool > edge, `${cool} > ${edge}`);
  assert.equal(edge, 0);
  assert.equal(plugin.score!(p, c.node("silent")!, state), 50);
  assert.equal(coolnessScore(10, 75), 100);
  assert.equal(tooHotReason(80.25, 75), "node too hot (80.3°C > 75°C)");
  assert.equal(thermalReading(node("x", hot("not a number"))).temperatureCelsius, undefined);
});
