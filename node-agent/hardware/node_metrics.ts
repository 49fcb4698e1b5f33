/**
 * The node's `metrics.k8s.io/v1beta1` NodeMetrics from its readings, as
 * metrics-server reports it: CPU in nanocores, memory working set in bytes
 * of binary units, over the window of the last CPU sample.
 *
 * @module
 */

import { type NodeMetrics, Quantity } from "@skiff/api";
import { goDuration, rfc3339 } from "./_format.ts";
import type { HardwareReadings } from "./readings.ts";

/** Options of {@linkcode nodeMetrics}. */
export interface NodeMetricsOptions {
  /** The node's name. */
  nodeName: string;
}

/**
 * The node's metrics, or `null` before CPU usage has a window (the first
 * CPU sample).
 *
 * @throws {TypeError} when `nodeName` is empty
 *
 * @example
 * ```ts
 * nodeMetrics(readings, { nodeName: "pi-4" });
 * // { kind: "NodeMetrics", metadata: { name: "pi-4" }, timestamp: "…", window: "5s",
 * //   usage: { cpu: "123456789n", memory: "1234568Ki" } }
 * ```
 */
export function nodeMetrics(
  readings: Pick<HardwareReadings, "cpu" | "memory">,
  options: NodeMetricsOptions,
): NodeMetrics | null {
  if (typeof options?.nodeName !== "string" || options.nodeName === "") {
    throw new TypeError('Invalid option "nodeName": must be the node\'s name');
  }
  const { cpu, memory } = readings;
  if (cpu.usage === null) return null;
  return {
    apiVersion: "metrics.k8s.io/v1beta1",
    kind: "NodeMetrics",
    metadata: { name: options.nodeName, creationTimestamp: rfc3339(cpu.sampledAt) },
    timestamp: rfc3339(cpu.sampledAt),
    window: goDuration(cpu.usage.windowMs),
    usage: {
      cpu: Quantity.fromNanos(BigInt(cpu.usage.nanocores)).toString(),
      memory: Quantity.fromValue(memory.workingSetBytes, "BinarySI").toString(),
    },
  };
}
