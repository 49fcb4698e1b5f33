/**
 * csi-local: a CSI v1 plugin for node-local volumes, serving the Identity,
 * Controller and Node services on one unix socket.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import { dirname, resolve } from "node:path";
import { loadCsiPackage, socketPathOf } from "./csi_proto.ts";
import type {
  ControllerGetCapabilitiesResponse,
  CreateVolumeRequest,
  DeleteVolumeRequest,
  GetCapacityRequest,
  GetPluginCapabilitiesResponse,
  GetPluginInfoResponse,
  ListVolumesRequest,
  NodeGetCapabilitiesResponse,
  NodeGetInfoResponse,
  NodeGetVolumeStatsRequest,
  NodePublishVolumeRequest,
  NodeUnpublishVolumeRequest,
  ProbeResponse,
  ValidateVolumeCapabilitiesRequest,
} from "./csi_types.ts";
import { closeListenerOnExec } from "./_close_on_exec.ts";
import { CommandError } from "./_exec.ts";
import { LocalVolumes } from "./_local_volumes.ts";
import { RpcError } from "./_rpc_error.ts";
import { checkNodeId, DRIVER_NAME, nodeTopology } from "./_validate.ts";
import denoJson from "./deno.json" with { type: "json" };

/** The version csi-local reports as `vendor_version`. */
export const CSI_LOCAL_VERSION: string = denoJson.version;

/** Device that loop-mounting needs. */
const LOOP_CONTROL = "/dev/loop-control";

/** Options of {@linkcode runCsiLocal}. */
export interface CsiLocalOptions {
  /** Where to listen: `unix:///absolute/path/csi.sock`. */
  endpoint: string;
  /** Directory holding volume records and data (created if missing). */
  dataDir: string;
  /** This node's id; volumes report it as their topology. */
  nodeId: string;
  /**
   * Make each new volume an ext4 image of its requested size, loop-mounted
   * while published, so it cannot outgrow its request. Needs loop devices.
   * Otherwise volumes are plain directories with no size limit.
   */
  enforceSize?: boolean;
  /** Most volumes this node holds, reported as `max_volumes_per_node`. */
  maxVolumes?: number;
  /** Where log lines go (default: stderr). */
  log?: (line: string) => void;
}

/** A running csi-local. */
export interface CsiLocalHandle {
  /** The endpoint it serves. */
  readonly endpoint: string;
  /** Its resolved data directory. */
  readonly dataDir: string;
  /** Its node id. */
  readonly nodeId: string;
  /**
   * Stops serving and removes the socket. Volumes, and their mounts at the
   * target paths, stay: a restarted plugin picks them up.
   */
  stop(): Promise<void>;
}

type Handler<Req, Res> = (request: Req) => Res | Promise<Res>;

async function probe(
  dataDir: string,
  enforceSize: boolean,
): Promise<ProbeResponse> {
  try {
    const info = await Deno.stat(dataDir);
    if (!info.isDirectory) throw new Error("not a directory");
  } catch (error) {
    throw new RpcError(
      grpc.status.FAILED_PRECONDITION,
      `Data directory "${dataDir}" is unusable: ${(error as Error).message}`,
    );
  }
  if (enforceSize && !await pathExists(LOOP_CONTROL)) {
    throw new RpcError(
      grpc.status.FAILED_PRECONDITION,
      `Size enforcement needs loop devices but ${LOOP_CONTROL} is missing`,
    );
  }
  return { ready: { value: true } };
}

async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Fails when a live process already serves `socketPath`; removes a stale one. */
async function claimSocket(socketPath: string): Promise<void> {
  if (!await pathExists(socketPath)) {
    await Deno.mkdir(dirname(socketPath), { recursive: true });
    return;
  }
  let conn: Deno.UnixConn | undefined;
  try {
    conn = await Deno.connect({ transport: "unix", path: socketPath });
  } catch {
    await Deno.remove(socketPath);
    return;
  }
  conn.close();
  throw new Error(
    `Cannot listen on "unix://${socketPath}": another process is serving it; stop it first`,
  );
}

