/**
 * Pure checks of CSI arguments for csi-local: volume capabilities, capacity
 * ranges, names, topology. Each failure is an {@linkcode RpcError} with the
 * status code the CSI specification assigns and a message naming the field.
 *
 * @module
 */

import { status } from "@grpc/grpc-js";
import type {
  AccessModeName,
  CapacityRange,
  EnumValue,
  StringMap,
  Topology,
  TopologyRequirement,
  VolumeCapability,
} from "./csi_types.ts";
import { invalidField, missingField, RpcError } from "./_rpc_error.ts";

/** The driver name csi-local reports in GetPluginInfo. */
export const DRIVER_NAME = "local.csi.skiff.dev";

/** Topology key whose segment is the node a volume lives on. */
export const TOPOLOGY_KEY = "topology.local.csi.skiff.dev/node";

/** Key of the volume context entry naming how a volume is stored. */
export const KIND_CONTEXT_KEY = "local.csi.skiff.dev/kind";

/**
 * How a volume is stored: a plain directory (no size limit) or an ext4
 * image file loop-mounted while published (the size is a hard limit).
 */
export type VolumeKind = "directory" | "ext4-image";

/** Volume sizes are whole filesystem blocks. */
export const BLOCK_BYTES = 4096;

/** Smallest ext4 image csi-local makes. */
export const MIN_IMAGE_BYTES = 8 * 1024 * 1024;

/** Size given to a volume whose request names no size. */
export const DEFAULT_CAPACITY_BYTES = 1024 * 1024 * 1024;

/** Longest volume name, in UTF-8 bytes (the CSI string size limit). */
export const MAX_NAME_BYTES = 128;

/** Per-mount flags that a bind remount applies; the only ones accepted. */
export const SUPPORTED_MOUNT_FLAGS: readonly string[] = [
  "ro",
  "rw",
  "nosuid",
  "nodev",
  "noexec",
  "noatime",
  "nodiratime",
  "relatime",
  "strictatime",
];

const MULTI_NODE_MODES: readonly string[] = [
  "MULTI_NODE_READER_ONLY",
  "MULTI_NODE_SINGLE_WRITER",
  "MULTI_NODE_MULTI_WRITER",
];

const SINGLE_NODE_MODES: readonly string[] = [
  "SINGLE_NODE_WRITER",
  "SINGLE_NODE_READER_ONLY",
  "SINGLE_NODE_SINGLE_WRITER",
  "SINGLE_NODE_MULTI_WRITER",
];

/** The `fs_type` values a volume of `kind` accepts. */
export function supportedFsTypes(kind: VolumeKind): readonly string[] {
  return kind === "ext4-image" ? ["", "ext4"] : [""];
}

/** The smallest volume of `kind`. */
export function minimumBytes(kind: VolumeKind): number {
  return kind === "ext4-image" ? MIN_IMAGE_BYTES : BLOCK_BYTES;
}

/** Where a capability was found and what kind of volume it is for. */
export interface CapabilityCheckOptions {
  /** The request field holding it, for error messages. */
  field: string;
  /** The kind of volume that must honour it. */
  kind: VolumeKind;
}

/** A capability that passed {@linkcode checkCapability}. */
export interface CheckedCapability {
  /** The access mode's name. */
  mode: AccessModeName;
  /** `fs_type`, empty for the default. */
  fsType: string;
  /** Mount flags as given. */
  mountFlags: string[];
}

/**
 * Checks one volume capability. A malformed capability (no access mode, no
 * access type) throws INVALID_ARGUMENT naming `field`; a well-formed one
 * that volumes of `kind` cannot honour returns the reason as a string.
 */
