/**
 * Cluster-wide defaults and well-known names, in one place
 * (see ARCHITECTURE.md, "Defaults").
 *
 * @module
 */

/** Address range all pod IPs come from. */
export const CLUSTER_POD_CIDR = "10.42.0.0/16";
/** Prefix length of the pod range given to each node (`10.42.N.0/24`). */
export const NODE_POD_CIDR_PREFIX = 24;
/** Address range Service cluster IPs come from. */
export const SERVICE_CIDR = "10.43.0.0/16";
/** The cluster's DNS domain: `<svc>.<ns>.svc.cluster.local`. */
export const CLUSTER_DOMAIN = "cluster.local";
/** The containerd namespace node agents run containers in. */
export const CONTAINERD_NAMESPACE = "skiff";
/** The API server's HTTPS port. */
export const API_PORT = 6443;
/** The common name of the client certificate the API server presents to node agents, the only one they accept. */
export const APISERVER_CLIENT_COMMON_NAME = "skiff-apiserver";
/** Seconds between node heartbeats (Lease renewals and status updates). */
export const NODE_HEARTBEAT_SECONDS = 10;
/** Seconds without a heartbeat after which a node is marked NotReady. */
export const NODE_NOT_READY_SECONDS = 40;
/** Seconds pods stay on a NotReady or unreachable node before eviction. */
export const POD_EVICTION_SECONDS = 300;
/** Lowest port a NodePort Service may use. */
export const NODE_PORT_MIN = 30000;
/** Highest port a NodePort Service may use. */
export const NODE_PORT_MAX = 32767;

/** The scheduler pods get when they name none. */
export const DEFAULT_SCHEDULER_NAME = "default-scheduler";
/** The namespace objects land in when the request names none. */
export const DEFAULT_NAMESPACE = "default";
/** The namespace holding node heartbeat Leases. */
export const NODE_LEASE_NAMESPACE = "kube-node-lease";
/** The namespace for system components. */
export const SYSTEM_NAMESPACE = "kube-system";
/** Namespaces that exist from the start and cannot be deleted. */
export const INITIAL_NAMESPACES: readonly string[] = [
  DEFAULT_NAMESPACE,
  SYSTEM_NAMESPACE,
  "kube-public",
  NODE_LEASE_NAMESPACE,
];

/** Taint put on nodes whose Ready condition is False. */
export const TAINT_NODE_NOT_READY = "node.kubernetes.io/not-ready";
/** Taint put on nodes whose Ready condition is Unknown (no heartbeat). */
export const TAINT_NODE_UNREACHABLE = "node.kubernetes.io/unreachable";
/** Taint put on cordoned nodes (`spec.unschedulable`). */
export const TAINT_NODE_UNSCHEDULABLE = "node.kubernetes.io/unschedulable";
/** Taint put on nodes under memory pressure. */
export const TAINT_NODE_MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure";
/** Taint put on nodes under disk pressure. */
export const TAINT_NODE_DISK_PRESSURE = "node.kubernetes.io/disk-pressure";

/** Node label holding its hostname. */
export const LABEL_HOSTNAME = "kubernetes.io/hostname";
/** Node label holding its OS (`linux`). */
export const LABEL_OS = "kubernetes.io/os";
/** Node label holding its CPU architecture (`amd64`, `arm64`). */
export const LABEL_ARCH = "kubernetes.io/arch";
/** Node label holding its zone. */
export const LABEL_ZONE = "topology.kubernetes.io/zone";
/** Node label holding its region. */
export const LABEL_REGION = "topology.kubernetes.io/region";
/** Namespace label holding the namespace's own name. */
export const LABEL_NAMESPACE_NAME = "kubernetes.io/metadata.name";
/** EndpointSlice label naming its Service. */
export const LABEL_SERVICE_NAME = "kubernetes.io/service-name";
/** Label Deployments put on ReplicaSets and pods to tell templates apart. */
export const LABEL_POD_TEMPLATE_HASH = "pod-template-hash";

