/**
 * core/v1 Pod and everything a PodSpec holds, with Kubernetes field names,
 * so real manifests map onto these types unchanged.
 *
 * Quantities (`resources`, `sizeLimit`, …) are strings on the wire; YAML may
 * give bare numbers (`cpu: 1`), which defaulting rewrites into canonical
 * strings.
 *
 * @module
 */

import type { Condition, KubeObject, LabelSelector, ObjectMeta } from "./meta.ts";

/** A port given as a number or as the name of a container port. */
export type IntOrString = number | string;

/** Resource name to quantity, e.g. `{ cpu: "500m", memory: "128Mi" }`. */
export type ResourceList = Record<string, string>;

/** A reference to an object in the same namespace, by name. */
export interface LocalObjectReference {
  /** The object's name. */
  name?: string;
}

/** Selects a key of a ConfigMap. */
export interface ConfigMapKeySelector {
  /** The ConfigMap's name. */
  name?: string;
  /** The key to select. */
  key: string;
  /** When true, a missing ConfigMap or key is not an error. */
  optional?: boolean;
}

/** Selects a key of a Secret. */
export interface SecretKeySelector {
  /** The Secret's name. */
  name?: string;
  /** The key to select. */
  key: string;
  /** When true, a missing Secret or key is not an error. */
  optional?: boolean;
}

/** Selects a field of the pod, e.g. `metadata.name` or `status.podIP`. */
export interface ObjectFieldSelector {
  /** Version of the schema `fieldPath` is written in; defaults to `v1`. */
  apiVersion?: string;
  /** The field's path. */
  fieldPath: string;
}

/** Selects a container's resource, e.g. `limits.memory`. */
export interface ResourceFieldSelector {
  /** The container; required in volumes, optional in env. */
  containerName?: string;
  /** `limits.cpu`, `requests.memory`, … */
  resource: string;
  /** Unit the value is expressed in; defaults to `1`. */
  divisor?: string;
}

/** Where an environment variable's value comes from. */
export interface EnvVarSource {
  /** A field of the pod. */
  fieldRef?: ObjectFieldSelector;
  /** A resource of a container. */
  resourceFieldRef?: ResourceFieldSelector;
  /** A ConfigMap key. */
  configMapKeyRef?: ConfigMapKeySelector;
  /** A Secret key. */
  secretKeyRef?: SecretKeySelector;
}

/** One environment variable of a container. */
export interface EnvVar {
  /** The variable's name. */
  name: string;
  /** A literal value; `$(VAR)` references are expanded. */
  value?: string;
  /** A value taken from elsewhere; exclusive with `value`. */
  valueFrom?: EnvVarSource;
}

/** Imports every key of a ConfigMap or Secret as environment variables. */
export interface EnvFromSource {
  /** Prepended to every key. */
  prefix?: string;
  /** The ConfigMap to import. */
  configMapRef?: LocalObjectReference & { optional?: boolean };
  /** The Secret to import. */
  secretRef?: LocalObjectReference & { optional?: boolean };
}

/** Network protocol of a port. */
export type Protocol = "TCP" | "UDP" | "SCTP";

/** A port a container listens on. */
export interface ContainerPort {
  /** An IANA_SVC_NAME, unique within the pod; Services may refer to it. */
  name?: string;
  /** The port inside the container (1-65535). */
  containerPort: number;
  /** The port to expose on the host, if any. */
  hostPort?: number;
  /** The host address to bind `hostPort` to. */
  hostIP?: string;
  /** Defaults to TCP. */
  protocol?: Protocol;
}

/** Compute resources of a container. */
export interface ResourceRequirements {
  /** The most the container may use. */
  limits?: ResourceList;
  /** What the scheduler reserves; defaults to `limits`. */
  requests?: ResourceList;
}

