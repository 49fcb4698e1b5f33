/**
 * The node agent's network part: each pod sandbox gets its own network
 * namespace wired by the real CNI plugin binaries (`PodNetwork`,
 * `CniPodNetwork`), and each node routes to the other nodes' pod CIDRs
 * through their addresses (`HostGwRoutes`, host-gw; `NodeRoutes` keeps them
 * in step with the Nodes).
 *
 * @example
 * ```ts
 * import { CniPodNetwork, HostGwRoutes } from "./mod.ts";
 *
 * const network = new CniPodNetwork({
 *   nodeName: "pi-3",
 *   podCidr: "10.42.3.0/24", // node.spec.podCIDR
 *   stateDir: "/var/lib/skiff/network",
 * });
 * const { ip, netnsPath } = await network.setup({
 *   podUid: "5f0c5d8e-8c1a-4a43-9d39-1f2a0c3b4d5e",
 *   namespace: "default",
 *   name: "web-1",
 *   portMappings: [{ hostPort: 8080, containerPort: 80 }],
 * });
 * console.log(ip, netnsPath); // containers join netnsPath
 *
 * const routes = new HostGwRoutes();
 * await routes.prepare();
 * await routes.syncRoutes({
 *   podCidrsByNodeAddress: { "192.168.1.13": "10.42.3.0/24", "192.168.1.14": "10.42.4.0/24" },
 *   own: "192.168.1.13",
 * });
 * ```
 *
 * @module
 */

export {
  addNetworkList,
  checkNetworkList,
  CNI_VERSION,
  type CniCommand,
  CniError,
  type CniErrorFields,
  type CniExecOptions,
  type CniInterface,
  type CniInvokeOptions,
  type CniIpConfig,
  type CniNetworkList,
  type CniPluginConfig,
  type CniResult,
  type CniRuntimeArgs,
  delNetworkList,
  invokeCniPlugin,
} from "./cni_plugin.ts";
export {
  CNI_NETWORK_NAME,
  CniPodNetwork,
  type CniPodNetworkOptions,
  DEFAULT_BRIDGE_NAME,
  DEFAULT_CNI_BIN_DIR,
  type GcReport,
  netnsId,
  podGateway,
  type PodNetwork,
  type PodNetworkStatus,
  type PodSandbox,
  type PortMapping,
  type SandboxNetwork,
  type SandboxRef,
} from "./pod_network.ts";
export { type NodePodCidrs, nodePodCidrs, NodeRoutes, type NodeRoutesOptions } from "./node_routes.ts";
export {
  type HostGwRoute,
  HostGwRoutes,
  type HostGwRoutesOptions,
  type MasqueradeScope,
  masqueradeScope,
  type RouteSyncReport,
  SKIFF_ROUTE_PROTOCOL,
  type SyncRoutesRequest,
} from "./routes.ts";
export {
  buildRuleset,
  DEFAULT_AFFINITY_TIMEOUT_SECONDS,
  isUpdatable,
  MASQUERADE_MARK,
  type NftChain,
  type NftElement,
  type NftRuleset,
  type NftSet,
  type NftTableContents,
  type ProxyEndpoint,
  type ProxyProtocol,
  type ProxyService,
  type ProxyServicePort,
  type ProxyState,
  renderRuleset,
  renderTransaction,
  RulesetBuilder,
  SKIFF_TABLE,
  type TransactionBase,
} from "./nft_ruleset.ts";
export { type NftApplyOptions, type NftApplyReport, NftTable, type NftTableOptions } from "./nft_table.ts";
export {
  proxyServices,
  type ProxyServicesResult,
  ServiceProxy,
  type ServiceProxyApplyReport,
  type ServiceProxyOptions,
} from "./service_proxy.ts";
