/**
 * The Node object an agent registers and the status it reports, built from
 * the hardware readings; and {@linkcode statusChange}, which tells a change
 * worth reporting at once (a condition, capacity, addresses, system info)
 * from what changes on every reading (heartbeat times, usage figures,
 * condition messages quoting a temperature).
 *
 * @module
 */

import type { Condition, Node, NodeAddress, NodeStatus, ResourceList, Taint } from "@skiff/api";
import {
  type HardwareReadings,
  nodeCapacity,
  type NodeCapacityOptions,
  nodeConditions,
  nodeInfo,
  nodeLabels,
  type PressureThresholds,
  usageAnnotations,
} from "../hardware/mod.ts";

/** The port the agent serves logs and exec on, reported as `daemonEndpoints.kubeletEndpoint.Port`. */
export const AGENT_PORT = 10250;

/** What a node's status is made of besides the readings. */
export interface NodeStatusOptions {
  /** When, ms since the epoch (heartbeat times). */
  now: number;
  /** The conditions reported before, to keep their transition times. */
  previous?: readonly Condition[];
  /** InternalIP and Hostname. */
  addresses: NodeAddress[];
  /** E.g. `containerd://1.6.20`. */
  containerRuntimeVersion: string;
  /** Why the node cannot run pods yet (runtime down, no pod network): any makes Ready False. */
  notReadyReasons?: readonly string[];
  /** Pressure thresholds. */
  thresholds?: Partial<PressureThresholds>;
  /** Reservations and pod count for allocatable. */
  capacity?: Omit<NodeCapacityOptions, "thresholds">;
  /** The port the agent serves logs and exec on (default {@linkcode AGENT_PORT}). */
  agentPort?: number;
}

/**
 * The node's status: capacity, allocatable, conditions (with Skiff's
 * ThermalPressure), addresses, the agent's endpoint and system info.
 *
 * @example
 * ```ts
 * const status = nodeStatus(readings, {
 *   now: Date.now(),
 *   addresses: [{ type: "InternalIP", address: "192.168.1.41" }, { type: "Hostname", address: "pi-4" }],
 *   containerRuntimeVersion: "containerd://1.6.20",
 * });
 * ```
 */
export function nodeStatus(readings: HardwareReadings, options: NodeStatusOptions): NodeStatus {
  const { capacity, allocatable } = nodeCapacity(readings, {
    ...options.capacity,
    ...(options.thresholds ? { thresholds: options.thresholds } : {}),
  });
  return {
    capacity,
    allocatable,
    conditions: nodeConditions(readings, {
      now: options.now,
      ...(options.previous ? { previous: options.previous } : {}),
      ...(options.thresholds ? { thresholds: options.thresholds } : {}),
      notReadyReasons: options.notReadyReasons ?? [],
    }),
    addresses: options.addresses,
    daemonEndpoints: { kubeletEndpoint: { Port: options.agentPort ?? AGENT_PORT } },
    nodeInfo: nodeInfo(readings, { containerRuntimeVersion: options.containerRuntimeVersion }),
  };
}

/** Options of {@linkcode nodeObject}. */
export interface NodeObjectOptions extends NodeStatusOptions {
  /** The node's name (also its `kubernetes.io/hostname` label). */
  name: string;
  /** Labels given by the user; they win over hardware labels. */
  labels?: Record<string, string>;
  /** Taints given by the user. */
  taints?: Taint[];
}

/** The labels of a node: hardware labels, then the user's. */
export function nodeObjectLabels(
  readings: HardwareReadings,
  name: string,
  labels: Record<string, string> = {},
): Record<string, string> {
  return { ...nodeLabels(readings, name), ...labels };
}

/**
 * The Node to register: labels, usage annotations, taints and status.
 *
 * @throws {TypeError} when the name cannot be a `kubernetes.io/hostname` label value
 */
export function nodeObject(readings: HardwareReadings, options: NodeObjectOptions): Node {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: options.name,
      labels: nodeObjectLabels(readings, options.name, options.labels),
      annotations: usageAnnotations(readings),
    },
    spec: options.taints && options.taints.length > 0 ? { taints: options.taints } : {},
    status: nodeStatus(readings, options),
  };
}

function sameList(a: ResourceList | undefined, b: ResourceList | undefined): boolean {
  const left = Object.entries(a ?? {}).sort(([x], [y]) => x.localeCompare(y));
  const right = Object.entries(b ?? {}).sort(([x], [y]) => x.localeCompare(y));
  return JSON.stringify(left) === JSON.stringify(right);
}

/**
 * What changed between the status last reported and `next` that is worth
 * reporting before the next periodic report, in words (for the log); or
 * `undefined` when only heartbeat times, messages or usage changed.
 *
 * @example
 * ```ts
 * statusChange(reported, next); // 'condition ThermalPressure is now True (TemperatureHigh)'
 * ```
 */
export function statusChange(reported: NodeStatus | undefined, next: NodeStatus): string | undefined {
  if (!reported) return "first report";
  const changes: string[] = [];
  const before = new Map((reported.conditions ?? []).map((c) => [c.type, c]));
  for (const condition of next.conditions ?? []) {
    const old = before.get(condition.type);
    if (old?.status !== condition.status || old.reason !== condition.reason) {
      changes.push(`condition ${condition.type} is now ${condition.status} (${condition.reason ?? "no reason"})`);
    }
  }
  if (!sameList(reported.capacity, next.capacity)) changes.push("capacity changed");
  if (!sameList(reported.allocatable, next.allocatable)) changes.push("allocatable changed");
  if (JSON.stringify(reported.addresses ?? []) !== JSON.stringify(next.addresses ?? [])) {
    changes.push("addresses changed");
  }
  if (JSON.stringify(reported.nodeInfo ?? {}) !== JSON.stringify(next.nodeInfo ?? {})) {
    changes.push("system info changed");
  }
  return changes.length > 0 ? changes.join(", ") : undefined;
}

/**
 * A merge patch turning `current` into `next` for a string map (labels,
 * annotations, resources): keys of `next` that differ, and `null` for keys
 * in `current` listed in `owned` that `next` no longer has; `undefined`
 * when nothing differs.
 */
export function mapPatch(
  current: Readonly<Record<string, string>> | undefined,
  next: Readonly<Record<string, string>>,
  owned: Iterable<string> = [],
): Record<string, string | null> | undefined {
  const patch: Record<string, string | null> = {};
  for (const [key, value] of Object.entries(next)) if (current?.[key] !== value) patch[key] = value;
  for (const key of owned) if (current?.[key] !== undefined && !(key in next)) patch[key] = null;
  return Object.keys(patch).length > 0 ? patch : undefined;
}
