/**
 * Loads `csi.proto` (CSI v1) with `@grpc/proto-loader` into gRPC service
 * definitions and client constructors, the same way for the plugin's
 * server and for every client.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";

/** Absolute path of the CSI v1 protocol definition. */
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
 * The CSI v1 services, loaded once per process. Each constructor's
 * `service` property is the definition a server registers.
 */
export function loadCsiPackage(): CsiGrpcPackage {
  if (cached) return cached;
  const definition = protoLoader.loadSync(CSI_PROTO_PATH, CSI_LOADER_OPTIONS);
  const root = grpc.loadPackageDefinition(definition);
  const csi = root["csi"] as grpc.GrpcObject | undefined;
  const v1 = csi?.["v1"] as grpc.GrpcObject | undefined;
  const pick = (name: string): grpc.ServiceClientConstructor => {
    const service = v1?.[name];
    if (typeof service !== "function") {
      throw new Error(
        `Cannot load CSI protocol: service "csi.v1.${name}" is missing from "${CSI_PROTO_PATH}"`,
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
