/**
 * Real-world manifests (mostly from the Kubernetes documentation), typed
 * with Skiff's resource types, for the tests of this folder. Each function
 * returns a fresh object, so tests may mutate it.
 *
 * @module
 */

import type { DaemonSet, Deployment, StatefulSet } from "./types_apps.ts";
import type { Lease, NodeMetrics, PodMetrics } from "./types_cluster.ts";
import type { Binding, ConfigMap, Event, Namespace, Node, Secret } from "./types_core.ts";
import type { Endpoints, EndpointSlice, Service } from "./types_network.ts";
import type { Pod } from "./types_pod.ts";
import type { PersistentVolume, PersistentVolumeClaim, StorageClass } from "./types_storage.ts";

/** The nginx Deployment of the Kubernetes documentation. */
export function nginxDeployment(): Deployment {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "nginx-deployment", namespace: "default", labels: { app: "nginx" } },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: "nginx" } },
      template: {
        metadata: { labels: { app: "nginx" } },
        spec: {
          containers: [{
            name: "nginx",
            image: "nginx:1.14.2",
            ports: [{ containerPort: 80 }],
            resources: { limits: { cpu: "500m", memory: "128Mi" }, requests: { cpu: "250m", memory: "64Mi" } },
          }],
        },
      },
    },
  };
}

/** The `web` StatefulSet of the Kubernetes documentation, with a claim template. */
export function webStatefulSet(): StatefulSet {
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name: "web", namespace: "default" },
    spec: {
      selector: { matchLabels: { app: "nginx" } },
      serviceName: "nginx",
      replicas: 3,
      minReadySeconds: 10,
      template: {
        metadata: { labels: { app: "nginx" } },
        spec: {
          terminationGracePeriodSeconds: 10,
          containers: [{
            name: "nginx",
            image: "registry.k8s.io/nginx-slim:0.24",
            ports: [{ containerPort: 80, name: "web" }],
            volumeMounts: [{ name: "www", mountPath: "/usr/share/nginx/html" }],
          }],
        },
      },
      volumeClaimTemplates: [{
        metadata: { name: "www" },
        spec: {
          accessModes: ["ReadWriteOnce"],
          storageClassName: "my-storage-class",
          resources: { requests: { storage: "1Gi" } },
        },
      }],
    },
  };
}

/** The fluentd DaemonSet of the Kubernetes documentation. */
export function fluentdDaemonSet(): DaemonSet {
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: "fluentd-elasticsearch", namespace: "kube-system", labels: { "k8s-app": "fluentd-logging" } },
    spec: {
      selector: { matchLabels: { name: "fluentd-elasticsearch" } },
      template: {
        metadata: { labels: { name: "fluentd-elasticsearch" } },
        spec: {
          tolerations: [
            { key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" },
            { key: "node-role.kubernetes.io/master", operator: "Exists", effect: "NoSchedule" },
          ],
          containers: [{
            name: "fluentd-elasticsearch",
            image: "quay.io/fluentd_elasticsearch/fluentd:v2.5.2",
            resources: { limits: { memory: "200Mi" }, requests: { cpu: "100m", memory: "200Mi" } },
            volumeMounts: [{ name: "varlog", mountPath: "/var/log" }],
          }],
          terminationGracePeriodSeconds: 30,
          volumes: [{ name: "varlog", hostPath: { path: "/var/log" } }],
        },
      },
    },
  };
}

/** A Service whose targetPort names a container port. */
export function namedPortService(): Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "nginx-service", namespace: "default" },
    spec: {
      selector: { "app.kubernetes.io/name": "proxy" },
      ports: [{ name: "name-of-service-port", protocol: "TCP", port: 80, targetPort: "http-web-svc" }],
    },
  };
}

/** A Secret with both `data` and `stringData`, from the Kubernetes documentation. */
export function stringDataSecret(): Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "mysecret", namespace: "default" },
    type: "Opaque",
    data: { username: "YWRtaW4=" },
    stringData: { username: "administrator", "config.yaml": 'apiUrl: "https://my.api.com/api/v1"\n' },
  };
}