/** Where a volume is mounted inside a container. */
export interface VolumeMount {
  /** The volume's name, as declared in `spec.volumes`. */
  name: string;
  /** Absolute path inside the container. */
  mountPath: string;
  /** Path within the volume to mount instead of its root. */
  subPath?: string;
  /** Like `subPath`, with `$(VAR)` expansion. */
  subPathExpr?: string;
  /** Mount read-only. */
  readOnly?: boolean;
  /** `None`, `HostToContainer` or `Bidirectional`. */
  mountPropagation?: "None" | "HostToContainer" | "Bidirectional";
}

/** Runs a command inside the container. */
export interface ExecAction {
  /** The command line; not run in a shell. */
  command?: string[];
}

/** An HTTP header of an HTTP probe. */
export interface HTTPHeader {
  /** Header name. */
  name: string;
  /** Header value. */
  value: string;
}

/** Sends an HTTP GET; any 2xx or 3xx status succeeds. */
export interface HTTPGetAction {
  /** Request path; defaults to `/`. */
  path?: string;
  /** Port number or container port name. */
  port: IntOrString;
  /** Host to connect to; defaults to the pod IP. */
  host?: string;
  /** `HTTP` (default) or `HTTPS`. */
  scheme?: "HTTP" | "HTTPS";
  /** Extra request headers. */
  httpHeaders?: HTTPHeader[];
}

/** Opens a TCP connection; success if it connects. */
export interface TCPSocketAction {
  /** Port number or container port name. */
  port: IntOrString;
  /** Host to connect to; defaults to the pod IP. */
  host?: string;
}

/** Calls the gRPC health-checking protocol. */
export interface GRPCAction {
  /** Port number. */
  port: number;
  /** Service name sent in the request. */
  service?: string;
}

/** Sleeps (lifecycle hooks only). */
export interface SleepAction {
  /** Seconds to sleep. */
  seconds: number;
}

/** A check of a container's health; exactly one action is set. */
export interface Probe {
  /** Run a command. */
  exec?: ExecAction;
  /** Send an HTTP GET. */
  httpGet?: HTTPGetAction;
  /** Open a TCP connection. */
  tcpSocket?: TCPSocketAction;
  /** Call gRPC health checking. */
  grpc?: GRPCAction;
  /** Seconds after start before the first probe. */
  initialDelaySeconds?: number;
  /** Seconds before a probe times out; defaults to 1. */
  timeoutSeconds?: number;
  /** Seconds between probes; defaults to 10. */
  periodSeconds?: number;
  /** Successes in a row to count as healthy; defaults to 1 (and must be 1 except readiness). */
  successThreshold?: number;
  /** Failures in a row to count as unhealthy; defaults to 3. */
  failureThreshold?: number;
  /** Grace period for a kill caused by this probe. */
  terminationGracePeriodSeconds?: number;
}

/** A lifecycle hook action; exactly one is set. */
export interface LifecycleHandler {
  /** Run a command. */
  exec?: ExecAction;
  /** Send an HTTP GET. */
  httpGet?: HTTPGetAction;
  /** Open a TCP connection (deprecated, accepted). */
  tcpSocket?: TCPSocketAction;
  /** Sleep. */
  sleep?: SleepAction;
}

/** Hooks run after a container starts and before it stops. */
export interface Lifecycle {
  /** Runs right after the container is created. */
  postStart?: LifecycleHandler;
  /** Runs before the container is terminated. */
  preStop?: LifecycleHandler;
}

/** Linux capabilities to add or drop. */
export interface Capabilities {
  /** Capabilities to add, e.g. `NET_ADMIN`. */
  add?: string[];
  /** Capabilities to drop, e.g. `ALL`. */
  drop?: string[];
}

/** A seccomp profile. */
export interface SeccompProfile {
  /** `RuntimeDefault`, `Unconfined` or `Localhost`. */
  type: "RuntimeDefault" | "Unconfined" | "Localhost";
  /** Path of a profile on the node, for `Localhost`. */
  localhostProfile?: string;
}