export function checkCapability(
  capability: VolumeCapability | null | undefined,
  { field, kind }: CapabilityCheckOptions,
): CheckedCapability | string {
  if (!capability) throw missingField(field);
  const mode: EnumValue<AccessModeName> | undefined = capability.accessMode
    ?.mode;
  if (!capability.accessMode) throw missingField(`${field}.access_mode`);
  if (mode === undefined || mode === "UNKNOWN" || mode === 0) {
    throw invalidField(`${field}.access_mode.mode`, "the mode must be set");
  }
  const accessType = capability.accessType ??
    (capability.mount ? "mount" : capability.block ? "block" : undefined);
  if (accessType === undefined) {
    throw missingField(`${field}.access_type`);
  }
  if (typeof mode === "number") {
    return `access mode ${mode} is not known to csi-local`;
  }
  if (MULTI_NODE_MODES.includes(mode)) {
    return `access mode ${mode} is not supported: a csi-local volume lives on one node`;
  }
  if (!SINGLE_NODE_MODES.includes(mode)) {
    return `access mode ${mode} is not supported`;
  }
  if (accessType === "block") {
    return "block access is not supported: csi-local volumes are filesystems";
  }
  const mount = capability.mount ?? {};
  const fsType = mount.fsType ?? "";
  const fsTypes = supportedFsTypes(kind);
  if (!fsTypes.includes(fsType)) {
    return `fs_type "${fsType}" is not supported by ${kind} volumes (supported: ${
      fsTypes.map((type) => `"${type}"`).join(", ")
    })`;
  }
  if (mount.volumeMountGroup) {
    return "volume_mount_group is not supported";
  }
  const mountFlags = mount.mountFlags ?? [];
  const flagBytes = new TextEncoder().encode(mountFlags.join("")).length;
  if (flagBytes > 4096) {
    throw invalidField(
      `${field}.mount.mount_flags`,
      `${flagBytes} bytes exceed the 4 KiB limit`,
    );
  }
  for (const flag of mountFlags) {
    if (!SUPPORTED_MOUNT_FLAGS.includes(flag)) {
      return `mount flag "${flag}" is not supported (supported: ${SUPPORTED_MOUNT_FLAGS.join(", ")})`;
    }
  }
  return { mode, fsType, mountFlags };
}

/**
 * Checks every capability of a REQUIRED repeated field, throwing
 * INVALID_ARGUMENT when the list is empty or one is malformed. Returns the
 * first reason a capability is unsupported, or the checked capabilities.
 */
export function checkCapabilities(
  capabilities: readonly VolumeCapability[] | undefined,
  { field, kind }: CapabilityCheckOptions,
): CheckedCapability[] | string {
  if (!capabilities || capabilities.length === 0) throw missingField(field);
  const checked: CheckedCapability[] = [];
  let unsupported: string | undefined;
  capabilities.forEach((capability, index) => {
    const result = checkCapability(capability, {
      field: `${field}[${index}]`,
      kind,
    });
    if (typeof result === "string") unsupported ??= result;
    else checked.push(result);
  });
  return unsupported ?? checked;
}

/** The per-mount flags and read-only state of a publication. */
export interface PublishFlags {
  /** True when the mount is read-only. */
  readonly: boolean;
  /** Flags for `mount -o remount,bind,...`: `ro` or `rw` first. */
  flags: string[];
}

/**
 * Resolves what a NodePublishVolume asks for: read-only when `readonly` is
 * set, the access mode is a reader-only one, or the flags say `ro`.
 */
export function publishFlags(
  readonly: boolean,
  capability: CheckedCapability,
): PublishFlags {
  const ro = readonly || capability.mode.endsWith("READER_ONLY") ||
    capability.mountFlags.includes("ro");
  const rest = capability.mountFlags.filter((flag) => flag !== "ro" && flag !== "rw");
  return { readonly: ro, flags: [ro ? "ro" : "rw", ...new Set(rest)] };
}

/**
 * Checks a volume name: REQUIRED, at most 128 UTF-8 bytes, no control
 * characters other than common whitespace.
 */
export function checkName(name: string | undefined): string {
  if (!name) throw missingField("name");
  const bytes = new TextEncoder().encode(name).length;
  if (bytes > MAX_NAME_BYTES) {
    throw invalidField(
      "name",
      `${bytes} bytes exceed the ${MAX_NAME_BYTES} byte limit`,
    );
  }
  for (const char of name) {
    const code = char.codePointAt(0) ?? 0;
    const banned = code <= 0x08 || code === 0x0b || code === 0x0c ||
      (code >= 0x0e && code <= 0x1f) || (code >= 0x7f && code <= 0x9f);
    if (banned) {
      throw invalidField(
        "name",
        `control character U+${code.toString(16).toUpperCase().padStart(4, "0")} is not allowed`,
      );
    }
  }
  return name;
}

