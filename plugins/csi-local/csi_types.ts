/**
 * TypeScript shapes of the CSI v1 messages in `csi.proto`, as
 * `@grpc/proto-loader` decodes and encodes them with {@linkcode
 * CSI_LOADER_OPTIONS}: field names in lowerCamelCase, int64 as `number`,
 * enums as their names, a virtual field naming the chosen member of each
 * `oneof`. Every field is optional, because proto3 omits default values on
 * the wire and a peer may be any CSI plugin or CO.
 *
 * {@linkcode CsiRpc} is the promise-shaped surface of every RPC that Skiff
 * speaks; the agent's CSI client implements it, and the conformance suite
 * drives any plugin through it.
 *
 * @module
 */

/** String to string map (`map<string, string>`). */
export type StringMap = Record<string, string>;

/** `VolumeCapability.AccessMode.Mode`. */
export type AccessModeName =
  | "UNKNOWN"
  | "SINGLE_NODE_WRITER"
  | "SINGLE_NODE_READER_ONLY"
  | "MULTI_NODE_READER_ONLY"
  | "MULTI_NODE_SINGLE_WRITER"
  | "MULTI_NODE_MULTI_WRITER"
  | "SINGLE_NODE_SINGLE_WRITER"
  | "SINGLE_NODE_MULTI_WRITER";

/** `PluginCapability.Service.Type`. */
export type PluginServiceCapabilityName =
  | "UNKNOWN"
  | "CONTROLLER_SERVICE"
  | "VOLUME_ACCESSIBILITY_CONSTRAINTS";

/** `PluginCapability.VolumeExpansion.Type`. */
export type VolumeExpansionName = "UNKNOWN" | "ONLINE" | "OFFLINE";

/** `ControllerServiceCapability.RPC.Type`. */
export type ControllerCapabilityName =
  | "UNKNOWN"
  | "CREATE_DELETE_VOLUME"
  | "PUBLISH_UNPUBLISH_VOLUME"
  | "LIST_VOLUMES"
  | "GET_CAPACITY"
  | "CREATE_DELETE_SNAPSHOT"
  | "LIST_SNAPSHOTS"
  | "CLONE_VOLUME"
  | "PUBLISH_READONLY"
  | "EXPAND_VOLUME"
  | "LIST_VOLUMES_PUBLISHED_NODES"
  | "VOLUME_CONDITION"
  | "GET_VOLUME"
  | "SINGLE_NODE_MULTI_WRITER";

/** `NodeServiceCapability.RPC.Type`. */
export type NodeCapabilityName =
  | "UNKNOWN"
  | "STAGE_UNSTAGE_VOLUME"
  | "GET_VOLUME_STATS"
  | "EXPAND_VOLUME"
  | "VOLUME_CONDITION"
  | "SINGLE_NODE_MULTI_WRITER"
  | "VOLUME_MOUNT_GROUP";

/** `VolumeUsage.Unit`. */
export type VolumeUsageUnit = "UNKNOWN" | "BYTES" | "INODES";

/**
 * An enum value as decoded: its name, or its number when the peer sent a
 * value this side does not know (a newer spec).
 */
export type EnumValue<Name extends string> = Name | number;

/** `google.protobuf.BoolValue`. */
export interface BoolValue {
  value?: boolean;
}

/** `google.protobuf.Int64Value`. */
export interface Int64Value {
  value?: number;
}

/** `Topology`: topological domain to segment. */
export interface Topology {
  segments?: StringMap;
}

/** `TopologyRequirement`. */
export interface TopologyRequirement {
  requisite?: Topology[];
  preferred?: Topology[];
}

/** `VolumeCapability.MountVolume`. */
export interface MountVolume {
  fsType?: string;
  mountFlags?: string[];
  volumeMountGroup?: string;
}

/** `VolumeCapability`. Set exactly one of `mount` and `block`. */
export interface VolumeCapability {
  block?: Record<string, never> | null;
  mount?: MountVolume | null;
  /** Which member of the `access_type` oneof is set (decoded only). */
  accessType?: "block" | "mount";
  accessMode?: { mode?: EnumValue<AccessModeName> } | null;
}

/** `CapacityRange`: zero means unset. */
export interface CapacityRange {
  requiredBytes?: number;
  limitBytes?: number;
}

/** `VolumeContentSource`. */
export interface VolumeContentSource {
  snapshot?: { snapshotId?: string } | null;
  volume?: { volumeId?: string } | null;
  type?: "snapshot" | "volume";
}

