/**
 * The node agent's pod side (the kubelet's pod workers): the
 * {@linkcode PodManager} runs the pods bound to a node through a container
 * {@linkcode Runtime}, a {@linkcode PodNetwork} and CSI volume plugins, and
 * reports their status like the kubelet.
 *
 * The seam the node side uses:
 *
 * ```ts
 * const pods = new PodManager({
 *   client,          // node credentials
 *   nodeName: "pi-3",
 *   runtime,         // ContainerdRuntime
 *   network,         // CniPodNetwork for node.spec.podCIDR
 *   dataDir: "/var/lib/skiff",
 *   hostIP: "192.168.1.13",
 *   recorder: new EventRecorder(client, { component: "skiff-agent", host: "pi-3" }),
 *   clusterDns: { nameserver: "10.43.0.10", searchDomain: "cluster.local" },
 *   devicePaths: (kind) => devicePathsOf(kind),
 * });
 * await pods.start();          // adopts running containers, cleans up pods gone meanwhile
 * const usage = await pods.stats(); // for PodMetrics
 * await pods.stop();           // containers keep running
 * ```
 *
 * Parts, one hook per file: volumes ({@linkcode VolumeHook}), network
 * ({@linkcode SandboxHook}), images ({@linkcode ImageHook}), containers
 * ({@linkcode containerConfig}, {@linkcode containerEnv}), probes
 * ({@linkcode ProbeManager}), termination ({@linkcode killContainer});
 * the pure {@linkcode computePodStatus} and PLEG {@linkcode diff}; the
 * {@linkcode PodWorker} (one per pod, latest update wins) and the
 * {@linkcode StatusManager} (writes only changes).
 *
 * Files of a pod live under `<dataDir>/pods/<uid>/` ({@linkcode podDir});
 * a container's output goes to {@linkcode containerLogPath}
 * (`logs/<container>/<restartCount>.log`), which the logs server reads.
 *
 * @module
 */

export {
  type ContainerUsage,
  GC_INTERVAL_MS,
  POD_RESYNC_MS,
  PodManager,
  type PodManagerOptions,
  type PodStats,
} from "./pod_manager.ts";
export {
  computePodStatus,
  type ContainerWaiting,
  isSidecar,
  type PodStatusInput,
  restartCountOf,
  runsOf,
} from "./pod_status.ts";
export { diff, Pleg, type PlegOptions, type PodLifecycleEvent, type PodLifecycleEventType } from "./pleg.ts";
export { PodWorker, type PodWorkerOptions, type SyncOutcome } from "./pod_worker.ts";
export { StatusManager, type StatusManagerOptions } from "./status_manager.ts";
export { Backoff, type BackoffOptions, CRASH_LOOP_BACKOFF, IMAGE_PULL_BACKOFF } from "./backoff.ts";
export { containerId, containerLogPath, podDir, podsRoot, terminationMessagePath } from "./pod_paths.ts";
export { expand, type Lookup, lookupIn } from "./expansion.ts";
export {
  ContainerConfigError,
  type ContainerEnv,
  containerEnv,
  type ContainerEnvOptions,
  decodeSecretValue,
  type EnvSources,
  serviceEnv,
} from "./env.ts";
export { type FieldUse, formatMap, type PodAddresses, podFieldValue, resourceFieldValue } from "./downward_api.ts";
export { checkPayloadPath, type Payload, type PayloadFile, writeAtomically } from "./atomic_writer.ts";
export {
  checkHostPath,
  DiscoveredVolumePlugins,
  type DiscoveredVolumePluginsOptions,
  type PodVolumeMount,
  staticVolumePlugins,
  type VolumeFailure,
  VolumeHook,
  type VolumeHookOptions,
  type VolumePluginRegistry,
  type VolumeSetUp,
} from "./volume_hook.ts";
export {
  type PodDnsFiles,
  type PodSandboxState,
  portMappings,
  SandboxHook,
  type SandboxHookOptions,
} from "./sandbox_hook.ts";
export {
  type ClusterDnsConfig,
  podHostname,
  podHostsFile,
  type PodHostsFileOptions,
  podResolvConfText,
  readNodeResolvConf,
} from "./dns.ts";
export { ImageHook, type ImageHookOptions, type ImageOutcome, pullPolicyOf } from "./image_hook.ts";
export { containerConfig, type ContainerConfigInput } from "./container_config.ts";
export { DeviceAllocator, deviceRequests, LABEL_DEVICES } from "./devices.ts";
export { type EventSink, type ProbeFailure, type ProbeKind, ProbeManager, type ProbeManagerOptions } from "./prober.ts";
export { type HandlerResult, type HandlerTarget, PROBE_USER_AGENT, resolvePort, runHandler } from "./handlers.ts";
export { killContainer, type KillContainerOptions, MINIMUM_GRACE_PERIOD_SECONDS } from "./termination.ts";
