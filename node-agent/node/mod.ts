/**
 * The node half of the agent: its identity (credentials kept in the data
 * directory), its Node object built from the hardware readings,
 * registration and the wait for a pod CIDR, heartbeats (Lease every 10 s,
 * full status on change or every 60 s), metrics reports, and discovery of
 * the node's volume plugins.
 *
 * @example
 * ```ts
 * import { NodeHeartbeat, nodeObject, registerNode, waitForPodCidr } from "./mod.ts";
 *
 * const { node } = await registerNode(client, nodeObject(readings, {
 *   name: "pi-3",
 *   now: Date.now(),
 *   addresses: [{ type: "InternalIP", address: "192.168.1.13" }, { type: "Hostname", address: "pi-3" }],
 *   containerRuntimeVersion: "containerd://1.6.20",
 * }));
 * const heartbeat = new NodeHeartbeat({ client, node, monitor, addresses: node.status!.addresses!, containerRuntimeVersion: "containerd://1.6.20" });
 * await heartbeat.start();
 * const withCidr = await waitForPodCidr(client, "pi-3");
 * console.log(withCidr.spec?.podCIDR);
 * ```
 *
 * @module
 */

export {
  checkCredentials,
  CredentialsError,
  credentialsPath,
  type GivenCredentials,
  loadCredentials,
  mergeCredentials,
  type NodeCredentials,
  saveCredentials,
} from "./credentials.ts";
export { checkNodeName, defaultNodeName } from "./node_name.ts";
export { CA_CERTS_PATH, JOIN_PATH, joinCluster, type JoinClusterOptions, JoinError, type JoinFailure } from "./join.ts";
export {
  caHashOfPem,
  formatJoinToken,
  isJoinToken,
  JOIN_TOKEN_PREFIX,
  type JoinToken,
  parseJoinToken,
} from "./join_token.ts";
export {
  checkExternalIp,
  isLoopback,
  localAddressTowards,
  nodeAddresses,
  pickInternalIp,
  type PickInternalIpOptions,
} from "./node_address.ts";
export {
  AGENT_PORT,
  mapPatch,
  nodeObject,
  nodeObjectLabels,
  type NodeObjectOptions,
  nodeStatus,
  type NodeStatusOptions,
  statusChange,
} from "./node_status.ts";
export {
  explainAuthError,
  NodeCredentialsError,
  registerNode,
  type Registration,
  waitForPodCidr,
  type WaitForPodCidrOptions,
} from "./registration.ts";
export {
  type HeartbeatStats,
  microTime,
  NODE_STATUS_REPORT_SECONDS,
  NodeHeartbeat,
  type NodeHeartbeatOptions,
  type ReadingsSource,
} from "./heartbeat.ts";
export {
  METRICS_REPORT_SECONDS,
  MetricsReporter,
  type MetricsReporterOptions,
  type MetricsReporterStats,
  nodeMetricsPath,
  podMetricsPath,
} from "./metrics_reporter.ts";
export { checkVolumePlugins, type VolumePluginCheck } from "./volume_plugins.ts";
export { type ContainerUsageSample, podMetrics, type PodUsageSample } from "./pod_metrics.ts";