/** A pod that uses most of PodSpec. */
export function fullPod(): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "app", namespace: "default", labels: { app: "demo" } },
    spec: {
      initContainers: [{
        name: "init",
        image: "busybox",
        command: ["sh", "-c", "echo ready > /work/ready"],
        volumeMounts: [{ name: "work", mountPath: "/work" }],
      }],
      containers: [{
        name: "app",
        image: "ghcr.io/example/app:v1.2.3",
        args: ["--port=8080"],
        workingDir: "/srv",
        ports: [{ name: "http", containerPort: 8080 }, { name: "metrics", containerPort: 9090, protocol: "TCP" }],
        env: [
          { name: "MODE", value: "prod" },
          { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
          { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
          { name: "MEM", valueFrom: { resourceFieldRef: { resource: "limits.memory", divisor: "1Mi" } } },
          { name: "LEVEL", valueFrom: { configMapKeyRef: { name: "settings", key: "log.level" } } },
          { name: "TOKEN", valueFrom: { secretKeyRef: { name: "creds", key: "token", optional: true } } },
        ],
        envFrom: [{ prefix: "CFG_", configMapRef: { name: "settings" } }, { secretRef: { name: "creds" } }],
        resources: { limits: { cpu: "1", memory: "256Mi" } },
        volumeMounts: [
          { name: "work", mountPath: "/work" },
          { name: "config", mountPath: "/etc/app", readOnly: true },
          { name: "creds", mountPath: "/etc/creds" },
          { name: "info", mountPath: "/etc/podinfo" },
          { name: "data", mountPath: "/data" },
          { name: "all", mountPath: "/etc/all" },
          { name: "host", mountPath: "/host/log", subPath: "app" },
        ],
        livenessProbe: { httpGet: { path: "/healthz", port: "http" }, initialDelaySeconds: 5 },
        readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 5 },
        startupProbe: { exec: { command: ["cat", "/work/ready"] }, failureThreshold: 30 },
        lifecycle: { preStop: { exec: { command: ["sleep", "5"] } } },
        securityContext: {
          runAsUser: 1000,
          runAsNonRoot: true,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ["ALL"] },
        },
        imagePullPolicy: "IfNotPresent",
      }],
      volumes: [
        { name: "work", emptyDir: { sizeLimit: "1024Mi" } },
        { name: "config", configMap: { name: "settings", items: [{ key: "app.yaml", path: "app.yaml" }] } },
        { name: "creds", secret: { secretName: "creds", defaultMode: 0o400 } },
        { name: "info", downwardAPI: { items: [{ path: "labels", fieldRef: { fieldPath: "metadata.labels" } }] } },
        { name: "data", persistentVolumeClaim: { claimName: "app-data" } },
        {
          name: "all",
          projected: {
            sources: [
              { configMap: { name: "settings" } },
              { secret: { name: "creds", items: [{ key: "token", path: "token" }] } },
              { serviceAccountToken: { path: "sa-token", expirationSeconds: 3600 } },
            ],
          },
        },
        { name: "host", hostPath: { path: "/var/log", type: "Directory" } },
      ],
      nodeSelector: { "kubernetes.io/arch": "arm64" },
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: [{ key: "disk", operator: "In", values: ["ssd"] }] }],
          },
          preferredDuringSchedulingIgnoredDuringExecution: [{
            weight: 50,
            preference: { matchExpressions: [{ key: "cores", operator: "Gt", values: ["2"] }] },
          }],
        },
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [{
            weight: 100,
            podAffinityTerm: { labelSelector: { matchLabels: { app: "demo" } }, topologyKey: "kubernetes.io/hostname" },
          }],
        },
      },
      tolerations: [{ key: "gpu", operator: "Equal", value: "true", effect: "NoSchedule" }],
      topologySpreadConstraints: [{
        maxSkew: 1,
        topologyKey: "topology.kubernetes.io/zone",
        whenUnsatisfiable: "ScheduleAnyway",
        labelSelector: { matchLabels: { app: "demo" } },
      }],
      priorityClassName: "high",
      priority: 1000,
      restartPolicy: "Always",
      terminationGracePeriodSeconds: 45,
      dnsPolicy: "ClusterFirst",
      serviceAccountName: "app",
      hostname: "app-0",
    },
  };
}

/** A worker node as an agent registers it. */
export function workerNode(): Node {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: "pi-3", labels: { "kubernetes.io/hostname": "pi-3", "kubernetes.io/arch": "arm64" } },
    spec: {
      podCIDR: "10.42.3.0/24",
      podCIDRs: ["10.42.3.0/24"],
      taints: [{ key: "gpu", value: "true", effect: "NoSchedule" }],
    },
    status: {
      capacity: { cpu: "4", memory: "8048768Ki", pods: "110", "ephemeral-storage": "61255492Ki" },
      conditions: [{
        type: "Ready",
        status: "True",
        reason: "KubeletReady",
        lastHeartbeatTime: "2025-01-01T00:00:00Z",
      }],
      addresses: [{ type: "InternalIP", address: "192.168.1.23" }, { type: "Hostname", address: "pi-3" }],
      nodeInfo: {
        machineID: "m",
        systemUUID: "u",
        bootID: "b",
        kernelVersion: "6.1.0-rpi7-rpi-v8",
        osImage: "Debian GNU/Linux 12 (bookworm)",
        containerRuntimeVersion: "containerd://1.6.20",
        kubeletVersion: "v1.32.0-skiff",
        kubeProxyVersion: "v1.32.0-skiff",
        operatingSystem: "linux",
        architecture: "arm64",
      },
    },
  };
}

/** A namespace. */
export function namespace(): Namespace {
  return { apiVersion: "v1", kind: "Namespace", metadata: { name: "media" } };
}

