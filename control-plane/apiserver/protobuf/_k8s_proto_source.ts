// The subset of Kubernetes' protobuf schema that Skiff's API server decodes, one entry per upstream file
// (k8s.io/api and k8s.io/apimachinery `generated.proto`). Package, message and field names and every field number
// are Kubernetes' own, read from the descriptors kubectl 1.32 carries; comments and the messages of kinds Skiff does
// not serve are left out, and so are the cloud-provider volume sources of `VolumeSource` (decoding one fails with a
// clear error). Two Skiff options, read only by the decoder (protobufjs keeps options it has no definition for):
// `(skiff.pointer)` marks a field that is a pointer in Go, whose zero value is sent on purpose and kept, where every
// other zero scalar is dropped as Go's `omitempty` would; `(skiff.inline)` marks an embedded struct whose fields JSON
// lists in the parent (`Volume.volumeSource`, `Probe.handler`, the `localObjectReference` of key selectors and
// configMap/secret sources).

/**
 * Kubernetes protobuf schema text, keyed by the upstream file it is a subset of, carried inside the program so that
 * bundles need no file beside them.
 */
export const K8S_PROTO_FILES: Readonly<Record<string, string>> = {
  "k8s.io/api/apps/v1/generated.proto": `syntax = "proto2";
package k8s.io.api.apps.v1;

message Deployment {
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;
  optional DeploymentSpec spec = 2;
  optional DeploymentStatus status = 3;
}

message DeploymentCondition {
  optional string type = 1;
  optional string status = 2;
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.Time lastUpdateTime = 6;
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.Time lastTransitionTime = 7;
  optional string reason = 4;
  optional string message = 5;
}

message DeploymentSpec {
  optional int32 replicas = 1 [(skiff.pointer) = true];
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector selector = 2;
  optional .k8s.io.api.core.v1.PodTemplateSpec template = 3;
  optional DeploymentStrategy strategy = 4;
  optional int32 minReadySeconds = 5;
  optional int32 revisionHistoryLimit = 6 [(skiff.pointer) = true];
  optional bool paused = 7;
  optional int32 progressDeadlineSeconds = 9 [(skiff.pointer) = true];
}

message DeploymentStatus {
  optional int64 observedGeneration = 1;
  optional int32 replicas = 2;
  optional int32 updatedReplicas = 3;
  optional int32 readyReplicas = 7;
  optional int32 availableReplicas = 4;
  optional int32 unavailableReplicas = 5;
  repeated DeploymentCondition conditions = 6;
  optional int32 collisionCount = 8 [(skiff.pointer) = true];
}

message DeploymentStrategy {
  optional string type = 1;
  optional RollingUpdateDeployment rollingUpdate = 2;
}

message RollingUpdateDeployment {
  optional .k8s.io.apimachinery.pkg.util.intstr.IntOrString maxUnavailable = 1 [(skiff.pointer) = true];
  optional .k8s.io.apimachinery.pkg.util.intstr.IntOrString maxSurge = 2 [(skiff.pointer) = true];
}
`,
  "k8s.io/api/authorization/v1/generated.proto": `syntax = "proto2";
package k8s.io.api.authorization.v1;

message NonResourceAttributes {
  optional string path = 1;
  optional string verb = 2;
}

message NonResourceRule {
  repeated string verbs = 1;
  repeated string nonResourceURLs = 2;
}

message ResourceAttributes {
  optional string namespace = 1;
  optional string verb = 2;
  optional string group = 3;
  optional string version = 4;
  optional string resource = 5;
  optional string subresource = 6;
  optional string name = 7;
}

message ResourceRule {
  repeated string verbs = 1;
  repeated string apiGroups = 2;
  repeated string resources = 3;
  repeated string resourceNames = 4;
}

message SelfSubjectAccessReview {
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;
  optional SelfSubjectAccessReviewSpec spec = 2;
  optional SubjectAccessReviewStatus status = 3;
}

message SelfSubjectAccessReviewSpec {
  optional ResourceAttributes resourceAttributes = 1;
  optional NonResourceAttributes nonResourceAttributes = 2;
}

message SelfSubjectRulesReview {
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;
  optional SelfSubjectRulesReviewSpec spec = 2;
  optional SubjectRulesReviewStatus status = 3;
}

message SelfSubjectRulesReviewSpec {
  optional string namespace = 1;
}

message SubjectAccessReviewStatus {
  optional bool allowed = 1;
  optional bool denied = 4;
  optional string reason = 2;
  optional string evaluationError = 3;
}

message SubjectRulesReviewStatus {
  repeated ResourceRule resourceRules = 1;
  repeated NonResourceRule nonResourceRules = 2;
  optional bool incomplete = 3;
  optional string evaluationError = 4;
}
`,
  "k8s.io/api/core/v1/generated.proto": `syntax = "proto2";
package k8s.io.api.core.v1;

message Affinity {
  optional NodeAffinity nodeAffinity = 1;
  optional PodAffinity podAffinity = 2;
  optional PodAntiAffinity podAntiAffinity = 3;
}

message AppArmorProfile {
  optional string type = 1;
  optional string localhostProfile = 2 [(skiff.pointer) = true];
}

message Binding {
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;
  optional ObjectReference target = 2;
}

message CSIVolumeSource {
  optional string driver = 1;
  optional bool readOnly = 2 [(skiff.pointer) = true];
  optional string fsType = 3 [(skiff.pointer) = true];
  map<string, string> volumeAttributes = 4;
  optional LocalObjectReference nodePublishSecretRef = 5;
}

message Capabilities {
  repeated string add = 1;
  repeated string drop = 2;
}

message ClientIPConfig {
  optional int32 timeoutSeconds = 1 [(skiff.pointer) = true];
}

message ClusterTrustBundleProjection {
  optional string name = 1 [(skiff.pointer) = true];
  optional string signerName = 2 [(skiff.pointer) = true];
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector labelSelector = 3;
  optional bool optional = 5 [(skiff.pointer) = true];
  optional string path = 4;
}

message ConfigMap {
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;
  optional bool immutable = 4 [(skiff.pointer) = true];
  map<string, string> data = 2;
  map<string, bytes> binaryData = 3;
}

message ConfigMapEnvSource {
  optional LocalObjectReference localObjectReference = 1 [(skiff.inline) = true];
  optional bool optional = 2 [(skiff.pointer) = true];
}

message ConfigMapKeySelector {
  optional LocalObjectReference localObjectReference = 1 [(skiff.inline) = true];
  optional string key = 2;
  optional bool optional = 3 [(skiff.pointer) = true];
}

message ConfigMapProjection {
  optional LocalObjectReference localObjectReference = 1 [(skiff.inline) = true];
  repeated KeyToPath items = 2;
  optional bool optional = 4 [(skiff.pointer) = true];
}

message ConfigMapVolumeSource {
  optional LocalObjectReference localObjectReference = 1 [(skiff.inline) = true];
  repeated KeyToPath items = 2;
  optional int32 defaultMode = 3 [(skiff.pointer) = true];
  optional bool optional = 4 [(skiff.pointer) = true];
}

message Container {
  optional string name = 1;
  optional string image = 2;
  repeated string command = 3;
  repeated string args = 4;
  optional string workingDir = 5;
  repeated ContainerPort ports = 6;
  repeated EnvFromSource envFrom = 19;
  repeated EnvVar env = 7;
  optional ResourceRequirements resources = 8;
  repeated ContainerResizePolicy resizePolicy = 23;
  optional string restartPolicy = 24 [(skiff.pointer) = true];
  repeated VolumeMount volumeMounts = 9;
  repeated VolumeDevice volumeDevices = 21;
  optional Probe livenessProbe = 10;
  optional Probe readinessProbe = 11;
  optional Probe startupProbe = 22;
  optional Lifecycle lifecycle = 12;
  optional string terminationMessagePath = 13;
  optional string terminationMessagePolicy = 20;
  optional string imagePullPolicy = 14;
  optional SecurityContext securityContext = 15;
  optional bool stdin = 16;
  optional bool stdinOnce = 17;
  optional bool tty = 18;
}

message ContainerPort {
  optional string name = 1;
  optional int32 hostPort = 2;
  optional int32 containerPort = 3;
  optional string protocol = 4;
  optional string hostIP = 5;
}

message ContainerResizePolicy {
  optional string resourceName = 1;
  optional string restartPolicy = 2;
}

message ContainerState {
  optional ContainerStateWaiting waiting = 1;
  optional ContainerStateRunning running = 2;
  optional ContainerStateTerminated terminated = 3;
}

message ContainerStateRunning {
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.Time startedAt = 1;
}

message ContainerStateTerminated {
  optional int32 exitCode = 1;
  optional int32 signal = 2;
  optional string reason = 3;
  optional string message = 4;
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.Time startedAt = 5;
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.Time finishedAt = 6;
  optional string containerID = 7;
}

message ContainerStateWaiting {
  optional string reason = 1;
  optional string message = 2;
}

message ContainerStatus {
  optional string name = 1;
  optional ContainerState state = 2;
  optional ContainerState lastState = 3;
  optional bool ready = 4;
  optional int32 restartCount = 5;
  optional string image = 6;
  optional string imageID = 7;
  optional string containerID = 8;
  optional bool started = 9 [(skiff.pointer) = true];
  map<string, .k8s.io.apimachinery.pkg.api.resource.Quantity> allocatedResources = 10;
  optional ResourceRequirements resources = 11;
  repeated VolumeMountStatus volumeMounts = 12;
  optional ContainerUser user = 13;
  repeated ResourceStatus allocatedResourcesStatus = 14;
}

message ContainerUser {
  optional LinuxContainerUser linux = 1;
}

message DownwardAPIProjection {
  repeated DownwardAPIVolumeFile items = 1;
}

message DownwardAPIVolumeFile {
  optional string path = 1;
  optional ObjectFieldSelector fieldRef = 2;
  optional ResourceFieldSelector resourceFieldRef = 3;
  optional int32 mode = 4 [(skiff.pointer) = true];
}

message DownwardAPIVolumeSource {
  repeated DownwardAPIVolumeFile items = 1;
  optional int32 defaultMode = 2 [(skiff.pointer) = true];
}

message EmptyDirVolumeSource {
  optional string medium = 1;
  optional .k8s.io.apimachinery.pkg.api.resource.Quantity sizeLimit = 2;
}

message EnvFromSource {
  optional string prefix = 1;
  optional ConfigMapEnvSource configMapRef = 2;
  optional SecretEnvSource secretRef = 3;
}

message EnvVar {
  optional string name = 1;
  optional string value = 2;
  optional EnvVarSource valueFrom = 3;
}

message EnvVarSource {
  optional ObjectFieldSelector fieldRef = 1;
  optional ResourceFieldSelector resourceFieldRef = 2;
  optional ConfigMapKeySelector configMapKeyRef = 3;
  optional SecretKeySelector secretKeyRef = 4;
}

message EphemeralContainer {
  optional EphemeralContainerCommon ephemeralContainerCommon = 1 [(skiff.inline) = true];
  optional string targetContainerName = 2;
}

message EphemeralContainerCommon {
  optional string name = 1;
  optional string image = 2;
  repeated string command = 3;
  repeated string args = 4;
  optional string workingDir = 5;
  repeated ContainerPort ports = 6;
  repeated EnvFromSource envFrom = 19;
  repeated EnvVar env = 7;
  optional ResourceRequirements resources = 8;
  repeated ContainerResizePolicy resizePolicy = 23;
  optional string restartPolicy = 24 [(skiff.pointer) = true];
  repeated VolumeMount volumeMounts = 9;
  repeated VolumeDevice volumeDevices = 21;
  optional Probe livenessProbe = 10;
  optional Probe readinessProbe = 11;
  optional Probe startupProbe = 22;
  optional Lifecycle lifecycle = 12;
  optional string terminationMessagePath = 13;
  optional string terminationMessagePolicy = 20;
  optional string imagePullPolicy = 14;
  optional SecurityContext securityContext = 15;
  optional bool stdin = 16;
  optional bool stdinOnce = 17;
  optional bool tty = 18;
}

message ExecAction {
  repeated string command = 1;
}

message GRPCAction {
  optional int32 port = 1;
  optional string service = 2 [(skiff.pointer) = true];
}

message HTTPGetAction {
  optional string path = 1;
  optional .k8s.io.apimachinery.pkg.util.intstr.IntOrString port = 2;
  optional string host = 3;
  optional string scheme = 4;
  repeated HTTPHeader httpHeaders = 5;
}

message HTTPHeader {
  optional string name = 1;
  optional string value = 2;
}

message HostAlias {
  optional string ip = 1;
  repeated string hostnames = 2;
}

message HostIP {
  optional string ip = 1;
}

message HostPathVolumeSource {
  optional string path = 1;
  optional string type = 2 [(skiff.pointer) = true];
}

message KeyToPath {
  optional string key = 1;
  optional string path = 2;
  optional int32 mode = 3 [(skiff.pointer) = true];
}

message Lifecycle {
  optional LifecycleHandler postStart = 1;
  optional LifecycleHandler preStop = 2;
}

message LifecycleHandler {
  optional ExecAction exec = 1;
  optional HTTPGetAction httpGet = 2;
  optional TCPSocketAction tcpSocket = 3;
  optional SleepAction sleep = 4;
}

message LinuxContainerUser {
  optional int64 uid = 1;
  optional int64 gid = 2;
  repeated int64 supplementalGroups = 3;
}

message LoadBalancerIngress {
  optional string ip = 1;
  optional string hostname = 2;
  optional string ipMode = 3 [(skiff.pointer) = true];
  repeated PortStatus ports = 4;
}

message LoadBalancerStatus {
  repeated LoadBalancerIngress ingress = 1;
}

message LocalObjectReference {
  optional string name = 1;
}

message ModifyVolumeStatus {
  optional string targetVolumeAttributesClassName = 1;
  optional string status = 2;
}

message Namespace {
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;
  optional NamespaceSpec spec = 2;
  optional NamespaceStatus status = 3;
}

message NamespaceCondition {
  optional string type = 1;
  optional string status = 2;
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.Time lastTransitionTime = 4;
  optional string reason = 5;
  optional string message = 6;
}

message NamespaceSpec {
  repeated string finalizers = 1;
}

message NamespaceStatus {
  optional string phase = 1;
  repeated NamespaceCondition conditions = 2;
}

message NodeAffinity {
  optional NodeSelector requiredDuringSchedulingIgnoredDuringExecution = 1;
  repeated PreferredSchedulingTerm preferredDuringSchedulingIgnoredDuringExecution = 2;
}

message NodeSelector {
  repeated NodeSelectorTerm nodeSelectorTerms = 1;
}

message NodeSelectorRequirement {
  optional string key = 1;
  optional string operator = 2;
  repeated string values = 3;
}

message NodeSelectorTerm {
  repeated NodeSelectorRequirement matchExpressions = 1;
  repeated NodeSelectorRequirement matchFields = 2;
}

message ObjectFieldSelector {
  optional string apiVersion = 1;
  optional string fieldPath = 2;
}

message ObjectReference {
  optional string kind = 1;
  optional string namespace = 2;
  optional string name = 3;
  optional string uid = 4;
  optional string apiVersion = 5;
  optional string resourceVersion = 6;
  optional string fieldPath = 7;
}

message PersistentVolumeClaim {
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;
  optional PersistentVolumeClaimSpec spec = 2;
  optional PersistentVolumeClaimStatus status = 3;
}

message PersistentVolumeClaimCondition {
  optional string type = 1;
  optional string status = 2;
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.Time lastProbeTime = 3;
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.Time lastTransitionTime = 4;
  optional string reason = 5;
  optional string message = 6;
}

message PersistentVolumeClaimSpec {
  repeated string accessModes = 1;
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector selector = 4;
  optional VolumeResourceRequirements resources = 2;
  optional string volumeName = 3;
  optional string storageClassName = 5 [(skiff.pointer) = true];
  optional string volumeMode = 6 [(skiff.pointer) = true];
  optional TypedLocalObjectReference dataSource = 7;
  optional TypedObjectReference dataSourceRef = 8;
  optional string volumeAttributesClassName = 9 [(skiff.pointer) = true];
}

message PersistentVolumeClaimStatus {
  optional string phase = 1;
  repeated string accessModes = 2;
  map<string, .k8s.io.apimachinery.pkg.api.resource.Quantity> capacity = 3;
  repeated PersistentVolumeClaimCondition conditions = 4;
  map<string, .k8s.io.apimachinery.pkg.api.resource.Quantity> allocatedResources = 5;
  map<string, string> allocatedResourceStatuses = 7;
  optional string currentVolumeAttributesClassName = 8 [(skiff.pointer) = true];
  optional ModifyVolumeStatus modifyVolumeStatus = 9;
}

message PersistentVolumeClaimVolumeSource {
  optional string claimName = 1;
  optional bool readOnly = 2;
}

message Pod {
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;
  optional PodSpec spec = 2;
  optional PodStatus status = 3;
}

message PodAffinity {
  repeated PodAffinityTerm requiredDuringSchedulingIgnoredDuringExecution = 1;
  repeated WeightedPodAffinityTerm preferredDuringSchedulingIgnoredDuringExecution = 2;
}

message PodAffinityTerm {
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector labelSelector = 1;
  repeated string namespaces = 2;
  optional string topologyKey = 3;
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector namespaceSelector = 4;
  repeated string matchLabelKeys = 5;
  repeated string mismatchLabelKeys = 6;
}

message PodAntiAffinity {
  repeated PodAffinityTerm requiredDuringSchedulingIgnoredDuringExecution = 1;
  repeated WeightedPodAffinityTerm preferredDuringSchedulingIgnoredDuringExecution = 2;
}

message PodCondition {
  optional string type = 1;
  optional string status = 2;
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.Time lastProbeTime = 3;
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.Time lastTransitionTime = 4;
  optional string reason = 5;
  optional string message = 6;
}

message PodDNSConfig {
  repeated string nameservers = 1;
  repeated string searches = 2;
  repeated PodDNSConfigOption options = 3;
}

message PodDNSConfigOption {
  optional string name = 1;
  optional string value = 2;
}

message PodIP {
  optional string ip = 1;
}

message PodOS {
  optional string name = 1;
}

message PodReadinessGate {
  optional string conditionType = 1;
}

message PodResourceClaim {
  optional string name = 1;
  optional string resourceClaimName = 3 [(skiff.pointer) = true];
  optional string resourceClaimTemplateName = 4 [(skiff.pointer) = true];
}

message PodResourceClaimStatus {
  optional string name = 1;
  optional string resourceClaimName = 2 [(skiff.pointer) = true];
}

message PodSchedulingGate {
  optional string name = 1;
}

message PodSecurityContext {
  optional SELinuxOptions seLinuxOptions = 1;
  optional WindowsSecurityContextOptions windowsOptions = 8;
  optional int64 runAsUser = 2 [(skiff.pointer) = true];
  optional int64 runAsGroup = 6 [(skiff.pointer) = true];
  optional bool runAsNonRoot = 3 [(skiff.pointer) = true];
  repeated int64 supplementalGroups = 4;
  optional string supplementalGroupsPolicy = 12 [(skiff.pointer) = true];
  optional int64 fsGroup = 5 [(skiff.pointer) = true];
  repeated Sysctl sysctls = 7;
  optional string fsGroupChangePolicy = 9 [(skiff.pointer) = true];
  optional SeccompProfile seccompProfile = 10;
  optional AppArmorProfile appArmorProfile = 11;
  optional string seLinuxChangePolicy = 13 [(skiff.pointer) = true];
}

message PodSpec {
  repeated Volume volumes = 1;
  repeated Container initContainers = 20;
  repeated Container containers = 2;
  repeated EphemeralContainer ephemeralContainers = 34;
  optional string restartPolicy = 3;
  optional int64 terminationGracePeriodSeconds = 4 [(skiff.pointer) = true];
  optional int64 activeDeadlineSeconds = 5 [(skiff.pointer) = true];
  optional string dnsPolicy = 6;
  map<string, string> nodeSelector = 7;
  optional string serviceAccountName = 8;
  optional string serviceAccount = 9;
  optional bool automountServiceAccountToken = 21 [(skiff.pointer) = true];
  optional string nodeName = 10;
  optional bool hostNetwork = 11;
  optional bool hostPID = 12;
  optional bool hostIPC = 13;
  optional bool shareProcessNamespace = 27 [(skiff.pointer) = true];
  optional PodSecurityContext securityContext = 14;
  repeated LocalObjectReference imagePullSecrets = 15;
  optional string hostname = 16;
  optional string subdomain = 17;
  optional Affinity affinity = 18;
  optional string schedulerName = 19;
  repeated Toleration tolerations = 22;
  repeated HostAlias hostAliases = 23;
  optional string priorityClassName = 24;
  optional int32 priority = 25 [(skiff.pointer) = true];
  optional PodDNSConfig dnsConfig = 26;
  repeated PodReadinessGate readinessGates = 28;
  optional string runtimeClassName = 29 [(skiff.pointer) = true];
  optional bool enableServiceLinks = 30 [(skiff.pointer) = true];
  optional string preemptionPolicy = 31 [(skiff.pointer) = true];
  map<string, .k8s.io.apimachinery.pkg.api.resource.Quantity> overhead = 32;
  repeated TopologySpreadConstraint topologySpreadConstraints = 33;
  optional bool setHostnameAsFQDN = 35 [(skiff.pointer) = true];
  optional PodOS os = 36;
  optional bool hostUsers = 37 [(skiff.pointer) = true];
  repeated PodSchedulingGate schedulingGates = 38;
  repeated PodResourceClaim resourceClaims = 39;
  optional ResourceRequirements resources = 40;
}

message PodStatus {
  optional string phase = 1;
  repeated PodCondition conditions = 2;
  optional string message = 3;
  optional string reason = 4;
  optional string nominatedNodeName = 11;
  optional string hostIP = 5;
  repeated HostIP hostIPs = 16;
  optional string podIP = 6;
  repeated PodIP podIPs = 12;
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.Time startTime = 7;
  repeated ContainerStatus initContainerStatuses = 10;
  repeated ContainerStatus containerStatuses = 8;
  optional string qosClass = 9;
  repeated ContainerStatus ephemeralContainerStatuses = 13;
  optional string resize = 14;
  repeated PodResourceClaimStatus resourceClaimStatuses = 15;
}

message PodTemplateSpec {
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;
  optional PodSpec spec = 2;
}

message PortStatus {
  optional int32 port = 1;
  optional string protocol = 2;
  optional string error = 3 [(skiff.pointer) = true];
}

message PreferredSchedulingTerm {
  optional int32 weight = 1;
  optional NodeSelectorTerm preference = 2;
}

message Probe {
  optional ProbeHandler handler = 1 [(skiff.inline) = true];
  optional int32 initialDelaySeconds = 2;
  optional int32 timeoutSeconds = 3;
  optional int32 periodSeconds = 4;
  optional int32 successThreshold = 5;
  optional int32 failureThreshold = 6;
  optional int64 terminationGracePeriodSeconds = 7 [(skiff.pointer) = true];
}

message ProbeHandler {
  optional ExecAction exec = 1;
  optional HTTPGetAction httpGet = 2;
  optional TCPSocketAction tcpSocket = 3;
  optional GRPCAction grpc = 4;
}

message ProjectedVolumeSource {
  repeated VolumeProjection sources = 1;
  optional int32 defaultMode = 2;
}

message ResourceClaim {
  optional string name = 1;
  optional string request = 2;
}

message ResourceFieldSelector {
  optional string containerName = 1;
  optional string resource = 2;
  optional .k8s.io.apimachinery.pkg.api.resource.Quantity divisor = 3;
}

message ResourceHealth {
  optional string resourceID = 1;
  optional string health = 2;
}

message ResourceRequirements {
  map<string, .k8s.io.apimachinery.pkg.api.resource.Quantity> limits = 1;
  map<string, .k8s.io.apimachinery.pkg.api.resource.Quantity> requests = 2;
  repeated ResourceClaim claims = 3;
}

message ResourceStatus {
  optional string name = 1;
  repeated ResourceHealth resources = 2;
}

message SELinuxOptions {
  optional string user = 1;
  optional string role = 2;
  optional string type = 3;
  optional string level = 4;
}

message SeccompProfile {
  optional string type = 1;
  optional string localhostProfile = 2 [(skiff.pointer) = true];
}

message Secret {
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;
  optional bool immutable = 5 [(skiff.pointer) = true];
  map<string, bytes> data = 2;
  map<string, string> stringData = 4;
  optional string type = 3;
}

message SecretEnvSource {
  optional LocalObjectReference localObjectReference = 1 [(skiff.inline) = true];
  optional bool optional = 2 [(skiff.pointer) = true];
}

message SecretKeySelector {
  optional LocalObjectReference localObjectReference = 1 [(skiff.inline) = true];
  optional string key = 2;
  optional bool optional = 3 [(skiff.pointer) = true];
}

message SecretProjection {
  optional LocalObjectReference localObjectReference = 1 [(skiff.inline) = true];
  repeated KeyToPath items = 2;
  optional bool optional = 4 [(skiff.pointer) = true];
}

message SecretVolumeSource {
  optional string secretName = 1;
  repeated KeyToPath items = 2;
  optional int32 defaultMode = 3 [(skiff.pointer) = true];
  optional bool optional = 4 [(skiff.pointer) = true];
}

message SecurityContext {
  optional Capabilities capabilities = 1;
  optional bool privileged = 2 [(skiff.pointer) = true];
  optional SELinuxOptions seLinuxOptions = 3;
  optional WindowsSecurityContextOptions windowsOptions = 10;
  optional int64 runAsUser = 4 [(skiff.pointer) = true];
  optional int64 runAsGroup = 8 [(skiff.pointer) = true];
  optional bool runAsNonRoot = 5 [(skiff.pointer) = true];
  optional bool readOnlyRootFilesystem = 6 [(skiff.pointer) = true];
  optional bool allowPrivilegeEscalation = 7 [(skiff.pointer) = true];
  optional string procMount = 9 [(skiff.pointer) = true];
  optional SeccompProfile seccompProfile = 11;
  optional AppArmorProfile appArmorProfile = 12;
}

message Service {
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;
  optional ServiceSpec spec = 2;
  optional ServiceStatus status = 3;
}

message ServiceAccountTokenProjection {
  optional string audience = 1;
  optional int64 expirationSeconds = 2 [(skiff.pointer) = true];
  optional string path = 3;
}

message ServicePort {
  optional string name = 1;
  optional string protocol = 2;
  optional string appProtocol = 6 [(skiff.pointer) = true];
  optional int32 port = 3;
  optional .k8s.io.apimachinery.pkg.util.intstr.IntOrString targetPort = 4;
  optional int32 nodePort = 5;
}

message ServiceSpec {
  repeated ServicePort ports = 1;
  map<string, string> selector = 2;
  optional string clusterIP = 3;
  repeated string clusterIPs = 18;
  optional string type = 4;
  repeated string externalIPs = 5;
  optional string sessionAffinity = 7;
  optional string loadBalancerIP = 8;
  repeated string loadBalancerSourceRanges = 9;
  optional string externalName = 10;
  optional string externalTrafficPolicy = 11;
  optional int32 healthCheckNodePort = 12;
  optional bool publishNotReadyAddresses = 13;
  optional SessionAffinityConfig sessionAffinityConfig = 14;
  repeated string ipFamilies = 19;
  optional string ipFamilyPolicy = 17 [(skiff.pointer) = true];
  optional bool allocateLoadBalancerNodePorts = 20 [(skiff.pointer) = true];
  optional string loadBalancerClass = 21 [(skiff.pointer) = true];
  optional string internalTrafficPolicy = 22 [(skiff.pointer) = true];
  optional string trafficDistribution = 23 [(skiff.pointer) = true];
}

message ServiceStatus {
  optional LoadBalancerStatus loadBalancer = 1;
  repeated .k8s.io.apimachinery.pkg.apis.meta.v1.Condition conditions = 2;
}

message SessionAffinityConfig {
  optional ClientIPConfig clientIP = 1;
}

message SleepAction {
  optional int64 seconds = 1;
}

message Sysctl {
  optional string name = 1;
  optional string value = 2;
}

message TCPSocketAction {
  optional .k8s.io.apimachinery.pkg.util.intstr.IntOrString port = 1;
  optional string host = 2;
}

message Toleration {
  optional string key = 1;
  optional string operator = 2;
  optional string value = 3;
  optional string effect = 4;
  optional int64 tolerationSeconds = 5 [(skiff.pointer) = true];
}

message TopologySpreadConstraint {
  optional int32 maxSkew = 1;
  optional string topologyKey = 2;
  optional string whenUnsatisfiable = 3;
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector labelSelector = 4;
  optional int32 minDomains = 5 [(skiff.pointer) = true];
  optional string nodeAffinityPolicy = 6 [(skiff.pointer) = true];
  optional string nodeTaintsPolicy = 7 [(skiff.pointer) = true];
  repeated string matchLabelKeys = 8;
}

message TypedLocalObjectReference {
  optional string apiGroup = 1 [(skiff.pointer) = true];
  optional string kind = 2;
  optional string name = 3;
}

message TypedObjectReference {
  optional string apiGroup = 1 [(skiff.pointer) = true];
  optional string kind = 2;
  optional string name = 3;
  optional string namespace = 4 [(skiff.pointer) = true];
}

message Volume {
  optional string name = 1;
  optional VolumeSource volumeSource = 2 [(skiff.inline) = true];
}

message VolumeDevice {
  optional string name = 1;
  optional string devicePath = 2;
}

message VolumeMount {
  optional string name = 1;
  optional bool readOnly = 2;
  optional string recursiveReadOnly = 7 [(skiff.pointer) = true];
  optional string mountPath = 3;
  optional string subPath = 4;
  optional string mountPropagation = 5 [(skiff.pointer) = true];
  optional string subPathExpr = 6;
}

message VolumeMountStatus {
  optional string name = 1;
  optional string mountPath = 2;
  optional bool readOnly = 3;
  optional string recursiveReadOnly = 4 [(skiff.pointer) = true];
}

message VolumeProjection {
  optional SecretProjection secret = 1;
  optional DownwardAPIProjection downwardAPI = 2;
  optional ConfigMapProjection configMap = 3;
  optional ServiceAccountTokenProjection serviceAccountToken = 4;
  optional ClusterTrustBundleProjection clusterTrustBundle = 5;
}

message VolumeResourceRequirements {
  map<string, .k8s.io.apimachinery.pkg.api.resource.Quantity> limits = 1;
  map<string, .k8s.io.apimachinery.pkg.api.resource.Quantity> requests = 2;
}

message VolumeSource {
  optional HostPathVolumeSource hostPath = 1;
  optional EmptyDirVolumeSource emptyDir = 2;
  optional SecretVolumeSource secret = 6;
  optional PersistentVolumeClaimVolumeSource persistentVolumeClaim = 10;
  optional DownwardAPIVolumeSource downwardAPI = 16;
  optional ConfigMapVolumeSource configMap = 19;
  optional ProjectedVolumeSource projected = 26;
  optional CSIVolumeSource csi = 28;
}

message WeightedPodAffinityTerm {
  optional int32 weight = 1;
  optional PodAffinityTerm podAffinityTerm = 2;
}

message WindowsSecurityContextOptions {
  optional string gmsaCredentialSpecName = 1 [(skiff.pointer) = true];
  optional string gmsaCredentialSpec = 2 [(skiff.pointer) = true];
  optional string runAsUserName = 3 [(skiff.pointer) = true];
  optional bool hostProcess = 4 [(skiff.pointer) = true];
}
`,
  "k8s.io/api/policy/v1/generated.proto": `syntax = "proto2";
package k8s.io.api.policy.v1;

message Eviction {
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions deleteOptions = 2;
}
`,
  "k8s.io/apimachinery/pkg/api/resource/generated.proto": `syntax = "proto2";
package k8s.io.apimachinery.pkg.api.resource;

message Quantity {
  optional string string = 1;
}
`,
  "k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto": `syntax = "proto2";
package k8s.io.apimachinery.pkg.apis.meta.v1;

message Condition {
  optional string type = 1;
  optional string status = 2;
  optional int64 observedGeneration = 3;
  optional Time lastTransitionTime = 4;
  optional string reason = 5;
  optional string message = 6;
}

message DeleteOptions {
  optional int64 gracePeriodSeconds = 1 [(skiff.pointer) = true];
  optional Preconditions preconditions = 2;
  optional bool orphanDependents = 3 [(skiff.pointer) = true];
  optional string propagationPolicy = 4 [(skiff.pointer) = true];
  repeated string dryRun = 5;
  optional bool ignoreStoreReadErrorWithClusterBreakingPotential = 6 [(skiff.pointer) = true];
}

message FieldsV1 {
  optional bytes Raw = 1;
}

message LabelSelector {
  map<string, string> matchLabels = 1;
  repeated LabelSelectorRequirement matchExpressions = 2;
}

message LabelSelectorRequirement {
  optional string key = 1;
  optional string operator = 2;
  repeated string values = 3;
}

message ManagedFieldsEntry {
  optional string manager = 1;
  optional string operation = 2;
  optional string apiVersion = 3;
  optional Time time = 4;
  optional string fieldsType = 6;
  optional FieldsV1 fieldsV1 = 7;
  optional string subresource = 8;
}

message ObjectMeta {
  optional string name = 1;
  optional string generateName = 2;
  optional string namespace = 3;
  optional string selfLink = 4;
  optional string uid = 5;
  optional string resourceVersion = 6;
  optional int64 generation = 7;
  optional Time creationTimestamp = 8;
  optional Time deletionTimestamp = 9;
  optional int64 deletionGracePeriodSeconds = 10 [(skiff.pointer) = true];
  map<string, string> labels = 11;
  map<string, string> annotations = 12;
  repeated OwnerReference ownerReferences = 13;
  repeated string finalizers = 14;
  repeated ManagedFieldsEntry managedFields = 17;
}

message OwnerReference {
  optional string apiVersion = 5;
  optional string kind = 1;
  optional string name = 3;
  optional string uid = 4;
  optional bool controller = 6 [(skiff.pointer) = true];
  optional bool blockOwnerDeletion = 7 [(skiff.pointer) = true];
}

message Preconditions {
  optional string uid = 1 [(skiff.pointer) = true];
  optional string resourceVersion = 2 [(skiff.pointer) = true];
}

message Time {
  optional int64 seconds = 1;
  optional int32 nanos = 2;
}
`,
  "k8s.io/apimachinery/pkg/runtime/generated.proto": `syntax = "proto2";
package k8s.io.apimachinery.pkg.runtime;

message TypeMeta {
  optional string apiVersion = 1;
  optional string kind = 2;
}

message Unknown {
  optional TypeMeta typeMeta = 1;
  optional bytes raw = 2;
  optional string contentEncoding = 3;
  optional string contentType = 4;
}
`,
  "k8s.io/apimachinery/pkg/util/intstr/generated.proto": `syntax = "proto2";
package k8s.io.apimachinery.pkg.util.intstr;

message IntOrString {
  optional int64 type = 1;
  optional int32 intVal = 2;
  optional string strVal = 3;
}
`,
};
