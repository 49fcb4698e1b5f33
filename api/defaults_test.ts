import assert from "node:assert/strict";
import { fluentdDaemonSet, nginxDeployment, stringDataSecret, webStatefulSet, workerNode } from "./_test_manifests.ts";
import {
  defaultDaemonSet,
  defaultDeployment,
  defaultEndpoints,
  defaultEndpointSlice,
  defaultNamespace,
  defaultNode,
  defaultPersistentVolume,
  defaultPersistentVolumeClaim,
  defaultPod,
  defaultPodSpec,
  defaultReplicaSet,
  defaultSecret,
  defaultService,
  defaultStatefulSet,
  defaultStorageClass,
  podQOSClass,
} from "./defaults.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

Deno.test("defaultPod() fills what the Kubernetes API server fills", () => {
  const pod: Any = {
    metadata: { name: "p" },
    spec: {
      containers: [
        {
          name: "a",
          image: "nginx",
          ports: [{ containerPort: 80 }],
          resources: { limits: { cpu: 1, memory: "1024Mi" } },
          readinessProbe: { httpGet: { port: 80 } },
          env: [{ name: "N", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
        },
        { name: "b", image: "nginx:1.25" },
        { name: "c", image: "nginx@sha256:" + "a".repeat(64) },
        { name: "d", image: "nginx:latest" },
      ],
      volumes: [{ name: "scratch" }, { name: "cfg", configMap: { name: "x" } }, {
        name: "h",
        hostPath: { path: "/x" },
      }],
    },
  };
  defaultPod(pod);
  const spec = pod.spec;
  assert.equal(spec.restartPolicy, "Always");
  assert.equal(spec.dnsPolicy, "ClusterFirst");
  assert.equal(spec.terminationGracePeriodSeconds, 30);
  assert.equal(spec.schedulerName, "default-scheduler");
  assert.equal(spec.enableServiceLinks, true);
  assert.deepEqual(spec.securityContext, {});
  assert.deepEqual(spec.containers.map((c: Any) => c.imagePullPolicy), [
    "Always",
    "IfNotPresent",
    "IfNotPresent",
    "Always",
  ]);
  const a = spec.containers[0];
  assert.equal(a.terminationMessagePath, "/dev/termination-log");
  assert.equal(a.terminationMessagePolicy, "File");
  assert.equal(a.ports[0].protocol, "TCP");
  assert.deepEqual(a.resources, { limits: { cpu: "1", memory: "1Gi" }, requests: { cpu: "1", memory: "1Gi" } });
  assert.deepEqual(a.readinessProbe, {
    httpGet: { port: 80, path: "/", scheme: "HTTP" },
    timeoutSeconds: 1,
    periodSeconds: 10,
    successThreshold: 1,
    failureThreshold: 3,
  });
  assert.equal(a.env[0].valueFrom.fieldRef.apiVersion, "v1");
  assert.deepEqual(spec.volumes[0], { name: "scratch", emptyDir: {} });
  assert.equal(spec.volumes[1].configMap.defaultMode, 0o644);
  assert.equal(spec.volumes[2].hostPath.type, "");
  assert.deepEqual(spec.tolerations, [
    { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
    { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
  ]);
  assert.deepEqual(pod.status, { phase: "Pending", qosClass: "Burstable" });
});

Deno.test("defaultPod() keeps tolerations that already cover node failures", () => {
  const pod: Any = { spec: { containers: [], tolerations: [{ operator: "Exists" }] } };
  defaultPod(pod);
  assert.deepEqual(pod.spec.tolerations, [{ operator: "Exists" }]);
  const own: Any = {
    spec: {
      containers: [],
      tolerations: [{ key: "node.kubernetes.io/unreachable", operator: "Exists", tolerationSeconds: 10 }],
    },
  };
  defaultPod(own);
  assert.deepEqual(own.spec.tolerations.map((t: Any) => [t.key, t.tolerationSeconds]), [
    ["node.kubernetes.io/unreachable", 10],
    ["node.kubernetes.io/not-ready", 300],
  ]);
});

Deno.test("defaultPodSpec() copies containerPort to hostPort with hostNetwork", () => {
  const spec: Any = {
    hostNetwork: true,
    containers: [{ name: "a", image: "x", ports: [{ containerPort: 53, protocol: "UDP" }] }],
  };
  defaultPodSpec(spec);
  assert.equal(spec.containers[0].ports[0].hostPort, 53);
});

Deno.test("podQOSClass() follows Kubernetes' rules", () => {
  const ctr = (resources: Any) => ({ containers: [{ name: "a", resources }] });
  assert.equal(podQOSClass(ctr({})), "BestEffort");
  assert.equal(podQOSClass(ctr({ requests: { cpu: "0" } })), "BestEffort");
  assert.equal(
    podQOSClass(ctr({ limits: { cpu: "1", memory: "1Gi" }, requests: { cpu: "1", memory: "1Gi" } })),
    "Guaranteed",
  );
  assert.equal(
    podQOSClass(ctr({ limits: { cpu: "1", memory: "1Gi" }, requests: { cpu: "500m", memory: "1Gi" } })),
    "Burstable",
  );
  assert.equal(podQOSClass(ctr({ limits: { cpu: "1" }, requests: { cpu: "1" } })), "Burstable");
  assert.equal(podQOSClass(null), "BestEffort");
});

Deno.test("defaultDeployment() and defaultReplicaSet() fill replicas, strategy and history", () => {
  const d: Any = nginxDeployment();
  delete d.spec.replicas;
  defaultDeployment(d);
  assert.equal(d.spec.replicas, 1);
  assert.deepEqual(d.spec.strategy, {
    type: "RollingUpdate",
    rollingUpdate: { maxUnavailable: "25%", maxSurge: "25%" },
  });
  assert.equal(d.spec.revisionHistoryLimit, 10);
  assert.equal(d.spec.progressDeadlineSeconds, 600);
  assert.equal(d.spec.template.spec.restartPolicy, "Always");
  assert.equal(d.spec.template.spec.enableServiceLinks, undefined, "pod-only defaults stay off templates");
  assert.equal(d.spec.template.spec.tolerations, undefined);
  const recreate: Any = { spec: { strategy: { type: "Recreate" } } };
  defaultDeployment(recreate);
  assert.deepEqual(recreate.spec.strategy, { type: "Recreate" });
  const rs: Any = { spec: {} };
  defaultReplicaSet(rs);
  assert.equal(rs.spec.replicas, 1);
});

Deno.test("defaultDaemonSet() and defaultStatefulSet() fill strategies and policies", () => {
  const ds: Any = fluentdDaemonSet();
  defaultDaemonSet(ds);
  assert.deepEqual(ds.spec.updateStrategy, {
    type: "RollingUpdate",
    rollingUpdate: { maxUnavailable: 1, maxSurge: 0 },
  });
  assert.equal(ds.spec.revisionHistoryLimit, 10);
  const sts: Any = webStatefulSet();
  defaultStatefulSet(sts);
  assert.equal(sts.spec.podManagementPolicy, "OrderedReady");
  assert.deepEqual(sts.spec.updateStrategy, { type: "RollingUpdate", rollingUpdate: { partition: 0 } });
  assert.deepEqual(sts.spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: "Retain", whenScaled: "Retain" });
  assert.equal(sts.spec.volumeClaimTemplates[0].spec.volumeMode, "Filesystem");
  assert.deepEqual(sts.spec.volumeClaimTemplates[0].status, { phase: "Pending" });
});

Deno.test("defaultService() fills type, affinity, protocol and targetPort", () => {
  const svc: Any = {
    spec: { ports: [{ port: 80 }, { port: 53, protocol: "UDP", targetPort: "dns" }, { port: 8080, targetPort: 0 }] },
  };
  defaultService(svc);
  assert.equal(svc.spec.type, "ClusterIP");
  assert.equal(svc.spec.sessionAffinity, "None");
  assert.equal(svc.spec.internalTrafficPolicy, "Cluster");
  assert.equal(svc.spec.externalTrafficPolicy, undefined);
  assert.deepEqual(svc.spec.ports, [
    { port: 80, protocol: "TCP", targetPort: 80 },
    { port: 53, protocol: "UDP", targetPort: "dns" },
    { port: 8080, protocol: "TCP", targetPort: 8080 },
  ]);
  const lb: Any = { spec: { type: "LoadBalancer", sessionAffinity: "ClientIP" } };
  defaultService(lb);
  assert.equal(lb.spec.externalTrafficPolicy, "Cluster");
  assert.equal(lb.spec.allocateLoadBalancerNodePorts, true);
  assert.deepEqual(lb.spec.sessionAffinityConfig, { clientIP: { timeoutSeconds: 10800 } });
});

Deno.test("defaultSecret() merges stringData into base64 data and drops it", () => {
  const secret: Any = stringDataSecret();
  defaultSecret(secret);
  assert.equal(secret.stringData, undefined);
  assert.equal(atob(secret.data.username), "administrator");
  assert.equal(atob(secret.data["config.yaml"]), 'apiUrl: "https://my.api.com/api/v1"\n');
  const utf8: Any = { stringData: { word: "héllo ✓" } };
  defaultSecret(utf8);
  assert.equal(utf8.type, "Opaque");
  assert.equal(new TextDecoder().decode(Uint8Array.from(atob(utf8.data.word), (c) => c.charCodeAt(0))), "héllo ✓");
  const junk: Any = { stringData: { bad: 5, ok: "x" } };
  defaultSecret(junk);
  assert.deepEqual(junk.stringData, { bad: 5 }, "non-string values stay for validation to report");
});

Deno.test("defaults for namespaces, nodes, volumes and classes", () => {
  const ns: Any = { metadata: { name: "media" } };
  defaultNamespace(ns);
  assert.deepEqual(ns.metadata.labels, { "kubernetes.io/metadata.name": "media" });
  assert.deepEqual(ns.status, { phase: "Active" });
  const node: Any = workerNode();
  node.status.capacity.memory = "8388608Ki";
  defaultNode(node);
  assert.equal(node.status.capacity.memory, "8Gi");
  assert.deepEqual(node.status.allocatable, node.status.capacity);
  const pv: Any = { spec: { capacity: { storage: "1024Mi" } } };
  defaultPersistentVolume(pv);
  assert.deepEqual([
    pv.spec.persistentVolumeReclaimPolicy,
    pv.spec.volumeMode,
    pv.status.phase,
    pv.spec.capacity.storage,
  ], [
    "Retain",
    "Filesystem",
    "Pending",
    "1Gi",
  ]);
  const pvc: Any = { spec: { resources: { requests: { storage: 5e9 } } } };
  defaultPersistentVolumeClaim(pvc);
  assert.deepEqual([pvc.spec.volumeMode, pvc.status.phase, pvc.spec.resources.requests.storage], [
    "Filesystem",
    "Pending",
    "5G",
  ]);
  const sc: Any = { provisioner: "x" };
  defaultStorageClass(sc);
  assert.deepEqual([sc.reclaimPolicy, sc.volumeBindingMode], ["Delete", "Immediate"]);
  const ep: Any = { subsets: [{ ports: [{ port: 80 }] }] };
  defaultEndpoints(ep);
  assert.equal(ep.subsets[0].ports[0].protocol, "TCP");
  const slice: Any = { ports: [{ port: 80 }] };
  defaultEndpointSlice(slice);
  assert.equal(slice.ports[0].protocol, "TCP");
});

Deno.test("defaults leave wrong types alone and never throw", () => {
  const defaulters = [
    defaultPod,
    defaultDeployment,
    defaultReplicaSet,
    defaultDaemonSet,
    defaultStatefulSet,
    defaultService,
    defaultSecret,
    defaultNamespace,
    defaultNode,
    defaultPersistentVolume,
    defaultPersistentVolumeClaim,
    defaultStorageClass,
    defaultEndpoints,
    defaultEndpointSlice,
  ];
  for (const fn of defaulters) {
    for (
      const junk of [
        null,
        1,
        "x",
        [],
        { spec: "x", status: 1, metadata: [] },
        { spec: { containers: "x", template: 1, strategy: "fast", ports: [1, null], updateStrategy: [] } },
        { spec: { containers: [{ resources: { limits: "x" }, ports: "y" }], volumes: [null, 1] }, stringData: [] },
      ]
    ) {
      fn(junk);
    }
  }
  const pod: Any = { spec: { restartPolicy: 5, containers: [{ name: "a", resources: { limits: { cpu: "bogus" } } }] } };
  defaultPod(pod);
  assert.equal(pod.spec.restartPolicy, 5);
  assert.equal(pod.spec.containers[0].resources.limits.cpu, "bogus");
});
