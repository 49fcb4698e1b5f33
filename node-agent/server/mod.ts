/**
 * The agent's HTTPS server for container logs and exec (the kubelet's port
 * 10250), for the API server only, and the serving certificate it gets from
 * the API server and renews.
 *
 * @example
 * ```ts
 * import { ServingCertificateKeeper, startAgentServer } from "./mod.ts";
 *
 * const server = await startAgentServer({ runtime, port: 10250 });
 * const keeper = new ServingCertificateKeeper({
 *   client,
 *   nodeName: "pi-3",
 *   addresses: node.status!.addresses!,
 *   dataDir: "/var/lib/skiff",
 *   onCertificate: (certificate) => server.setCertificate(certificate),
 * });
 * await keeper.start();
 * ```
 *
 * @module
 */

export { type AgentServer, type AgentServerOptions, startAgentServer } from "./agent_server.ts";
export { EXEC_PROTOCOLS } from "./_exec_session.ts";
export {
  loadServingCertificate,
  renewalReason,
  requestServingCertificate,
  saveServingCertificate,
  SERVING_CHECK_MS,
  SERVING_RENEW_DAYS,
  SERVING_RETRY_MS,
  type ServingCertificate,
  ServingCertificateKeeper,
  type ServingCertificateKeeperOptions,
  servingCertificatePaths,
} from "./serving_certificate.ts";