/** Node annotation: the hottest thermal zone in °C, as the agent last read it (`"61.5"`). */
export const ANNOTATION_TEMPERATURE_CELSIUS = "hardware.skiff.dev/temperature-celsius";
/** Node annotation: `"true"` while the node throttles its CPU (heat or undervoltage). */
export const ANNOTATION_THROTTLED = "hardware.skiff.dev/throttled";
/** Node annotation: measured CPU use, percent of the node's CPUs (`"37.2"`). */
export const ANNOTATION_CPU_USAGE_PERCENT = "hardware.skiff.dev/cpu-usage-percent";
/** Node annotation: measured memory working set, percent of the node's memory. */
export const ANNOTATION_MEMORY_USAGE_PERCENT = "hardware.skiff.dev/memory-usage-percent";
/** Node condition type: `True` while the node is too hot or throttled. */
export const CONDITION_THERMAL_PRESSURE = "ThermalPressure";
/** Taint the node lifecycle puts on thermally pressured nodes; pods tolerating it skip the Thermal filter. */
export const TAINT_NODE_THERMAL_PRESSURE = "node.skiff.dev/thermal-pressure";
/** Extended resources for host devices: `devices.skiff.dev/serial`, `…/camera`, `…/gpio`. */
export const DEVICE_RESOURCE_PREFIX = "devices.skiff.dev/";
/** Pod annotation: the architectures the pod's images run on, comma-separated (`arm64` or `amd64,arm64`). */
export const ANNOTATION_POD_ARCH = "skiff.dev/arch";
/** The scheduler gives no new pods to nodes hotter than this (°C); the agent reports ThermalPressure at 80 °C. */
export const DEFAULT_MAX_TEMPERATURE_CELSIUS = 75;

/** The CSI driver of Skiff's node-local volumes (csi-local). */
export const LOCAL_CSI_DRIVER = "local.csi.skiff.dev";
/** The StorageClass the control plane creates at first start. */
export const DEFAULT_STORAGE_CLASS = "local";
/** StorageClass annotation: `"true"` marks the class claims without `storageClassName` get. */
export const ANNOTATION_DEFAULT_STORAGE_CLASS = "storageclass.kubernetes.io/is-default-class";
/** Claim annotation: the node the scheduler picked for a WaitForFirstConsumer claim's first pod. */
export const ANNOTATION_SELECTED_NODE = "volume.kubernetes.io/selected-node";
/** Claim annotation: the provisioner (CSI driver) expected to make the claim's volume. */
export const ANNOTATION_STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner";
/** The beta spelling of {@linkcode ANNOTATION_STORAGE_PROVISIONER}, which older tools read. */
export const ANNOTATION_BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner";
/** Volume annotation: the provisioner (CSI driver) that made it. */
export const ANNOTATION_PROVISIONED_BY = "pv.kubernetes.io/provisioned-by";
/** Claim annotation: `"yes"` once the claim's binding is complete. */
export const ANNOTATION_BIND_COMPLETED = "pv.kubernetes.io/bind-completed";
/** Claim and volume annotation: `"yes"` when the binding was made by the controller, not the user. */
export const ANNOTATION_BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller";
/** Finalizer holding a claim's deletion while a pod uses it. */
export const FINALIZER_PVC_PROTECTION = "kubernetes.io/pvc-protection";
/** Finalizer holding a volume's deletion while it is bound. */
export const FINALIZER_PV_PROTECTION = "kubernetes.io/pv-protection";
/** Finalizer holding a provisioned volume's deletion until its provisioner deleted the storage. */
export const FINALIZER_EXTERNAL_PROVISIONER = "external-provisioner.volume.kubernetes.io/finalizer";
/**
 * Node label prefix: `csi.skiff.dev/<driver>: "true"` says the node's agent
 * provisions volumes of that CSI driver on the node.
 */
export const LABEL_CSI_DRIVER_PREFIX = "csi.skiff.dev/";
/**
 * Node annotation prefix: `capacity.csi.skiff.dev/<driver>` holds the bytes
 * that driver can still give new volumes on the node, as its agent last read them.
 */
export const ANNOTATION_CSI_CAPACITY_PREFIX = "capacity.csi.skiff.dev/";

/** Node label: `"true"` lets the cloud controller put the node to sleep when idle and wake it with Wake-on-LAN. */
export const LABEL_WAKE_ON_LAN = "power.skiff.dev/wake-on-lan";
/** Node annotation: the power state the cloud controller put the node in, `Sleeping` or `Waking`. */
export const ANNOTATION_POWER_STATE = "power.skiff.dev/state";
/** Node annotation: the MAC address of the node's InternalIP interface, reported by its agent for Wake-on-LAN. */
export const ANNOTATION_POWER_MAC = "power.skiff.dev/mac";
/** Node annotation: how the agent puts the node to sleep when asked, `suspend` or `poweroff`. */
export const ANNOTATION_POWER_SLEEP_MODE = "power.skiff.dev/sleep-mode";
/** Node annotation: the id (a time) of the cloud controller's request that the node sleep. */
export const ANNOTATION_POWER_SLEEP_REQUEST = "power.skiff.dev/sleep-request";
/** Node annotation: the id of the last sleep request the node's agent carried out (so it acts on each once). */
export const ANNOTATION_POWER_SLEEP_DONE = "power.skiff.dev/sleep-done";
/**
 * Lease name prefix, in kube-system: `skiff-lb-<address with dashes>` is
 * held by the node that answers for that LoadBalancer address.
 */
export const LB_LEASE_PREFIX = "skiff-lb-";