/** Security settings of one container. */
export interface SecurityContext {
  /** Run as a privileged container. */
  privileged?: boolean;
  /** User id to run as. */
  runAsUser?: number;
  /** Group id to run as. */
  runAsGroup?: number;
  /** Refuse to start if the image runs as root. */
  runAsNonRoot?: boolean;
  /** Mount the root filesystem read-only. */
  readOnlyRootFilesystem?: boolean;
  /** Whether a process may gain more privileges than its parent. */
  allowPrivilegeEscalation?: boolean;
  /** Capabilities to add or drop. */
  capabilities?: Capabilities;
  /** The seccomp profile. */
  seccompProfile?: SeccompProfile;
  /** `Default` or `Unmasked`. */
  procMount?: "Default" | "Unmasked";
}

/** Security settings of the whole pod. */
export interface PodSecurityContext {
  /** User id for every container. */
  runAsUser?: number;
  /** Group id for every container. */
  runAsGroup?: number;
  /** Refuse to start containers whose image runs as root. */
  runAsNonRoot?: boolean;
  /** Group that owns volumes. */
  fsGroup?: number;
  /** Extra groups for every container. */
  supplementalGroups?: number[];
  /** The seccomp profile. */
  seccompProfile?: SeccompProfile;
  /** Namespaced sysctls to set. */
  sysctls?: { name: string; value: string }[];
}

/** A container of a pod. */
export interface Container {
  /** DNS label, unique within the pod. */
  name: string;
  /** Image reference, e.g. `nginx:1.25`. */
  image?: string;
  /** Replaces the image's ENTRYPOINT. */
  command?: string[];
  /** Replaces the image's CMD. */
  args?: string[];
  /** Working directory; defaults to the image's. */
  workingDir?: string;
  /** Ports the container listens on (informational, and used by Services by name). */
  ports?: ContainerPort[];
  /** Environment variables imported from ConfigMaps or Secrets. */
  envFrom?: EnvFromSource[];
  /** Environment variables. */
  env?: EnvVar[];
  /** Compute resources. */
  resources?: ResourceRequirements;
  /** `Always` (init containers only): run as a sidecar. */
  restartPolicy?: "Always";
  /** Volumes to mount. */
  volumeMounts?: VolumeMount[];
  /** Restarts the container when it fails. */
  livenessProbe?: Probe;
  /** Removes the pod from Service endpoints while it fails. */
  readinessProbe?: Probe;
  /** Holds the other probes until it succeeds once. */
  startupProbe?: Probe;
  /** Start and stop hooks. */
  lifecycle?: Lifecycle;
  /** Where the container writes its termination message; defaults to `/dev/termination-log`. */
  terminationMessagePath?: string;
  /** `File` (default) or `FallbackToLogsOnError`. */
  terminationMessagePolicy?: "File" | "FallbackToLogsOnError";
  /** `Always` for `:latest` or no tag, else `IfNotPresent`, by default. */
  imagePullPolicy?: "Always" | "IfNotPresent" | "Never";
  /** Security settings. */
  securityContext?: SecurityContext;
  /** Allocate a stdin buffer. */
  stdin?: boolean;
  /** Close stdin after the first attach detaches. */
  stdinOnce?: boolean;
  /** Allocate a TTY. */
  tty?: boolean;
}

/** One file projected into a configMap, secret or downwardAPI volume. */
export interface KeyToPath {
  /** The key to project. */
  key: string;
  /** Relative path of the file. */
  path: string;
  /** File mode bits (0-0777). */
  mode?: number;
}

/** A file of a downwardAPI volume. */
export interface DownwardAPIVolumeFile {
  /** Relative path of the file. */
  path: string;
  /** A pod field: metadata.name, metadata.labels, … */
  fieldRef?: ObjectFieldSelector;
  /** A container resource. */
  resourceFieldRef?: ResourceFieldSelector;
  /** File mode bits (0-0777). */
  mode?: number;
}

