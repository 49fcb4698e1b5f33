/**
 * Small CSI gRPC servers for this folder's tests: stand-ins for third-party
 * plugins (one that never answers, one with staging and controller
 * publishing) behind the same CSI protocol csi-local serves.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import { dirname } from "node:path";
import { loadCsiPackage } from "@skiff/csi-local";

/** A running test server. */
export interface TestServer {
  endpoint: string;
  stop(): Promise<void>;
}

/**
 * Serves `services` (service name to method handlers) at `socketPath`,
 * creating its directory.
 */
export async function serveCsi(
  socketPath: string,
  services: Partial<
    Record<
      "Identity" | "Controller" | "Node",
      grpc.UntypedServiceImplementation
    >
  >,
): Promise<TestServer> {
  await Deno.mkdir(dirname(socketPath), { recursive: true });
  const csi = loadCsiPackage();
  const server = new grpc.Server();
  for (const [name, implementation] of Object.entries(services)) {
    const service = csi[name as "Identity" | "Controller" | "Node"].service;
    server.addService(service, implementation);
  }
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(
      `unix://${socketPath}`,
      grpc.ServerCredentials.createInsecure(),
      (error) => error ? reject(error) : resolve(),
    )
  );
  return {
    endpoint: `unix://${socketPath}`,
    stop: async () => {
      server.forceShutdown();
      await Deno.remove(socketPath).catch(() => {});
    },
  };
}

/** A unary handler that always answers `response`. */
export function answer(response: object): grpc.handleUnaryCall<unknown, unknown> {
  return (_call, callback) => callback(null, response);
}
