import assert from "node:assert/strict";
import { fullPod } from "./_test_manifests.ts";
import { resolveResource } from "./registry.ts";
import type { Pod } from "./types_pod.ts";

/** A pod as a Kubernetes API server returns it (JSON, Kubernetes field names). */
const SERVED_POD = `{
  "apiVersion": "v1", "kind": "Pod",
  "metadata": {"name": "web-0", "namespace": "default", "labels": {"app": "web"}},
  "spec": {
    "nodeName": "pi-3",
    "containers": [{
      "name": "web", "image": "nginx:1.25", "imagePullPolicy": "IfNotPresent",
      "env": [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}}],
      "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
      "resources": {"requests": {"cpu": "100m"}},
      "livenessProbe": {"httpGet": {"path": "/", "port": "http", "scheme": "HTTP"}, "periodSeconds": 10},
      "lifecycle": {"preStop": {"sleep": {"seconds": 5}}}
    }],
    "volumes": [{"name": "info", "projected": {"sources": [{"downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}}]}}],
    "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]}},
    "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
    "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule"}]
  },
  "status": {
    "phase": "Running", "podIP": "10.42.3.7", "podIPs": [{"ip": "10.42.3.7"}], "hostIP": "192.168.1.23",
    "startTime": "2025-01-01T00:00:00Z", "qosClass": "Burstable",
    "conditions": [{"type": "Ready", "status": "True"}],
    "containerStatuses": [{"name": "web", "ready": true, "restartCount": 2, "image": "nginx:1.25", "imageID": "sha256:x",
      "state": {"running": {"startedAt": "2025-01-01T00:00:01Z"}},
      "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]
  }
}`;

Deno.test("Pod types read a served pod with Kubernetes field names", () => {
  const pod: Pod = JSON.parse(SERVED_POD);
  const ctr = pod.spec?.containers[0];
  assert.equal(ctr?.env?.[0]?.valueFrom?.secretKeyRef?.key, "token");
  assert.equal(ctr?.livenessProbe?.httpGet?.port, "http");
  assert.equal(ctr?.lifecycle?.preStop?.sleep?.seconds, 5);
  assert.equal(
    pod.spec?.volumes?.[0]?.projected?.sources?.[0]?.downwardAPI?.items?.[0]?.fieldRef?.fieldPath,
    "metadata.labels",
  );
  assert.equal(
    pod.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.[0]?.topologyKey,
    "kubernetes.io/hostname",
  );
  assert.equal(pod.spec?.tolerations?.[0]?.tolerationSeconds, 300);
  assert.equal(pod.status?.containerStatuses?.[0]?.lastState?.terminated?.reason, "OOMKilled");
  assert.equal(pod.status?.podIPs?.[0]?.ip, pod.status?.podIP);
  assert.deepEqual(resolveResource("pod").validate(pod), []);
});

Deno.test("Pod types describe a pod that uses most of PodSpec", () => {
  const pod = fullPod();
  const type = resolveResource("pod");
  type.defaults(pod);
  assert.deepEqual(type.validate(pod), []);
  assert.equal(pod.spec?.containers[0]?.resources?.requests?.memory, "256Mi");
  assert.equal(pod.spec?.volumes?.[0]?.emptyDir?.sizeLimit, "1Gi");
});