/** `Volume`. */
export interface Volume {
  capacityBytes?: number;
  volumeId?: string;
  volumeContext?: StringMap;
  contentSource?: VolumeContentSource | null;
  accessibleTopology?: Topology[];
}

/** `VolumeCondition` (alpha). */
export interface VolumeCondition {
  abnormal?: boolean;
  message?: string;
}

/** `GetPluginInfoRequest`. */
export type GetPluginInfoRequest = Record<string, never>;

/** `GetPluginInfoResponse`. */
export interface GetPluginInfoResponse {
  name?: string;
  vendorVersion?: string;
  manifest?: StringMap;
}

/** `GetPluginCapabilitiesRequest`. */
export type GetPluginCapabilitiesRequest = Record<string, never>;

/** `PluginCapability`. */
export interface PluginCapability {
  service?: { type?: EnumValue<PluginServiceCapabilityName> } | null;
  volumeExpansion?: { type?: EnumValue<VolumeExpansionName> } | null;
  type?: "service" | "volumeExpansion";
}

/** `GetPluginCapabilitiesResponse`. */
export interface GetPluginCapabilitiesResponse {
  capabilities?: PluginCapability[];
}

/** `ProbeRequest`. */
export type ProbeRequest = Record<string, never>;

/** `ProbeResponse`: `ready` unset means ready. */
export interface ProbeResponse {
  ready?: BoolValue | null;
}

/** `CreateVolumeRequest`. */
export interface CreateVolumeRequest {
  name?: string;
  capacityRange?: CapacityRange | null;
  volumeCapabilities?: VolumeCapability[];
  parameters?: StringMap;
  secrets?: StringMap;
  volumeContentSource?: VolumeContentSource | null;
  accessibilityRequirements?: TopologyRequirement | null;
}

/** `CreateVolumeResponse`. */
export interface CreateVolumeResponse {
  volume?: Volume | null;
}

/** `DeleteVolumeRequest`. */
export interface DeleteVolumeRequest {
  volumeId?: string;
  secrets?: StringMap;
}

/** `DeleteVolumeResponse`. */
export type DeleteVolumeResponse = Record<string, never>;

/** `ControllerPublishVolumeRequest`. */
export interface ControllerPublishVolumeRequest {
  volumeId?: string;
  nodeId?: string;
  volumeCapability?: VolumeCapability | null;
  readonly?: boolean;
  secrets?: StringMap;
  volumeContext?: StringMap;
}

/** `ControllerPublishVolumeResponse`. */
export interface ControllerPublishVolumeResponse {
  publishContext?: StringMap;
}

/** `ControllerUnpublishVolumeRequest`. */
export interface ControllerUnpublishVolumeRequest {
  volumeId?: string;
  nodeId?: string;
  secrets?: StringMap;
}

/** `ControllerUnpublishVolumeResponse`. */
export type ControllerUnpublishVolumeResponse = Record<string, never>;

/** `ValidateVolumeCapabilitiesRequest`. */
export interface ValidateVolumeCapabilitiesRequest {
  volumeId?: string;
  volumeContext?: StringMap;
  volumeCapabilities?: VolumeCapability[];
  parameters?: StringMap;
  secrets?: StringMap;
}

/** `ValidateVolumeCapabilitiesResponse`. */
export interface ValidateVolumeCapabilitiesResponse {
  confirmed?: {
    volumeContext?: StringMap;
    volumeCapabilities?: VolumeCapability[];
    parameters?: StringMap;
  } | null;
  message?: string;
}

/** `ListVolumesRequest`. */
export interface ListVolumesRequest {
  maxEntries?: number;
  startingToken?: string;
}

/** `ListVolumesResponse`. */
export interface ListVolumesResponse {
  entries?: {
    volume?: Volume | null;
    status?: {
      publishedNodeIds?: string[];
      volumeCondition?: VolumeCondition | null;
    } | null;
  }[];
  nextToken?: string;
}

/** `GetCapacityRequest`. */
export interface GetCapacityRequest {
  volumeCapabilities?: VolumeCapability[];
  parameters?: StringMap;
  accessibleTopology?: Topology | null;
}

/** `GetCapacityResponse`. */
export interface GetCapacityResponse {
  availableCapacity?: number;
  maximumVolumeSize?: Int64Value | null;
  minimumVolumeSize?: Int64Value | null;
}

/** `ControllerGetCapabilitiesRequest`. */
export type ControllerGetCapabilitiesRequest = Record<string, never>;

