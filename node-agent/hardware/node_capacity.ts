/**
 * A node's `status.capacity` and `status.allocatable` from its readings:
 * CPU, memory, pods, ephemeral storage and host devices. Allocatable is
 * capacity minus the system reservation and minus the hard eviction margin,
 * as the kubelet computes it.
 *
 * @module
 */

import { DEVICE_RESOURCE_PREFIX } from "@skiff/api";
import { Quantity, type ResourceList } from "@skiff/api";
import { DEVICE_KINDS, type DeviceKind, type HardwareReadings } from "./readings.ts";
import { type PressureThresholds, resolveThresholds } from "./thresholds.ts";

export { DEVICE_RESOURCE_PREFIX };

/** The extended resource of a device kind: `devices.skiff.dev/<kind>`. */
export function deviceResourceName(kind: DeviceKind): string {
  return `${DEVICE_RESOURCE_PREFIX}${kind}`;
}

/** Pods a node takes unless told otherwise (the kubelet's `maxPods`). */
export const DEFAULT_MAX_PODS = 110;

/** Resources held back for the operating system and the agent (kubelet `--system-reserved`). */
export interface ResourceReservation {
  /** CPU, e.g. `100m`. */
  cpu?: string;
  /** Memory, e.g. `256Mi`. */
  memory?: string;
  /** Ephemeral storage, e.g. `1Gi`. */
  "ephemeral-storage"?: string;
}

/**
 * Skiff's default reservation: 100m CPU, 256Mi memory, 1Gi ephemeral
 * storage (the kubelet reserves nothing by default; a Raspberry Pi running
 * its OS and the agent beside pods needs this much).
 */
export const DEFAULT_SYSTEM_RESERVED: Readonly<Required<ResourceReservation>> = Object.freeze({
  cpu: "100m",
  memory: "256Mi",
  "ephemeral-storage": "1Gi",
});

/** Options of {@linkcode nodeCapacity}. */
export interface NodeCapacityOptions {
  /** Reservation; each resource given replaces its default in {@linkcode DEFAULT_SYSTEM_RESERVED}. */
  reserved?: ResourceReservation;
  /** Pods the node takes (default {@linkcode DEFAULT_MAX_PODS}). */
  maxPods?: number;
  /** Eviction thresholds whose memory and disk margins allocatable keeps (default {@linkcode DEFAULT_THRESHOLDS}). */
  thresholds?: Partial<PressureThresholds>;
}

/** A node's total and allocatable resources. */
export interface NodeResources {
  /** `status.capacity`. */
  capacity: ResourceList;
  /** `status.allocatable`. */
  allocatable: ResourceList;
}

function reservation(reserved: ResourceReservation, name: keyof ResourceReservation): Quantity {
  const value = reserved[name] ?? DEFAULT_SYSTEM_RESERVED[name];
  try {
    const quantity = Quantity.parse(value);
    if (quantity.sign() < 0) throw new RangeError("must not be negative");
    return quantity;
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new TypeError(`Invalid reserved "${name}": ${why}`, { cause: error });
  }
}

function atLeastZero(quantity: Quantity): string {
  return quantity.sign() < 0 ? "0" : quantity.toString();
}

/**
 * Capacity and allocatable of a node.
 *
 * @throws {TypeError} naming the resource when a reservation is not a valid non-negative quantity, or `maxPods` is not a positive integer
 *
 * @example
 * ```ts
 * const { capacity, allocatable } = nodeCapacity(readings);
 * capacity.cpu; // "4"
 * allocatable.cpu; // "3900m"
 * capacity["devices.skiff.dev/serial"]; // "1"
 * ```
 */
export function nodeCapacity(
  readings: Pick<HardwareReadings, "cpu" | "memory" | "disks" | "devices">,
  options: NodeCapacityOptions = {},
): NodeResources {
  const maxPods = options.maxPods ?? DEFAULT_MAX_PODS;
  if (!Number.isSafeInteger(maxPods) || maxPods < 1) {
    throw new TypeError(`Invalid option "maxPods": ${maxPods} is not a positive integer`);
  }
  const reserved = options.reserved ?? {};
  const thresholds = resolveThresholds(options.thresholds);
  const cpu = Quantity.fromValue(readings.cpu.cores);
  const memory = Quantity.fromValue(readings.memory.totalBytes, "BinarySI");
  const storage = Quantity.fromValue(readings.disks.capacityBytes, "BinarySI");
  const memoryMargin = Quantity.fromValue(Math.ceil(thresholds.memoryAvailableBytes), "BinarySI");
  const storageMargin = Quantity.fromValue(
    Math.ceil(readings.disks.capacityBytes * thresholds.diskAvailablePercent / 100),
    "BinarySI",
  );
  const pods = Quantity.fromValue(maxPods).toString();
  const capacity: ResourceList = {
    cpu: cpu.toString(),
    memory: memory.toString(),
    pods,
    "ephemeral-storage": storage.toString(),
  };
  const allocatable: ResourceList = {
    cpu: atLeastZero(cpu.sub(reservation(reserved, "cpu"))),
    memory: atLeastZero(memory.sub(reservation(reserved, "memory")).sub(memoryMargin)),
    pods,
    "ephemeral-storage": atLeastZero(storage.sub(reservation(reserved, "ephemeral-storage")).sub(storageMargin)),
  };
  for (const kind of DEVICE_KINDS) {
    const count = String(readings.devices.paths[kind].length);
    capacity[deviceResourceName(kind)] = count;
    allocatable[deviceResourceName(kind)] = count;
  }
  return { capacity, allocatable };
}