/** A scratch directory that lives as long as the pod. */
export interface EmptyDirVolumeSource {
  /** `""` (node disk) or `Memory` (tmpfs). */
  medium?: "" | "Memory";
  /** Most space the volume may use. */
  sizeLimit?: string;
}

/** A file or directory of the node. */
export interface HostPathVolumeSource {
  /** Path on the node. */
  path: string;
  /** What must exist there: `DirectoryOrCreate`, `Directory`, `File`, … */
  type?:
    | ""
    | "DirectoryOrCreate"
    | "Directory"
    | "FileOrCreate"
    | "File"
    | "Socket"
    | "CharDevice"
    | "BlockDevice";
}

/** The keys of a ConfigMap as files. */
export interface ConfigMapVolumeSource {
  /** The ConfigMap's name. */
  name?: string;
  /** Only these keys, at these paths. */
  items?: KeyToPath[];
  /** Mode bits of the files; defaults to 0644. */
  defaultMode?: number;
  /** When true, a missing ConfigMap is not an error. */
  optional?: boolean;
}

/** The keys of a Secret as files. */
export interface SecretVolumeSource {
  /** The Secret's name. */
  secretName?: string;
  /** Only these keys, at these paths. */
  items?: KeyToPath[];
  /** Mode bits of the files; defaults to 0644. */
  defaultMode?: number;
  /** When true, a missing Secret is not an error. */
  optional?: boolean;
}

/** Pod fields as files. */
export interface DownwardAPIVolumeSource {
  /** The files. */
  items?: DownwardAPIVolumeFile[];
  /** Mode bits of the files; defaults to 0644. */
  defaultMode?: number;
}

/** A PersistentVolumeClaim in the pod's namespace. */
export interface PersistentVolumeClaimVolumeSource {
  /** The claim's name. */
  claimName: string;
  /** Mount read-only. */
  readOnly?: boolean;
}

/** A service account token projected into a file. */
export interface ServiceAccountTokenProjection {
  /** Intended audience of the token. */
  audience?: string;
  /** Requested lifetime in seconds. */
  expirationSeconds?: number;
  /** Relative path of the file. */
  path: string;
}

/** One source of a projected volume. */
export interface VolumeProjection {
  /** ConfigMap keys. */
  configMap?: Omit<ConfigMapVolumeSource, "defaultMode">;
  /** Secret keys. */
  secret?: Omit<SecretVolumeSource, "defaultMode" | "secretName"> & { name?: string };
  /** Pod fields. */
  downwardAPI?: Omit<DownwardAPIVolumeSource, "defaultMode">;
  /** A service account token. */
  serviceAccountToken?: ServiceAccountTokenProjection;
}

/** Several sources merged into one directory. */
export interface ProjectedVolumeSource {
  /** The sources. */
  sources?: VolumeProjection[];
  /** Mode bits of the files; defaults to 0644. */
  defaultMode?: number;
}

/** A CSI volume defined inline in the pod. */
export interface CSIVolumeSource {
  /** The CSI driver's name. */
  driver: string;
  /** Mount read-only. */
  readOnly?: boolean;
  /** Filesystem type, e.g. `ext4`. */
  fsType?: string;
  /** Driver-specific attributes. */
  volumeAttributes?: Record<string, string>;
}

/** A volume of a pod; exactly one source is set (emptyDir by default). */
export interface Volume {
  /** DNS label, unique within the pod. */
  name: string;
  /** Scratch space. */
  emptyDir?: EmptyDirVolumeSource;
  /** A node path. */
  hostPath?: HostPathVolumeSource;
  /** ConfigMap keys as files. */
  configMap?: ConfigMapVolumeSource;
  /** Secret keys as files. */
  secret?: SecretVolumeSource;
  /** Pod fields as files. */
  downwardAPI?: DownwardAPIVolumeSource;
  /** A PersistentVolumeClaim. */
  persistentVolumeClaim?: PersistentVolumeClaimVolumeSource;
  /** Several sources in one directory. */
  projected?: ProjectedVolumeSource;
  /** An inline CSI volume. */
  csi?: CSIVolumeSource;
}