/** `ControllerGetCapabilitiesResponse`. */
export interface ControllerGetCapabilitiesResponse {
  capabilities?: {
    rpc?: { type?: EnumValue<ControllerCapabilityName> } | null;
    type?: "rpc";
  }[];
}

/** `NodeStageVolumeRequest`. */
export interface NodeStageVolumeRequest {
  volumeId?: string;
  publishContext?: StringMap;
  stagingTargetPath?: string;
  volumeCapability?: VolumeCapability | null;
  secrets?: StringMap;
  volumeContext?: StringMap;
}

/** `NodeStageVolumeResponse`. */
export type NodeStageVolumeResponse = Record<string, never>;

/** `NodeUnstageVolumeRequest`. */
export interface NodeUnstageVolumeRequest {
  volumeId?: string;
  stagingTargetPath?: string;
}

/** `NodeUnstageVolumeResponse`. */
export type NodeUnstageVolumeResponse = Record<string, never>;

/** `NodePublishVolumeRequest`. */
export interface NodePublishVolumeRequest {
  volumeId?: string;
  publishContext?: StringMap;
  stagingTargetPath?: string;
  targetPath?: string;
  volumeCapability?: VolumeCapability | null;
  readonly?: boolean;
  secrets?: StringMap;
  volumeContext?: StringMap;
}

/** `NodePublishVolumeResponse`. */
export type NodePublishVolumeResponse = Record<string, never>;

/** `NodeUnpublishVolumeRequest`. */
export interface NodeUnpublishVolumeRequest {
  volumeId?: string;
  targetPath?: string;
}

/** `NodeUnpublishVolumeResponse`. */
export type NodeUnpublishVolumeResponse = Record<string, never>;

/** `NodeGetVolumeStatsRequest`. */
export interface NodeGetVolumeStatsRequest {
  volumeId?: string;
  volumePath?: string;
  stagingTargetPath?: string;
}

/** `VolumeUsage`. */
export interface VolumeUsage {
  available?: number;
  total?: number;
  used?: number;
  unit?: EnumValue<VolumeUsageUnit>;
}

/** `NodeGetVolumeStatsResponse`. */
export interface NodeGetVolumeStatsResponse {
  usage?: VolumeUsage[];
  volumeCondition?: VolumeCondition | null;
}

/** `NodeGetCapabilitiesRequest`. */
export type NodeGetCapabilitiesRequest = Record<string, never>;

/** `NodeGetCapabilitiesResponse`. */
export interface NodeGetCapabilitiesResponse {
  capabilities?: {
    rpc?: { type?: EnumValue<NodeCapabilityName> } | null;
    type?: "rpc";
  }[];
}

/** `NodeGetInfoRequest`. */
export type NodeGetInfoRequest = Record<string, never>;

/** `NodeGetInfoResponse`. */
export interface NodeGetInfoResponse {
  nodeId?: string;
  maxVolumesPerNode?: number;
  accessibleTopology?: Topology | null;
}

/** Per-call options of every {@linkcode CsiRpc} method. */
export interface CsiCallOptions {
  /** Deadline of this call in milliseconds from now. */
  timeoutMs?: number;
  /** Cancels the call when aborted. */
  signal?: AbortSignal;
}

/**
 * Every CSI v1 RPC that Skiff speaks, as promises. A failed call rejects
 * with an error whose `code` property is the numeric gRPC status code
 * (`3` INVALID_ARGUMENT, `5` NOT_FOUND, ...).
 */
