/**
 * Loads the CSI v1 protocol into gRPC service definitions and client
 * constructors with `@grpc/proto-loader`, the same way for the plugin's
 * server and for every client. `csi.proto` is the source of truth; the
 * program parses the copy embedded in `_csi_proto_source.ts` (generated
 * from it by `tools/gen_csi_proto.ts`, checked equal by a test), so a
 * bundled program reads no file at run time.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import protobuf from "protobufjs";
import { fileURLToPath } from "node:url";
import { CSI_PROTO_SOURCE } from "./_csi_proto_source.ts";

/**
 * Absolute path of `csi.proto`, the CSI v1 protocol definition the embedded
 * copy is generated from (in a bundled program the file is not there).
 */
export const CSI_PROTO_PATH: string = fileURLToPath(
  new URL("./csi.proto", import.meta.url),
);

/**
 * How messages are decoded: camelCase field names, int64 as JS numbers,
 * enums by name, defaults filled in, and a virtual field per `oneof`.
 */
export const CSI_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** The three CSI services of package `csi.v1`. */
export interface CsiGrpcPackage {
  /** `csi.v1.Identity`. */
  Identity: grpc.ServiceClientConstructor;
  /** `csi.v1.Controller`. */
  Controller: grpc.ServiceClientConstructor;
  /** `csi.v1.Node`. */
  Node: grpc.ServiceClientConstructor;
}

let cached: CsiGrpcPackage | undefined;

/**
 * Parses the embedded `csi.proto` as `protoLoader.loadSync` parses the file
 * (same options); its `google/protobuf/*.proto` imports come from the
 * definitions protobufjs and proto-loader carry.
 */
function csiPackageDefinition(): protoLoader.PackageDefinition {
  const root = new protobuf.Root();
  const parsed = protobuf.parse(CSI_PROTO_SOURCE, root, { keepCase: CSI_LOADER_OPTIONS.keepCase ?? false });
  root.loadSync(parsed.imports ?? []);
  root.resolveAll();
  return protoLoader.fromJSON(root.toJSON(), CSI_LOADER_OPTIONS);
}

/**
 * The CSI v1 services, loaded once per process. Each constructor's
 * `service` property is the definition a server registers.
 */
export function loadCsiPackage(): CsiGrpcPackage {
  if (cached) return cached;
  const root = grpc.loadPackageDefinition(csiPackageDefinition());
  const csi = root["csi"] as grpc.GrpcObject | undefined;
  const v1 = csi?.["v1"] as grpc.GrpcObject | undefined;
  const pick = (name: string): grpc.ServiceClientConstructor => {
    const service = v1?.[name];
    if (typeof service !== "function") {
      throw new Error(
        `Cannot load CSI protocol: service "csi.v1.${name}" is missing from the embedded csi.proto`,
      );
    }
    return service as grpc.ServiceClientConstructor;
  };
  cached = {
    Identity: pick("Identity"),
    Controller: pick("Controller"),
    Node: pick("Node"),
  };
  return cached;
}

/**
 * The socket path of a CSI endpoint (`unix:///absolute/path.sock`).
 *
 * @throws {TypeError} when the endpoint is not a unix URL with an absolute
 * path.
 */
export function socketPathOf(endpoint: string): string {
  const prefix = "unix://";
  if (!endpoint.startsWith(prefix) || !endpoint.slice(prefix.length)) {
    throw new TypeError(
      `Invalid CSI endpoint "${endpoint}": expected unix:///absolute/path.sock`,
    );
  }
  const path = endpoint.slice(prefix.length);
  if (!path.startsWith("/")) {
    throw new TypeError(
      `Invalid CSI endpoint "${endpoint}": the socket path must be absolute (unix:///absolute/path.sock)`,
    );
  }
  return path;
}