/** Operators of a node selector requirement. */
export type NodeSelectorOperator = "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt";

/** One requirement on a node label or field. */
export interface NodeSelectorRequirement {
  /** Label key, or `metadata.name` in `matchFields`. */
  key: string;
  /** How to compare. */
  operator: NodeSelectorOperator;
  /** Values: several for In/NotIn, none for Exists/DoesNotExist, one integer for Gt/Lt. */
  values?: string[];
}

/** Requirements that must all hold; an empty term matches no node. */
export interface NodeSelectorTerm {
  /** Requirements on node labels. */
  matchExpressions?: NodeSelectorRequirement[];
  /** Requirements on node fields (`metadata.name`). */
  matchFields?: NodeSelectorRequirement[];
}

/** Terms of which at least one must hold. */
export interface NodeSelector {
  /** The terms, ORed. */
  nodeSelectorTerms: NodeSelectorTerm[];
}

/** A weighted preference for nodes matching a term. */
export interface PreferredSchedulingTerm {
  /** 1-100. */
  weight: number;
  /** The term. */
  preference: NodeSelectorTerm;
}

/** Constraints on the node's labels. */
export interface NodeAffinity {
  /** Hard requirement at scheduling time. */
  requiredDuringSchedulingIgnoredDuringExecution?: NodeSelector;
  /** Soft preferences, summed by weight. */
  preferredDuringSchedulingIgnoredDuringExecution?: PreferredSchedulingTerm[];
}

/** Pods (selected by labels) that this pod must or must not share a topology domain with. */
export interface PodAffinityTerm {
  /** The pods. */
  labelSelector?: LabelSelector;
  /** Namespaces to look in; defaults to the pod's own. */
  namespaces?: string[];
  /** Namespaces to look in, by label. */
  namespaceSelector?: LabelSelector;
  /** Node label defining the domain, e.g. `kubernetes.io/hostname`. */
  topologyKey: string;
  /** Label keys whose values are taken from the incoming pod and ANDed in (`key In value`). */
  matchLabelKeys?: string[];
  /** Label keys whose values are taken from the incoming pod and ANDed in (`key NotIn value`). */
  mismatchLabelKeys?: string[];
}

/** A weighted pod (anti-)affinity preference. */
export interface WeightedPodAffinityTerm {
  /** 1-100. */
  weight: number;
  /** The term. */
  podAffinityTerm: PodAffinityTerm;
}

/** Co-location (or separation) rules against other pods. */
export interface PodAffinity {
  /** Hard rules. */
  requiredDuringSchedulingIgnoredDuringExecution?: PodAffinityTerm[];
  /** Soft rules. */
  preferredDuringSchedulingIgnoredDuringExecution?: WeightedPodAffinityTerm[];
}

/** Scheduling constraints. */
export interface Affinity {
  /** On node labels. */
  nodeAffinity?: NodeAffinity;
  /** Together with other pods. */
  podAffinity?: PodAffinity;
  /** Away from other pods. */
  podAntiAffinity?: PodAffinity;
}

/** Effects of a taint. */
export type TaintEffect = "NoSchedule" | "PreferNoSchedule" | "NoExecute";

/** Lets a pod ignore matching taints. */
export interface Toleration {
  /** Taint key; empty with `Exists` matches every taint. */
  key?: string;
  /** `Equal` (default) or `Exists`. */
  operator?: "Equal" | "Exists";
  /** Taint value, for `Equal`. */
  value?: string;
  /** Effect to match; empty matches all effects. */
  effect?: "" | TaintEffect;
  /** For NoExecute: how long the pod stays bound after the taint appears. */
  tolerationSeconds?: number;
}