/** Rejects every parameter: csi-local takes none. */
export function checkParameters(
  parameters: StringMap | undefined,
  field = "parameters",
): void {
  const keys = Object.keys(parameters ?? {});
  if (keys.length > 0) {
    throw invalidField(
      field,
      `unknown key "${keys[0]}": csi-local takes no parameters`,
    );
  }
}

/**
 * The size of a new volume of `kind` for `range`: the request, or 1 GiB
 * when none is given, at least the kind's minimum, rounded up to whole
 * blocks unless that would pass `limit_bytes`.
 *
 * @throws {RpcError} INVALID_ARGUMENT for negative bounds, OUT_OF_RANGE
 * when no size satisfies the range or the filesystem lacks `freeBytes`.
 */
export function resolveCapacity(
  range: CapacityRange | null | undefined,
  { kind, freeBytes }: { kind: VolumeKind; freeBytes: number },
): number {
  const required = range?.requiredBytes ?? 0;
  const limit = range?.limitBytes ?? 0;
  if (required < 0) {
    throw invalidField(
      "capacity_range.required_bytes",
      `${required} is negative`,
    );
  }
  if (limit < 0) {
    throw invalidField("capacity_range.limit_bytes", `${limit} is negative`);
  }
  if (limit > 0 && required > limit) {
    throw new RpcError(
      status.OUT_OF_RANGE,
      `Cannot satisfy capacity_range: required_bytes ${required} exceeds limit_bytes ${limit}`,
    );
  }
  const minimum = minimumBytes(kind);
  const base = Math.max(
    required > 0 ? required : limit > 0 ? Math.min(DEFAULT_CAPACITY_BYTES, limit) : DEFAULT_CAPACITY_BYTES,
    minimum,
  );
  if (limit > 0 && base > limit) {
    throw new RpcError(
      status.OUT_OF_RANGE,
      `Cannot satisfy capacity_range: limit_bytes ${limit} is below the smallest ${kind} volume (${minimum} bytes)`,
    );
  }
  const rounded = roundUp(base, BLOCK_BYTES);
  const size = limit > 0 && rounded > limit ? base : rounded;
  if (size > freeBytes) {
    throw new RpcError(
      status.OUT_OF_RANGE,
      `Cannot satisfy capacity_range: ${size} bytes requested but the data directory's filesystem has ${freeBytes} bytes free`,
    );
  }
  return size;
}

/** True when an existing volume of `capacityBytes` satisfies `range`. */
export function capacityFits(
  capacityBytes: number,
  range: CapacityRange | null | undefined,
): boolean {
  const required = range?.requiredBytes ?? 0;
  const limit = range?.limitBytes ?? 0;
  return capacityBytes >= required && (limit <= 0 || capacityBytes <= limit);
}

/** The topology of node `nodeId`. */
export function nodeTopology(nodeId: string): Topology {
  return { segments: { [TOPOLOGY_KEY]: nodeId } };
}

/** True when `topology` names node `nodeId`. */
export function topologyMatches(
  topology: Topology | null | undefined,
  nodeId: string,
): boolean {
  return topology?.segments?.[TOPOLOGY_KEY] === nodeId;
}

/**
 * Checks that a volume on node `nodeId` meets `requirement`: when
 * `requisite` is given, one of its topologies must name this node.
 *
 * @throws {RpcError} RESOURCE_EXHAUSTED when it cannot.
 */
export function checkAccessibility(
  requirement: TopologyRequirement | null | undefined,
  nodeId: string,
): void {
  const requisite = requirement?.requisite ?? [];
  if (requisite.length === 0) return;
  if (requisite.some((topology) => topologyMatches(topology, nodeId))) return;
  const asked = requisite.map((topology) => JSON.stringify(topology.segments ?? {})).join(", ");
  throw new RpcError(
    status.RESOURCE_EXHAUSTED,
    `Cannot provision in accessibility_requirements.requisite ${asked}: csi-local provisions only on its own node, ${
      JSON.stringify({ [TOPOLOGY_KEY]: nodeId })
    }`,
  );
}

/** Checks a node id: a valid topology segment value (at most 63 chars). */
export function checkNodeId(nodeId: string): string {
  if (!/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(nodeId)) {
    throw new TypeError(
      `Invalid node id "${nodeId}": use 1 to 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit`,
    );
  }
  return nodeId;
}

function roundUp(value: number, unit: number): number {
  return Math.ceil(value / unit) * unit;
}