/** A ConfigMap with text and binary data. */
export function configMap(): ConfigMap {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "settings", namespace: "default" },
    data: { "log.level": "info", "app.yaml": "port: 8080\n" },
    binaryData: { "logo.png": "iVBORw0KGgo=" },
  };
}

/** A scheduler event. */
export function schedulerEvent(): Event {
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: "app.17a8c0f2b1d2e3f4", namespace: "default" },
    involvedObject: { apiVersion: "v1", kind: "Pod", namespace: "default", name: "app", uid: "1234" },
    reason: "Scheduled",
    message: "Successfully assigned default/app to pi-3",
    type: "Normal",
    count: 1,
    firstTimestamp: "2025-01-01T00:00:00Z",
    lastTimestamp: "2025-01-01T00:00:00Z",
    source: { component: "default-scheduler" },
    reportingComponent: "default-scheduler",
  };
}

/** The binding the scheduler posts. */
export function binding(): Binding {
  return {
    apiVersion: "v1",
    kind: "Binding",
    metadata: { name: "app", namespace: "default" },
    target: { apiVersion: "v1", kind: "Node", name: "pi-3" },
  };
}

/** A local PersistentVolume pinned to a node. */
export function localVolume(): PersistentVolume {
  return {
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name: "pv-pi-3-a" },
    spec: {
      capacity: { storage: "10Gi" },
      accessModes: ["ReadWriteOnce"],
      storageClassName: "local",
      local: { path: "/mnt/disks/a" },
      nodeAffinity: {
        required: {
          nodeSelectorTerms: [{
            matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: ["pi-3"] }],
          }],
        },
      },
    },
  };
}

/** A claim for 5 GiB. */
export function claim(): PersistentVolumeClaim {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: "app-data", namespace: "default" },
    spec: { accessModes: ["ReadWriteOnce"], storageClassName: "local", resources: { requests: { storage: "5Gi" } } },
  };
}

/** The CSI storage class of csi-local. */
export function storageClass(): StorageClass {
  return {
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: { name: "local" },
    provisioner: "local.csi.skiff.dev",
    volumeBindingMode: "WaitForFirstConsumer",
    parameters: { fsType: "ext4" },
  };
}

/** A node heartbeat lease. */
export function nodeLease(): Lease {
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name: "pi-3", namespace: "kube-node-lease" },
    spec: { holderIdentity: "pi-3", leaseDurationSeconds: 40, renewTime: "2025-01-01T00:00:00.123456Z" },
  };
}

/** Endpoints of the named-port Service. */
export function endpoints(): Endpoints {
  return {
    apiVersion: "v1",
    kind: "Endpoints",
    metadata: { name: "nginx-service", namespace: "default" },
    subsets: [{
      addresses: [{
        ip: "10.42.3.7",
        nodeName: "pi-3",
        targetRef: { kind: "Pod", name: "proxy-1", namespace: "default" },
      }],
      notReadyAddresses: [{ ip: "10.42.1.4" }],
      ports: [{ name: "name-of-service-port", port: 8080 }],
    }],
  };
}

/** An EndpointSlice of the named-port Service. */
export function endpointSlice(): EndpointSlice {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: "nginx-service-abc12",
      namespace: "default",
      labels: { "kubernetes.io/service-name": "nginx-service" },
    },
    addressType: "IPv4",
    endpoints: [{ addresses: ["10.42.3.7"], conditions: { ready: true }, nodeName: "pi-3" }],
    ports: [{ name: "name-of-service-port", port: 8080 }],
  };
}

/** Node metrics as the metrics API returns them. */
export function nodeMetrics(): NodeMetrics {
  return {
    apiVersion: "metrics.k8s.io/v1beta1",
    kind: "NodeMetrics",
    metadata: { name: "pi-3" },
    timestamp: "2025-01-01T00:00:00Z",
    window: "10s",
    usage: { cpu: "250m", memory: "1Gi" },
  };
}

/** Pod metrics as the metrics API returns them. */
export function podMetrics(): PodMetrics {
  return {
    apiVersion: "metrics.k8s.io/v1beta1",
    kind: "PodMetrics",
    metadata: { name: "app", namespace: "default" },
    timestamp: "2025-01-01T00:00:00Z",
    window: "10s",
    containers: [{ name: "app", usage: { cpu: "12m", memory: "48Mi" } }],
  };
}

/** Every manifest above, for tests that sweep all kinds. */
export function allManifests(): Record<string, unknown>[] {
  return [
    nginxDeployment(),
    webStatefulSet(),
    fluentdDaemonSet(),
    namedPortService(),
    stringDataSecret(),
    fullPod(),
    workerNode(),
    namespace(),
    configMap(),
    schedulerEvent(),
    binding(),
    localVolume(),
    claim(),
    storageClass(),
    nodeLease(),
    endpoints(),
    endpointSlice(),
    nodeMetrics(),
    podMetrics(),
  ];
}
