/**
 * Resource arithmetic for scheduling: what a pod requests (as Kubernetes
 * computes it: regular containers summed, init containers as a peak,
 * sidecars added, overhead on top) and what a node can allocate.
 *
 * @module
 */

import { type Container, type Pod, Quantity, type ResourceList } from "@skiff/api";

/** An amount of every schedulable resource except the pod count. */
export interface Resources {
  /** CPU in millicores. */
  milliCpu: number;
  /** Memory in bytes. */
  memory: number;
  /** Ephemeral storage in bytes. */
  ephemeralStorage: number;
  /** Extended resources (devices, hugepages) by name, in whole units; absent when none. */
  scalar?: Map<string, number>;
}

/** CPU a container without a CPU request counts as when scoring (kube-scheduler's default). */
export const DEFAULT_MILLI_CPU_REQUEST = 100;
/** Memory a container without a memory request counts as when scoring (kube-scheduler's default). */
export const DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024;

/** What a pod asks for. */
export interface PodRequests {
  /** Requests, as the fit check uses them. */
  requests: Resources;
  /** CPU with defaults for containers without a request, for scoring. */
  nonZeroMilliCpu: number;
  /** Memory with defaults for containers without a request, for scoring. */
  nonZeroMemory: number;
}

/** No resources. */
export function emptyResources(): Resources {
  return { milliCpu: 0, memory: 0, ephemeralStorage: 0 };
}

function amount(name: string, value: string | number | undefined): number {
  if (value === undefined || value === null) return 0;
  try {
    const q = Quantity.parse(value);
    return Number(name === "cpu" ? q.milliValue() : q.value());
  } catch {
    return 0;
  }
}

/** Adds a resource list to `into`; `pods` is not a resource here and is skipped. */
export function addResourceList(into: Resources, list: ResourceList | undefined, sign = 1): void {
  if (!list) return;
  for (const name in list) {
    const value = amount(name, list[name]) * sign;
    switch (name) {
      case "cpu":
        into.milliCpu += value;
        break;
      case "memory":
        into.memory += value;
        break;
      case "ephemeral-storage":
        into.ephemeralStorage += value;
        break;
      case "pods":
        break;
      default: {
        into.scalar ??= new Map();
        into.scalar.set(name, (into.scalar.get(name) ?? 0) + value);
      }
    }
  }
}

/** Adds `b` to `a` (times `sign`). */
export function addResources(a: Resources, b: Readonly<Resources>, sign = 1): void {
  a.milliCpu += b.milliCpu * sign;
  a.memory += b.memory * sign;
  a.ephemeralStorage += b.ephemeralStorage * sign;
  if (b.scalar) {
    a.scalar ??= new Map();
    for (const [name, value] of b.scalar) a.scalar.set(name, (a.scalar.get(name) ?? 0) + value * sign);
  }
}

function maxInto(a: Resources, b: Readonly<Resources>): void {
  a.milliCpu = Math.max(a.milliCpu, b.milliCpu);
  a.memory = Math.max(a.memory, b.memory);
  a.ephemeralStorage = Math.max(a.ephemeralStorage, b.ephemeralStorage);
  if (b.scalar) {
    a.scalar ??= new Map();
    for (const [name, value] of b.scalar) a.scalar.set(name, Math.max(a.scalar.get(name) ?? 0, value));
  }
}

function containerRequests(c: Container): { req: Resources; nonZeroCpu: number; nonZeroMemory: number } {
  const req = emptyResources();
  addResourceList(req, c.resources?.requests);
  return {
    req,
    nonZeroCpu: req.milliCpu || DEFAULT_MILLI_CPU_REQUEST,
    nonZeroMemory: req.memory || DEFAULT_MEMORY_REQUEST,
  };
}

/**
 * A pod's requests: the sum of its containers and sidecars, or the largest
 * init container (with the sidecars started before it) if that is more,
 * plus the pod overhead.
 */
export function podRequests(pod: Pod): PodRequests {
  const spec = pod.spec;
  const requests = emptyResources();
  let nonZeroMilliCpu = 0;
  let nonZeroMemory = 0;
  for (const c of spec?.containers ?? []) {
    const r = containerRequests(c);
    addResources(requests, r.req);
    nonZeroMilliCpu += r.nonZeroCpu;
    nonZeroMemory += r.nonZeroMemory;
  }
  const sidecars = emptyResources();
  const initPeak = emptyResources();
  let sidecarCpu = 0;
  let sidecarMemory = 0;
  let initPeakCpu = 0;
  let initPeakMemory = 0;
  for (const c of spec?.initContainers ?? []) {
    const r = containerRequests(c);
    if (c.restartPolicy === "Always") {
      addResources(requests, r.req);
      nonZeroMilliCpu += r.nonZeroCpu;
      nonZeroMemory += r.nonZeroMemory;
      addResources(sidecars, r.req);
      sidecarCpu += r.nonZeroCpu;
      sidecarMemory += r.nonZeroMemory;
      maxInto(initPeak, sidecars);
      initPeakCpu = Math.max(initPeakCpu, sidecarCpu);
      initPeakMemory = Math.max(initPeakMemory, sidecarMemory);
    } else {
      const withSidecars = emptyResources();
      addResources(withSidecars, r.req);
      addResources(withSidecars, sidecars);
      maxInto(initPeak, withSidecars);
      initPeakCpu = Math.max(initPeakCpu, r.nonZeroCpu + sidecarCpu);
      initPeakMemory = Math.max(initPeakMemory, r.nonZeroMemory + sidecarMemory);
    }
  }
  maxInto(requests, initPeak);
  nonZeroMilliCpu = Math.max(nonZeroMilliCpu, initPeakCpu);
  nonZeroMemory = Math.max(nonZeroMemory, initPeakMemory);
  if (spec?.overhead) {
    addResourceList(requests, spec.overhead);
    const overhead = emptyResources();
    addResourceList(overhead, spec.overhead);
    nonZeroMilliCpu += overhead.milliCpu;
    nonZeroMemory += overhead.memory;
  }
  return { requests, nonZeroMilliCpu, nonZeroMemory };
}

/** What a node can give to pods: `status.allocatable` (or capacity), and how many pods it takes. */
export function nodeAllocatable(
  status: { allocatable?: ResourceList; capacity?: ResourceList } | undefined,
): { resources: Resources; pods: number } {
  const list = status?.allocatable ?? status?.capacity;
  const resources = emptyResources();
  addResourceList(resources, list);
  return { resources, pods: amount("pods", list?.pods) };
}
