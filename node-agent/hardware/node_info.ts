/**
 * A node's `status.nodeInfo` from its readings.
 *
 * @module
 */

import type { NodeSystemInfo } from "@skiff/api";
import type { HardwareReadings } from "./readings.ts";

/** The version the agent reports as `kubeletVersion`: the Kubernetes API it follows, marked as Skiff. */
export const KUBELET_VERSION = "v1.32.0-skiff";

/** Options of {@linkcode nodeInfo}. */
export interface NodeInfoOptions {
  /** E.g. `containerd://1.6.20` (default empty: the caller knows its runtime). */
  containerRuntimeVersion?: string;
}

/**
 * The node's system info.
 *
 * @example
 * ```ts
 * nodeInfo(readings, { containerRuntimeVersion: "containerd://1.6.20" }).osImage;
 * // "Debian GNU/Linux 12 (bookworm)"
 * ```
 */
export function nodeInfo(
  readings: Pick<HardwareReadings, "cpu" | "board">,
  options: NodeInfoOptions = {},
): NodeSystemInfo {
  const { cpu, board } = readings;
  return {
    machineID: board.machineId,
    systemUUID: board.systemUuid,
    bootID: board.bootId,
    kernelVersion: board.kernelVersion,
    osImage: board.osRelease.prettyName,
    containerRuntimeVersion: options.containerRuntimeVersion ?? "",
    kubeletVersion: KUBELET_VERSION,
    kubeProxyVersion: "",
    operatingSystem: board.operatingSystem,
    architecture: cpu.arch,
  };
}
