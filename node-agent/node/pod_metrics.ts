/**
 * A pod's `metrics.k8s.io/v1beta1` PodMetrics from the resource use of its
 * running containers, as metrics-server reports it: CPU as a rate over the
 * window since the previous sample, memory as the working set.
 *
 * @module
 */

import { type PodMetrics, Quantity } from "@skiff/api";

/** Resource use of one container. */
export interface ContainerUsageSample {
  /** The container's name. */
  name: string;
  /** When it was measured (ms since the epoch). */
  timestamp: number;
  /** CPU rate over the window, in millicores; absent on the first sample. */
  cpuMillicores?: number;
  /** The window of `cpuMillicores`, in ms. */
  windowMs?: number;
  /** Working set in bytes. */
  memoryWorkingSetBytes: number;
}

/** Resource use of one pod's running containers. */
export interface PodUsageSample {
  /** The pod's namespace. */
  namespace: string;
  /** The pod's name. */
  name: string;
  /** Its running containers. */
  containers: ContainerUsageSample[];
}

function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

function window(ms: number): string {
  const rounded = Math.round(ms);
  return rounded < 1000 ? `${rounded}ms` : `${Number((rounded / 1000).toFixed(3))}s`;
}

/**
 * The PodMetrics of a pod; `null` until a container has a CPU window (its
 * second sample). Containers without a window yet are left out.
 *
 * @example
 * ```ts
 * podMetrics({ namespace: "default", name: "web", containers: [
 *   { name: "app", timestamp: Date.now(), cpuMillicores: 12.5, windowMs: 15_000, memoryWorkingSetBytes: 4 << 20 },
 * ] });
 * // { kind: "PodMetrics", …, window: "15s", containers: [{ name: "app", usage: { cpu: "12500u", memory: "4Mi" } }] }
 * ```
 */
export function podMetrics(sample: PodUsageSample): PodMetrics | null {
  const measured = sample.containers.filter((c) => c.cpuMillicores !== undefined && c.windowMs !== undefined);
  if (measured.length === 0) return null;
  const latest = Math.max(...measured.map((c) => c.timestamp));
  const longest = Math.max(...measured.map((c) => c.windowMs!));
  return {
    apiVersion: "metrics.k8s.io/v1beta1",
    kind: "PodMetrics",
    metadata: { name: sample.name, namespace: sample.namespace, creationTimestamp: rfc3339(latest) },
    timestamp: rfc3339(latest),
    window: window(longest),
    containers: measured.map((c) => ({
      name: c.name,
      usage: {
        cpu: Quantity.fromNanos(BigInt(Math.round(c.cpuMillicores! * 1e6))).toString(),
        memory: Quantity.fromValue(c.memoryWorkingSetBytes, "BinarySI").toString(),
      },
    })),
  };
}
