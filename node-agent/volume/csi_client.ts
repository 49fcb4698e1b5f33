/**
 * The agent's CSI client: every CSI v1 RPC Skiff speaks, as typed promises
 * over one gRPC channel to a plugin's unix socket, with a deadline on every
 * call and failures turned into {@linkcode CsiError}s that name the RPC,
 * the endpoint and the gRPC status.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import { CSI_METHODS, type CsiCallOptions, type CsiRpc, loadCsiPackage, socketPathOf } from "@skiff/csi-local";
import type {
  ControllerGetCapabilitiesRequest,
  ControllerGetCapabilitiesResponse,
  ControllerPublishVolumeRequest,
  ControllerPublishVolumeResponse,
  ControllerUnpublishVolumeRequest,
  ControllerUnpublishVolumeResponse,
  CreateVolumeRequest,
  CreateVolumeResponse,
  DeleteVolumeRequest,
  DeleteVolumeResponse,
  GetCapacityRequest,
  GetCapacityResponse,
  GetPluginCapabilitiesRequest,
  GetPluginCapabilitiesResponse,
  GetPluginInfoRequest,
  GetPluginInfoResponse,
  ListVolumesRequest,
  ListVolumesResponse,
  NodeGetCapabilitiesRequest,
  NodeGetCapabilitiesResponse,
  NodeGetInfoRequest,
  NodeGetInfoResponse,
  NodeGetVolumeStatsRequest,
  NodeGetVolumeStatsResponse,
  NodePublishVolumeRequest,
  NodePublishVolumeResponse,
  NodeStageVolumeRequest,
  NodeStageVolumeResponse,
  NodeUnpublishVolumeRequest,
  NodeUnpublishVolumeResponse,
  NodeUnstageVolumeRequest,
  NodeUnstageVolumeResponse,
  ProbeRequest,
  ProbeResponse,
  ValidateVolumeCapabilitiesRequest,
  ValidateVolumeCapabilitiesResponse,
} from "@skiff/csi-local";

/** Default deadline of a call: mounting and formatting can take a while. */
export const DEFAULT_CSI_TIMEOUT_MS = 60_000;

/** What {@linkcode CsiError} reports. */
export interface CsiErrorOptions {
  /** The plugin's endpoint. */
  endpoint: string;
  /** Numeric gRPC status code. */
  code: number;
  /** The plugin's status message, or what went wrong. */
  details: string;
  /** The underlying error. */
  cause?: unknown;
}

/** A CSI call that ended with a gRPC status other than OK. */
export class CsiError extends Error {
  /** Numeric gRPC status code (e.g. 5). */
  readonly code: number;
  /** Its name (e.g. `"NOT_FOUND"`). */
  readonly codeName: string;
  /** The RPC, e.g. `"NodePublishVolume"`. */
  readonly rpc: string;
  /** The plugin's endpoint. */
  readonly endpoint: string;
  /** The plugin's status message. */
  readonly details: string;

  /** Creates the error for a call of `rpc`. */
  constructor(rpc: string, options: CsiErrorOptions) {
    const { endpoint, code, details } = options;
    const codeName = grpc.status[code] ?? `UNKNOWN_CODE_${code}`;
    const hint = code === grpc.status.UNAVAILABLE ? " (is the plugin running and serving this socket?)" : "";
    super(
      `CSI ${rpc} to "${endpoint}" failed with ${codeName}: ${details}${hint}`,
      { cause: options.cause },
    );
    this.name = "CsiError";
    this.code = code;
    this.codeName = codeName;
    this.rpc = rpc;
    this.endpoint = endpoint;
    this.details = details;
  }
}

/** Options of {@linkcode CsiClient}. */
export interface CsiClientOptions {
  /** Deadline of calls that set none, in milliseconds (default 60 s). */
  timeoutMs?: number;
}

type Stub = grpc.Client & Record<string, unknown>;

type UnaryMethod = (
  request: unknown,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response: unknown) => void,
) => grpc.ClientUnaryCall;

/**
 * A client of one CSI plugin. Works with any plugin that follows CSI v1,
 * not only csi-local. The connection is made on the first call; close the
 * client when done.
 *
 * @example
 * ```ts
 * const client = new CsiClient("unix:///var/lib/skiff/plugins/csi-local/csi.sock");
 * const info = await client.getPluginInfo();
 * client.close();
 * ```
 */
