/**
 * Names Skiff's node agents and the scheduler agree on for live hardware
 * readings: node annotations, a node condition, the device resource prefix
 * and the pod annotation that pins an architecture.
 *
 * @module
 */

/** Node annotation: the hottest thermal zone, in °C, as the agent last read it (`"61.5"`). */
export const ANNOTATION_TEMPERATURE_CELSIUS = "hardware.skiff.dev/temperature-celsius";
/** Node annotation: `"true"` while the node is throttling its CPU (heat or undervoltage). */
export const ANNOTATION_THROTTLED = "hardware.skiff.dev/throttled";
/** Node annotation: measured CPU use, percent of the node's CPUs (`"37.2"`). */
export const ANNOTATION_CPU_USAGE_PERCENT = "hardware.skiff.dev/cpu-usage-percent";
/** Node annotation: measured memory working set, percent of the node's memory. */
export const ANNOTATION_MEMORY_USAGE_PERCENT = "hardware.skiff.dev/memory-usage-percent";
/** Node condition type: `True` while the node is too hot or throttled. */
export const CONDITION_THERMAL_PRESSURE = "ThermalPressure";
/** Extended resources for host devices: `devices.skiff.dev/serial`, `…/camera`, `…/gpio`. */
export const DEVICE_RESOURCE_PREFIX = "devices.skiff.dev/";
/** Pod annotation: the architecture(s) the pod's images run on, comma-separated (`arm64` or `amd64,arm64`). */
export const ANNOTATION_POD_ARCH = "skiff.dev/arch";
/** Nodes hotter than this (°C) receive no new pods unless configured otherwise. */
export const DEFAULT_MAX_TEMPERATURE_CELSIUS = 75;