/** Spreads pods evenly across topology domains. */
export interface TopologySpreadConstraint {
  /** The most two domains may differ by (> 0). */
  maxSkew: number;
  /** Node label defining a domain. */
  topologyKey: string;
  /** `DoNotSchedule` or `ScheduleAnyway`. */
  whenUnsatisfiable: "DoNotSchedule" | "ScheduleAnyway";
  /** The pods counted. */
  labelSelector?: LabelSelector;
  /** Fewest eligible domains (with DoNotSchedule). */
  minDomains?: number;
  /** Label keys whose values from the incoming pod narrow the selector. */
  matchLabelKeys?: string[];
  /** `Honor` or `Ignore` node affinity when counting domains. */
  nodeAffinityPolicy?: "Honor" | "Ignore";
  /** `Honor` or `Ignore` node taints when counting domains. */
  nodeTaintsPolicy?: "Honor" | "Ignore";
}

/** Pod DNS settings merged into resolv.conf. */
export interface PodDNSConfig {
  /** Name server addresses. */
  nameservers?: string[];
  /** Search domains. */
  searches?: string[];
  /** Resolver options. */
  options?: { name: string; value?: string }[];
}

/** An /etc/hosts entry. */
export interface HostAlias {
  /** The address. */
  ip: string;
  /** Names for it. */
  hostnames?: string[];
}

/** The desired state of a pod. */
export interface PodSpec {
  /** Volumes the containers may mount. */
  volumes?: Volume[];
  /** Containers run to completion, in order, before `containers`. */
  initContainers?: Container[];
  /** The containers (at least one). */
  containers: Container[];
  /** `Always` (default), `OnFailure` or `Never`. */
  restartPolicy?: "Always" | "OnFailure" | "Never";
  /** Seconds between SIGTERM and SIGKILL; defaults to 30. */
  terminationGracePeriodSeconds?: number;
  /** Seconds the pod may run before it is failed. */
  activeDeadlineSeconds?: number;
  /** `ClusterFirst` (default), `ClusterFirstWithHostNet`, `Default` or `None`. */
  dnsPolicy?: "ClusterFirst" | "ClusterFirstWithHostNet" | "Default" | "None";
  /** Node labels the node must have. */
  nodeSelector?: Record<string, string>;
  /** The service account the pod runs as. */
  serviceAccountName?: string;
  /** Deprecated alias of `serviceAccountName`. */
  serviceAccount?: string;
  /** Mount the service account token. */
  automountServiceAccountToken?: boolean;
  /** The node the pod is bound to; set by the scheduler through a Binding. */
  nodeName?: string;
  /** Use the node's network namespace. */
  hostNetwork?: boolean;
  /** Use the node's PID namespace. */
  hostPID?: boolean;
  /** Use the node's IPC namespace. */
  hostIPC?: boolean;
  /** Containers share one PID namespace. */
  shareProcessNamespace?: boolean;
  /** Pod-level security settings. */
  securityContext?: PodSecurityContext;
  /** Secrets used to pull images. */
  imagePullSecrets?: LocalObjectReference[];
  /** The pod's hostname; defaults to its name. */
  hostname?: string;
  /** With `hostname`, gives the pod the FQDN `<hostname>.<subdomain>.<ns>.svc.<domain>`. */
  subdomain?: string;
  /** Scheduling constraints. */
  affinity?: Affinity;
  /** The scheduler to use; defaults to `default-scheduler`. */
  schedulerName?: string;
  /** Taints this pod tolerates. */
  tolerations?: Toleration[];
  /** Extra /etc/hosts entries. */
  hostAliases?: HostAlias[];
  /** Name of a PriorityClass. */
  priorityClassName?: string;
  /** Priority value; higher is more important. */
  priority?: number;
  /** DNS settings. */
  dnsConfig?: PodDNSConfig;
  /** Inject Service environment variables; defaults to true. */
  enableServiceLinks?: boolean;
  /** How to spread pods across domains. */
  topologySpreadConstraints?: TopologySpreadConstraint[];
  /** `PreemptLowerPriority` or `Never`. */
  preemptionPolicy?: "PreemptLowerPriority" | "Never";
  /** Container runtime class. */
  runtimeClassName?: string;
  /** Resource overhead of the runtime class. */
  overhead?: ResourceList;
}

