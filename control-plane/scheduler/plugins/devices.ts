/**
 * Devices: a pod asking for host devices as extended resources
 * (`devices.skiff.dev/serial: 1`, `…/camera`, `…/gpio`) lands only on a
 * node whose agent reports that many in `status.allocatable`, counting
 * what the node's pods already hold.
 *
 * @module
 */

import { DEVICE_RESOURCE_PREFIX } from "@skiff/api";
import type { NodeInfo, Plugin, PodInfo } from "../framework.ts";

/** The plugin's name. */
export const DEVICES = "Devices";

/** The device resources a pod asks for, with their counts; empty when none. */
export function requestedDevices(pod: PodInfo): [string, number][] {
  const out: [string, number][] = [];
  for (const [name, count] of pod.requests.scalar ?? []) {
    if (count > 0 && name.startsWith(DEVICE_RESOURCE_PREFIX)) out.push([name, count]);
  }
  return out;
}

/** Why the node cannot give `count` of device resource `name`, or undefined when it can. */
export function deviceShortage(node: NodeInfo, name: string, count: number): string | undefined {
  const kind = name.slice(DEVICE_RESOURCE_PREFIX.length);
  const have = node.allocatable.scalar?.get(name) ?? 0;
  if (have <= 0) return `node(s) had no ${kind} device`;
  if (have < count) return `node(s) had fewer than ${count} ${kind} devices`;
  const used = node.requested.scalar?.get(name) ?? 0;
  return have - used < count ? `node(s) had no free ${kind} device` : undefined;
}

/** The plugin. */
export const devices: Plugin<[string, number][]> = {
  name: DEVICES,
  prepare(pod) {
    const wanted = requestedDevices(pod);
    return wanted.length > 0 ? wanted : undefined;
  },
  filter(_pod, node, wanted) {
    for (const [name, count] of wanted) {
      const reason = deviceShortage(node, name, count);
      if (reason) return reason;
    }
    return undefined;
  },
};