export interface CsiRpc {
  /** Identity.GetPluginInfo. */
  getPluginInfo(
    request?: GetPluginInfoRequest,
    options?: CsiCallOptions,
  ): Promise<GetPluginInfoResponse>;
  /** Identity.GetPluginCapabilities. */
  getPluginCapabilities(
    request?: GetPluginCapabilitiesRequest,
    options?: CsiCallOptions,
  ): Promise<GetPluginCapabilitiesResponse>;
  /** Identity.Probe. */
  probe(
    request?: ProbeRequest,
    options?: CsiCallOptions,
  ): Promise<ProbeResponse>;
  /** Controller.CreateVolume. */
  createVolume(
    request: CreateVolumeRequest,
    options?: CsiCallOptions,
  ): Promise<CreateVolumeResponse>;
  /** Controller.DeleteVolume. */
  deleteVolume(
    request: DeleteVolumeRequest,
    options?: CsiCallOptions,
  ): Promise<DeleteVolumeResponse>;
  /** Controller.ControllerPublishVolume. */
  controllerPublishVolume(
    request: ControllerPublishVolumeRequest,
    options?: CsiCallOptions,
  ): Promise<ControllerPublishVolumeResponse>;
  /** Controller.ControllerUnpublishVolume. */
  controllerUnpublishVolume(
    request: ControllerUnpublishVolumeRequest,
    options?: CsiCallOptions,
  ): Promise<ControllerUnpublishVolumeResponse>;
  /** Controller.ValidateVolumeCapabilities. */
  validateVolumeCapabilities(
    request: ValidateVolumeCapabilitiesRequest,
    options?: CsiCallOptions,
  ): Promise<ValidateVolumeCapabilitiesResponse>;
  /** Controller.ListVolumes. */
  listVolumes(
    request?: ListVolumesRequest,
    options?: CsiCallOptions,
  ): Promise<ListVolumesResponse>;
  /** Controller.GetCapacity. */
  getCapacity(
    request?: GetCapacityRequest,
    options?: CsiCallOptions,
  ): Promise<GetCapacityResponse>;
  /** Controller.ControllerGetCapabilities. */
  controllerGetCapabilities(
    request?: ControllerGetCapabilitiesRequest,
    options?: CsiCallOptions,
  ): Promise<ControllerGetCapabilitiesResponse>;
  /** Node.NodeStageVolume. */
  nodeStageVolume(
    request: NodeStageVolumeRequest,
    options?: CsiCallOptions,
  ): Promise<NodeStageVolumeResponse>;
  /** Node.NodeUnstageVolume. */
  nodeUnstageVolume(
    request: NodeUnstageVolumeRequest,
    options?: CsiCallOptions,
  ): Promise<NodeUnstageVolumeResponse>;
  /** Node.NodePublishVolume. */
  nodePublishVolume(
    request: NodePublishVolumeRequest,
    options?: CsiCallOptions,
  ): Promise<NodePublishVolumeResponse>;
  /** Node.NodeUnpublishVolume. */
  nodeUnpublishVolume(
    request: NodeUnpublishVolumeRequest,
    options?: CsiCallOptions,
  ): Promise<NodeUnpublishVolumeResponse>;
  /** Node.NodeGetVolumeStats. */
  nodeGetVolumeStats(
    request: NodeGetVolumeStatsRequest,
    options?: CsiCallOptions,
  ): Promise<NodeGetVolumeStatsResponse>;
  /** Node.NodeGetCapabilities. */
  nodeGetCapabilities(
    request?: NodeGetCapabilitiesRequest,
    options?: CsiCallOptions,
  ): Promise<NodeGetCapabilitiesResponse>;
  /** Node.NodeGetInfo. */
  nodeGetInfo(
    request?: NodeGetInfoRequest,
    options?: CsiCallOptions,
  ): Promise<NodeGetInfoResponse>;
}

/** The gRPC service (`csi.v1.<service>`) and method of each RPC. */
export const CSI_METHODS: Readonly<
  Record<
    keyof CsiRpc,
    { service: "Identity" | "Controller" | "Node"; method: string }
  >
> = {
  getPluginInfo: { service: "Identity", method: "GetPluginInfo" },
  getPluginCapabilities: {
    service: "Identity",
    method: "GetPluginCapabilities",
  },
  probe: { service: "Identity", method: "Probe" },
  createVolume: { service: "Controller", method: "CreateVolume" },
  deleteVolume: { service: "Controller", method: "DeleteVolume" },
  controllerPublishVolume: {
    service: "Controller",
    method: "ControllerPublishVolume",
  },
  controllerUnpublishVolume: {
    service: "Controller",
    method: "ControllerUnpublishVolume",
  },
  validateVolumeCapabilities: {
    service: "Controller",
    method: "ValidateVolumeCapabilities",
  },
  listVolumes: { service: "Controller", method: "ListVolumes" },
  getCapacity: { service: "Controller", method: "GetCapacity" },
  controllerGetCapabilities: {
    service: "Controller",
    method: "ControllerGetCapabilities",
  },
  nodeStageVolume: { service: "Node", method: "NodeStageVolume" },
  nodeUnstageVolume: { service: "Node", method: "NodeUnstageVolume" },
  nodePublishVolume: { service: "Node", method: "NodePublishVolume" },
  nodeUnpublishVolume: { service: "Node", method: "NodeUnpublishVolume" },
  nodeGetVolumeStats: { service: "Node", method: "NodeGetVolumeStats" },
  nodeGetCapabilities: { service: "Node", method: "NodeGetCapabilities" },
  nodeGetInfo: { service: "Node", method: "NodeGetInfo" },
};