/** Lifecycle phase of a pod. */
export type PodPhase = "Pending" | "Running" | "Succeeded" | "Failed" | "Unknown";

/** A container that is waiting to start. */
export interface ContainerStateWaiting {
  /** e.g. `ContainerCreating`, `ImagePullBackOff`, `CrashLoopBackOff`. */
  reason?: string;
  /** Details. */
  message?: string;
}

/** A running container. */
export interface ContainerStateRunning {
  /** When it started (RFC 3339). */
  startedAt?: string;
}

/** A container that has exited. */
export interface ContainerStateTerminated {
  /** Exit code. */
  exitCode: number;
  /** Signal that killed it. */
  signal?: number;
  /** e.g. `Completed`, `Error`, `OOMKilled`. */
  reason?: string;
  /** The termination message. */
  message?: string;
  /** When it started (RFC 3339). */
  startedAt?: string;
  /** When it exited (RFC 3339). */
  finishedAt?: string;
  /** The runtime's container id. */
  containerID?: string;
}

/** Exactly one of waiting, running or terminated. */
export interface ContainerState {
  /** Waiting to start. */
  waiting?: ContainerStateWaiting;
  /** Running. */
  running?: ContainerStateRunning;
  /** Exited. */
  terminated?: ContainerStateTerminated;
}

/** Observed state of one container. */
export interface ContainerStatus {
  /** The container's name. */
  name: string;
  /** Current state. */
  state?: ContainerState;
  /** The previous run's state, after a restart. */
  lastState?: ContainerState;
  /** Passes its readiness probe. */
  ready: boolean;
  /** Times the container restarted. */
  restartCount: number;
  /** The image it runs. */
  image: string;
  /** The resolved image id (digest). */
  imageID: string;
  /** `<runtime>://<id>`. */
  containerID?: string;
  /** Has started and passed its startup probe. */
  started?: boolean;
}

/** An address of a pod. */
export interface PodIP {
  /** The address. */
  ip: string;
}

/** Observed state of a pod. */
export interface PodStatus {
  /** Lifecycle phase. */
  phase?: PodPhase;
  /** PodScheduled, Initialized, ContainersReady, Ready, … */
  conditions?: Condition[];
  /** Human-readable details. */
  message?: string;
  /** Machine-readable reason, e.g. `Evicted`. */
  reason?: string;
  /** The node's primary address. */
  hostIP?: string;
  /** The node's addresses. */
  hostIPs?: PodIP[];
  /** The pod's primary address. */
  podIP?: string;
  /** The pod's addresses (first equals `podIP`). */
  podIPs?: PodIP[];
  /** When the agent accepted the pod (RFC 3339). */
  startTime?: string;
  /** Init container states. */
  initContainerStatuses?: ContainerStatus[];
  /** Container states. */
  containerStatuses?: ContainerStatus[];
  /** `Guaranteed`, `Burstable` or `BestEffort`. */
  qosClass?: "Guaranteed" | "Burstable" | "BestEffort";
  /** Set when a higher-priority pod preempts this one. */
  nominatedNodeName?: string;
}

/** A group of containers scheduled together on one node. */
export interface Pod extends KubeObject {
  /** `v1`. */
  apiVersion?: "v1";
  /** `Pod`. */
  kind?: "Pod";
  /** Desired state. */
  spec?: PodSpec;
  /** Observed state. */
  status?: PodStatus;
}

/** A pod template, as embedded in workloads. */
export interface PodTemplateSpec {
  /** Metadata the pods get (labels must match the workload's selector). */
  metadata?: ObjectMeta;
  /** The pods' spec. */
  spec?: PodSpec;
}
