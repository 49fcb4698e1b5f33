/**
 * The node agent's hardware part: one fingerprinter per area (CPU, memory,
 * thermal, disks, network, board, devices, PIDs), each reading procfs,
 * sysfs and /dev directly on its own period, composed by
 * {@linkcode HardwareMonitor}; and pure functions turning the readings into
 * what the node reports: capacity and allocatable, labels, conditions,
 * system info, usage annotations and NodeMetrics.
 *
 * systeminformation is used only to list network interfaces, which is slow
 * (about 400 ms) and done rarely. The only command run is
 * `vcgencmd get_throttled`, on machines that have it.
 *
 * @example
 * ```ts
 * import { HardwareMonitor, nodeCapacity, nodeConditions, nodeLabels, nodeMetrics } from "./mod.ts";
 *
 * const monitor = new HardwareMonitor({ dataDir: "/var/lib/skiff" });
 * const readings = await monitor.start();
 * const { capacity, allocatable } = nodeCapacity(readings);
 * const labels = nodeLabels(readings, Deno.hostname());
 * const conditions = nodeConditions(readings, { now: Date.now() });
 * monitor.onUpdate((_area, latest) => {
 *   const metrics = nodeMetrics(latest, { nodeName: "pi-4" });
 *   if (metrics) console.log(metrics.usage);
 * });
 * ```
 *
 * @module
 */

export * from "./readings.ts";
export {
  CHEAP_AREAS,
  type HardwareListener,
  HardwareMonitor,
  type HardwareMonitorOptions,
  type RefreshOptions,
} from "./hardware_monitor.ts";
export { CPU_PERIOD_MS, cpuFingerprinter, type CpuFingerprinterOptions, kubernetesArch } from "./cpu.ts";
export { MEMORY_PERIOD_MS, memoryFingerprinter, type MemoryFingerprinterOptions } from "./memory.ts";
export {
  describeThrottling,
  isThrottled,
  parseThrottled,
  THERMAL_PERIOD_MS,
  thermalFingerprinter,
  type ThermalFingerprinterOptions,
} from "./thermal.ts";
export { DISKS_PERIOD_MS, disksFingerprinter, type DisksFingerprinterOptions } from "./disks.ts";
export {
  type ListInterfaces,
  NETWORK_INTERFACES_PERIOD_MS,
  NETWORK_PERIOD_MS,
  networkFingerprinter,
  type NetworkFingerprinterOptions,
  systemInterfaces,
} from "./network.ts";
export { BOARD_PERIOD_MS, boardFingerprinter, type BoardFingerprinterOptions } from "./board.ts";
export { DEVICES_PERIOD_MS, devicesFingerprinter, type DevicesFingerprinterOptions } from "./devices.ts";
export { PIDS_PERIOD_MS, pidsFingerprinter, type PidsFingerprinterOptions } from "./pids.ts";
export { DEFAULT_THRESHOLDS, type PressureThresholds, resolveThresholds } from "./thresholds.ts";
export {
  DEFAULT_MAX_PODS,
  DEFAULT_SYSTEM_RESERVED,
  DEVICE_RESOURCE_PREFIX,
  deviceResourceName,
  nodeCapacity,
  type NodeCapacityOptions,
  type NodeResources,
  type ResourceReservation,
} from "./node_capacity.ts";
export {
  boardLabelValue,
  LABEL_BOARD,
  LABEL_CPU_CORES,
  LABEL_CPU_MODEL,
  LABEL_CPU_VENDOR,
  LABEL_KERNEL_VERSION,
  LABEL_OS_RELEASE,
  LABEL_STORAGE_NONROTATIONAL,
  nodeLabels,
} from "./node_labels.ts";
export { CONDITION_THERMAL_PRESSURE, nodeConditions, type NodeConditionsOptions } from "./node_conditions.ts";
export { KUBELET_VERSION, nodeInfo, type NodeInfoOptions } from "./node_info.ts";
export {
  ANNOTATION_CPU_USAGE,
  ANNOTATION_DISK_USAGE,
  ANNOTATION_MEMORY_USAGE,
  ANNOTATION_NETWORK_RX,
  ANNOTATION_NETWORK_TX,
  ANNOTATION_TEMPERATURE,
  ANNOTATION_THROTTLED,
  USAGE_ANNOTATIONS,
  usageAnnotations,
} from "./usage_annotations.ts";
export { nodeMetrics, type NodeMetricsOptions } from "./node_metrics.ts";