export class CsiClient implements CsiRpc {
  /** The plugin's endpoint, `unix:///…/csi.sock`. */
  readonly endpoint: string;
  readonly #timeoutMs: number;
  readonly #stubs: Record<"Identity" | "Controller" | "Node", Stub>;

  /**
   * Creates a client of the plugin at `endpoint`.
   *
   * @throws {TypeError} when `endpoint` is not `unix:///absolute/path`.
   */
  constructor(endpoint: string, options: CsiClientOptions = {}) {
    socketPathOf(endpoint);
    const timeoutMs = options.timeoutMs ?? DEFAULT_CSI_TIMEOUT_MS;
    if (!(timeoutMs > 0)) {
      throw new TypeError(
        `Invalid timeoutMs ${timeoutMs}: expected a positive number`,
      );
    }
    this.endpoint = endpoint;
    this.#timeoutMs = timeoutMs;
    const csi = loadCsiPackage();
    const credentials = grpc.credentials.createInsecure();
    const identity = new csi.Identity(endpoint, credentials) as Stub;
    const channelOverride = identity.getChannel();
    this.#stubs = {
      Identity: identity,
      Controller: new csi.Controller(endpoint, credentials, {
        channelOverride,
      }) as Stub,
      Node: new csi.Node(endpoint, credentials, { channelOverride }) as Stub,
    };
  }

  /**
   * Resolves once the socket accepts a connection.
   *
   * @throws {CsiError} UNAVAILABLE when it does not within `timeoutMs`.
   */
  waitForReady(timeoutMs: number = this.#timeoutMs): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#stubs.Identity.waitForReady(Date.now() + timeoutMs, (error) => {
        if (!error) return resolve();
        reject(
          new CsiError("connect", {
            endpoint: this.endpoint,
            code: grpc.status.UNAVAILABLE,
            details: `no connection within ${timeoutMs} ms: ${error.message}`,
            cause: error,
          }),
        );
      });
    });
  }

  /** Closes the connection; later calls fail. */
  close(): void {
    // The three stubs share the Identity stub's channel: this closes it.
    this.#stubs.Identity.close();
  }

  /** Identity.GetPluginInfo. */
  getPluginInfo(
    request: GetPluginInfoRequest = {},
    options?: CsiCallOptions,
  ): Promise<GetPluginInfoResponse> {
    return this.#call("getPluginInfo", request, options);
  }

  /** Identity.GetPluginCapabilities. */
  getPluginCapabilities(
    request: GetPluginCapabilitiesRequest = {},
    options?: CsiCallOptions,
  ): Promise<GetPluginCapabilitiesResponse> {
    return this.#call("getPluginCapabilities", request, options);
  }

  /** Identity.Probe. */
  probe(
    request: ProbeRequest = {},
    options?: CsiCallOptions,
  ): Promise<ProbeResponse> {
    return this.#call("probe", request, options);
  }

  /** Controller.CreateVolume. */
  createVolume(
    request: CreateVolumeRequest,
    options?: CsiCallOptions,
  ): Promise<CreateVolumeResponse> {
    return this.#call("createVolume", request, options);
  }

  /** Controller.DeleteVolume. */
  deleteVolume(
    request: DeleteVolumeRequest,
    options?: CsiCallOptions,
  ): Promise<DeleteVolumeResponse> {
    return this.#call("deleteVolume", request, options);
  }

  /** Controller.ControllerPublishVolume. */
  controllerPublishVolume(
    request: ControllerPublishVolumeRequest,
    options?: CsiCallOptions,
  ): Promise<ControllerPublishVolumeResponse> {
    return this.#call("controllerPublishVolume", request, options);
  }

  /** Controller.ControllerUnpublishVolume. */
  controllerUnpublishVolume(
    request: ControllerUnpublishVolumeRequest,
    options?: CsiCallOptions,
  ): Promise<ControllerUnpublishVolumeResponse> {
    return this.#call("controllerUnpublishVolume", request, options);
  }

  /** Controller.ValidateVolumeCapabilities. */
  validateVolumeCapabilities(
    request: ValidateVolumeCapabilitiesRequest,
    options?: CsiCallOptions,
  ): Promise<ValidateVolumeCapabilitiesResponse> {
    return this.#call("validateVolumeCapabilities", request, options);
  }

  /** Controller.ListVolumes. */
  listVolumes(
    request: ListVolumesRequest = {},
    options?: CsiCallOptions,
  ): Promise<ListVolumesResponse> {
    return this.#call("listVolumes", request, options);
  }

  /** Controller.GetCapacity. */
  getCapacity(
    request: GetCapacityRequest = {},
    options?: CsiCallOptions,
  ): Promise<GetCapacityResponse> {
    return this.#call("getCapacity", request, options);
  }

  /** Controller.ControllerGetCapabilities. */
  controllerGetCapabilities(
    request: ControllerGetCapabilitiesRequest = {},
    options?: CsiCallOptions,
  ): Promise<ControllerGetCapabilitiesResponse> {
    return this.#call("controllerGetCapabilities", request, options);
  }

  /** Node.NodeStageVolume. */
  nodeStageVolume(
    request: NodeStageVolumeRequest,
    options?: CsiCallOptions,
  ): Promise<NodeStageVolumeResponse> {
    return this.#call("nodeStageVolume", request, options);
  }

  /** Node.NodeUnstageVolume. */
  nodeUnstageVolume(
    request: NodeUnstageVolumeRequest,
    options?: CsiCallOptions,
  ): Promise<NodeUnstageVolumeResponse> {
    return this.#call("nodeUnstageVolume", request, options);
  }

  /** Node.NodePublishVolume. */
  nodePublishVolume(
    request: NodePublishVolumeRequest,
    options?: CsiCallOptions,
  ): Promise<NodePublishVolumeResponse> {
    return this.#call("nodePublishVolume", request, options);
  }

  /** Node.NodeUnpublishVolume. */
  nodeUnpublishVolume(
    request: NodeUnpublishVolumeRequest,
    options?: CsiCallOptions,
  ): Promise<NodeUnpublishVolumeResponse> {
    return this.#call("nodeUnpublishVolume", request, options);
  }

  /** Node.NodeGetVolumeStats. */
  nodeGetVolumeStats(
    request: NodeGetVolumeStatsRequest,
    options?: CsiCallOptions,
  ): Promise<NodeGetVolumeStatsResponse> {
    return this.#call("nodeGetVolumeStats", request, options);
  }

  /** Node.NodeGetCapabilities. */
  nodeGetCapabilities(
    request: NodeGetCapabilitiesRequest = {},
    options?: CsiCallOptions,
  ): Promise<NodeGetCapabilitiesResponse> {
    return this.#call("nodeGetCapabilities", request, options);
  }

  /** Node.NodeGetInfo. */
  nodeGetInfo(
    request: NodeGetInfoRequest = {},
    options?: CsiCallOptions,
  ): Promise<NodeGetInfoResponse> {
    return this.#call("nodeGetInfo", request, options);
  }

  #call<Response>(
    name: keyof CsiRpc,
    request: unknown,
    options: CsiCallOptions = {},
  ): Promise<Response> {
    const { service, method } = CSI_METHODS[name];
    const stub = this.#stubs[service];
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const signal = options.signal;
    return new Promise<Response>((resolve, reject) => {
      if (signal?.aborted) {
        reject(
          new CsiError(method, {
            endpoint: this.endpoint,
            code: grpc.status.CANCELLED,
            details: "cancelled before it started",
            cause: signal.reason,
          }),
        );
        return;
      }
      const invoke = stub[method] as UnaryMethod;
      const onAbort = () => call.cancel();
      const call = invoke.call(
        stub,
        request,
        { deadline: Date.now() + timeoutMs },
        (error, response) => {
          signal?.removeEventListener("abort", onAbort);
          if (!error) return resolve(response as Response);
          const details = error.code === grpc.status.DEADLINE_EXCEEDED
            ? `no answer within ${timeoutMs} ms`
            : error.details || error.message;
          reject(
            new CsiError(method, {
              endpoint: this.endpoint,
              code: error.code,
              details,
              cause: error,
            }),
          );
        },
      );
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}