/**
 * Sets close-on-exec on the listening socket, which Deno's `node:net` leaves
 * inheritable: otherwise every process spawned later (by the node agent in
 * the same process, or by csi-local itself) holds it, and keeps it after
 * this process dies.
 */
function keepListenerFromChildren(socketPath: string, log: (line: string) => void): void {
  let problem: string | undefined;
  try {
    if (closeListenerOnExec(socketPath).length === 0) {
      problem = `Cannot keep the socket "${socketPath}" out of child processes: no descriptor of this process holds it`;
    }
  } catch (error) {
    problem = (error as Error).message;
  }
  if (problem !== undefined) {
    log(
      `csi-local: ${problem}; processes started from here may hold the socket after this process exits: ` +
        "stop them before starting csi-local again",
    );
  }
}

/**
 * Starts csi-local and resolves once it serves `endpoint`.
 *
 * @example
 * ```ts
 * const plugin = await runCsiLocal({
 *   endpoint: "unix:///var/lib/skiff/plugins/csi-local/csi.sock",
 *   dataDir: "/var/lib/skiff/csi-local",
 *   nodeId: "pi-3",
 *   enforceSize: true,
 * });
 * // ...
 * await plugin.stop();
 * ```
 *
 * @throws {TypeError} for an invalid endpoint, node id or maxVolumes.
 * @throws {Error} when size enforcement is asked for without loop devices,
 * or another process serves the endpoint.
 */
export async function runCsiLocal(
  options: CsiLocalOptions,
): Promise<CsiLocalHandle> {
  const socketPath = socketPathOf(options.endpoint);
  const nodeId = checkNodeId(options.nodeId);
  const enforceSize = options.enforceSize ?? false;
  const maxVolumes = options.maxVolumes;
  if (
    maxVolumes !== undefined && (!Number.isInteger(maxVolumes) ||
      maxVolumes < 1)
  ) {
    throw new TypeError(
      `Invalid maxVolumes ${maxVolumes}: expected a positive integer`,
    );
  }
  if (!options.dataDir) throw new TypeError("Missing dataDir");
  if (enforceSize && !await pathExists(LOOP_CONTROL)) {
    throw new Error(
      `Size enforcement needs loop devices, but ${LOOP_CONTROL} is missing: load the loop module (modprobe loop) or start csi-local without --enforce-size`,
    );
  }
  const log = options.log ?? ((line: string) => console.error(line));
  await Deno.mkdir(resolve(options.dataDir), { recursive: true });
  const dataDir = await Deno.realPath(options.dataDir);

  const volumes = new LocalVolumes({
    dataDir,
    nodeId,
    kind: enforceSize ? "ext4-image" : "directory",
    maxVolumes,
    log,
  });
  await volumes.start();

  /** Adapts a handler to grpc-js, mapping errors to status codes. */
  const unary =
    <Req, Res>(rpc: string, handler: Handler<Req, Res>): grpc.handleUnaryCall<Req, Res> => (call, callback) => {
      (async () => await handler(call.request))().then(
        (response) => callback(null, response),
        (error: unknown) => {
          if (error instanceof RpcError) {
            callback({ code: error.code, details: error.message });
            return;
          }
          const message = error instanceof CommandError
            ? error.message
            : `Unexpected failure: ${(error as Error)?.message ?? error}`;
          log(`csi-local: ${rpc} failed: ${message}`);
          callback({ code: grpc.status.INTERNAL, details: message });
        },
      );
    };

  const csi = loadCsiPackage();
  const server = new grpc.Server();
  server.addService(csi.Identity.service, {
    GetPluginInfo: unary("GetPluginInfo", (): GetPluginInfoResponse => ({
      name: DRIVER_NAME,
      vendorVersion: CSI_LOCAL_VERSION,
      manifest: {
        "size-enforcement": enforceSize ? "ext4-image" : "none",
      },
    })),
    GetPluginCapabilities: unary(
      "GetPluginCapabilities",
      (): GetPluginCapabilitiesResponse => ({
        capabilities: [
          { service: { type: "CONTROLLER_SERVICE" } },
          { service: { type: "VOLUME_ACCESSIBILITY_CONSTRAINTS" } },
        ],
      }),
    ),
    Probe: unary("Probe", () => probe(dataDir, enforceSize)),
  });
  server.addService(csi.Controller.service, {
    CreateVolume: unary("CreateVolume", (r: CreateVolumeRequest) => volumes.createVolume(r)),
    DeleteVolume: unary("DeleteVolume", async (r: DeleteVolumeRequest) => {
      await volumes.deleteVolume(r);
      return {};
    }),
    ValidateVolumeCapabilities: unary(
      "ValidateVolumeCapabilities",
      (r: ValidateVolumeCapabilitiesRequest) => volumes.validateVolumeCapabilities(r),
    ),
    ListVolumes: unary("ListVolumes", (r: ListVolumesRequest) => volumes.listVolumes(r)),
    GetCapacity: unary("GetCapacity", (r: GetCapacityRequest) => volumes.getCapacity(r)),
    ControllerGetCapabilities: unary(
      "ControllerGetCapabilities",
      (): ControllerGetCapabilitiesResponse => ({
        capabilities: [
          "CREATE_DELETE_VOLUME" as const,
          "LIST_VOLUMES" as const,
          "GET_CAPACITY" as const,
          "SINGLE_NODE_MULTI_WRITER" as const,
        ].map((type) => ({ rpc: { type } })),
      }),
    ),
  });
  server.addService(csi.Node.service, {
    NodePublishVolume: unary("NodePublishVolume", async (r: NodePublishVolumeRequest) => {
      await volumes.nodePublishVolume(r);
      return {};
    }),
    NodeUnpublishVolume: unary("NodeUnpublishVolume", async (
      r: NodeUnpublishVolumeRequest,
    ) => {
      await volumes.nodeUnpublishVolume(r);
      return {};
    }),
    NodeGetVolumeStats: unary(
      "NodeGetVolumeStats",
      (r: NodeGetVolumeStatsRequest) => volumes.nodeGetVolumeStats(r),
    ),
    NodeGetCapabilities: unary(
      "NodeGetCapabilities",
      (): NodeGetCapabilitiesResponse => ({
        capabilities: [
          "GET_VOLUME_STATS" as const,
          "SINGLE_NODE_MULTI_WRITER" as const,
        ].map((type) => ({ rpc: { type } })),
      }),
    ),
    NodeGetInfo: unary("NodeGetInfo", (): NodeGetInfoResponse => ({
      nodeId,
      maxVolumesPerNode: maxVolumes ?? 0,
      accessibleTopology: nodeTopology(nodeId),
    })),
  });

  await claimSocket(socketPath);
  await new Promise<void>((resolveBind, rejectBind) => {
    server.bindAsync(
      `unix://${socketPath}`,
      grpc.ServerCredentials.createInsecure(),
      (error) => {
        if (error) {
          rejectBind(error);
          return;
        }
        // At once, before anything else spawns a process that would inherit it.
        keepListenerFromChildren(socketPath, log);
        resolveBind();
      },
    );
  });
  await Deno.chmod(socketPath, 0o600);
  log(
    `csi-local: serving ${DRIVER_NAME} ${CSI_LOCAL_VERSION} on unix://${socketPath} for node "${nodeId}" (data in "${dataDir}", ${
      enforceSize ? "sizes enforced with ext4 images" : "plain directories"
    })`,
  );

  let stopped: Promise<void> | undefined;
  return {
    endpoint: `unix://${socketPath}`,
    dataDir,
    nodeId,
    stop() {
      stopped ??= (async () => {
        await new Promise<void>((done) => {
          const force = setTimeout(() => server.forceShutdown(), 5000);
          server.tryShutdown(() => {
            clearTimeout(force);
            done();
          });
        });
        try {
          await Deno.remove(socketPath);
        } catch (error) {
          if (!(error instanceof Deno.errors.NotFound)) throw error;
        }
      })();
      return stopped;
    },
  };
}
