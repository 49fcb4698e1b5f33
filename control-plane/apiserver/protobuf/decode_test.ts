import assert from "node:assert/strict";
import protobuf from "protobufjs";
import { BadRequestError, UnsupportedMediaTypeError } from "@skiff/api";
import { decodeProtobufObject, PROTOBUF_MAGIC } from "./decode.ts";
import { K8S_PROTO_FILES } from "./_k8s_proto_source.ts";
import { startHarness } from "../_test_harness.ts";

// Bodies captured from kubectl 1.32 (through a logging proxy in front of Skiff's API server).
/** `kubectl create namespace foo`. */
const KUBECTL_NAMESPACE =
  "6b3873000a0f0a02763112094e616d657370616365121b0a130a03666f6f12001a0022002a003200380042001200" +
  "1a020a001a002200";
/** `kubectl create deployment web --image=busybox --replicas=2 --port=80 -n default`. */
const KUBECTL_DEPLOYMENT =
  "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412c3010a260a0377656212001a076465666175" +
  "6c7422002a003200380042005a0a0a036170701203776562128a010802120c0a0a0a0361707012037765621a700a1c0a0012001a0022002a00" +
  "3200380042005a0a0a036170701203776562125012320a0762757379626f78120762757379626f782a00320a0a001000185022002a0042006a" +
  "007200800100880100900100a201001a00320042004a0052005800600068008201008a01009a0100c2010022020a00280038001a0c08001000" +
  "18002000280038001a002200";
/** `kubectl create secret generic s1 --from-literal=pw=hunter2 -n default`. */
const KUBECTL_SECRET = "6b3873000a0c0a0276311206536563726574122c0a190a02733112001a0764656661756c7422002a003200380042" +
  "00120d0a027077120768756e746572321a001a002200";
/** The body of each DELETE `kubectl drain --disable-eviction --grace-period=0` sends. */
const KUBECTL_DELETE_OPTIONS = "6b3873000a130a027631120d44656c6574654f7074696f6e73120208001a002200";

function hex(text: string): Uint8Array {
  return Uint8Array.from(text.match(/../g)!, (pair) => parseInt(pair, 16));
}

const root = new protobuf.Root();
for (const source of Object.values(K8S_PROTO_FILES)) protobuf.parse(source, root, { keepCase: true });
root.resolveAll();

/** Encodes `object` as message `type` in the Kubernetes envelope, as client-go does. */
function encode(apiVersion: string, kind: string, type: string, object: Record<string, unknown>): Uint8Array {
  const message = root.lookupType(type);
  const raw = message.encode(message.fromObject(object)).finish();
  return envelope(apiVersion, kind, raw);
}

function envelope(apiVersion: string, kind: string, raw: Uint8Array, extra: Record<string, unknown> = {}): Uint8Array {
  const unknown = root.lookupType("k8s.io.apimachinery.pkg.runtime.Unknown");
  const body = unknown.encode(unknown.fromObject({ typeMeta: { apiVersion, kind }, raw, ...extra })).finish();
  return new Uint8Array([...PROTOBUF_MAGIC, ...body]);
}

Deno.test("decodeProtobufObject() reads kubectl's namespace as its JSON object", () => {
  assert.deepEqual(decodeProtobufObject(hex(KUBECTL_NAMESPACE)), {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: "foo" },
    spec: {},
    status: {},
  });
});

Deno.test("decodeProtobufObject() reads kubectl's deployment with Go's omitempty and its pointer replicas", () => {
  assert.deepEqual(decodeProtobufObject(hex(KUBECTL_DEPLOYMENT)), {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: "default", labels: { app: "web" } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: { containers: [{ name: "busybox", image: "busybox", ports: [{ containerPort: 80 }], resources: {} }] },
      },
      strategy: {},
    },
    status: {},
  });
});

Deno.test("decodeProtobufObject() gives a secret's bytes as base64", () => {
  assert.deepEqual(decodeProtobufObject(hex(KUBECTL_SECRET)), {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "s1", namespace: "default" },
    data: { pw: btoa("hunter2") },
  });
});

Deno.test("decodeProtobufObject() keeps a zero sent on purpose in a pointer field (DeleteOptions.gracePeriodSeconds)", () => {
  assert.deepEqual(decodeProtobufObject(hex(KUBECTL_DELETE_OPTIONS)), {
    apiVersion: "v1",
    kind: "DeleteOptions",
    gracePeriodSeconds: 0,
  });
});

Deno.test("decodeProtobufObject() reads a full pod template: env, ports, resources, volumes, probes, times", () => {
  const bytes = encode("apps/v1", "Deployment", "k8s.io.api.apps.v1.Deployment", {
    metadata: {
      name: "web",
      creationTimestamp: { seconds: 1_700_000_000, nanos: 5 },
      deletionGracePeriodSeconds: 0,
      annotations: { note: "" },
    },
    spec: {
      replicas: 0,
      minReadySeconds: 0,
      paused: false,
      selector: { matchExpressions: [{ key: "app", operator: "In", values: ["web", ""] }] },
      strategy: {
        type: "RollingUpdate",
        rollingUpdate: { maxUnavailable: { type: 0, intVal: 0 }, maxSurge: { type: 1, strVal: "25%" } },
      },
      template: {
        metadata: { labels: { app: "web" } },
        spec: {
          automountServiceAccountToken: false,
          hostNetwork: false,
          terminationGracePeriodSeconds: 5,
          nodeSelector: { disk: "ssd" },
          tolerations: [{ key: "k", operator: "Exists", effect: "NoSchedule", tolerationSeconds: 30 }],
          volumes: [
            {
              name: "cfg",
              volumeSource: {
                configMap: { localObjectReference: { name: "settings" }, defaultMode: 0o644, optional: false },
              },
            },
            { name: "scratch", volumeSource: { emptyDir: { medium: "", sizeLimit: { string: "1Gi" } } } },
            { name: "data", volumeSource: { persistentVolumeClaim: { claimName: "data", readOnly: false } } },
          ],
          containers: [{
            name: "web",
            image: "busybox:1.36",
            command: ["httpd", "-f"],
            args: [""],
            env: [
              { name: "MODE", value: "prod" },
              { name: "EMPTY", value: "" },
              {
                name: "KEY",
                valueFrom: {
                  secretKeyRef: { localObjectReference: { name: "creds" }, key: "password", optional: true },
                },
              },
              { name: "NODE", valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "spec.nodeName" } } },
            ],
            envFrom: [{ prefix: "CFG_", configMapRef: { localObjectReference: { name: "settings" } } }],
            ports: [{ name: "http", containerPort: 80, protocol: "TCP", hostPort: 0 }],
            resources: {
              requests: { cpu: { string: "100m" }, memory: { string: "64Mi" } },
              limits: { memory: { string: "128Mi" } },
            },
            volumeMounts: [{ name: "cfg", mountPath: "/etc/web", readOnly: true }],
            livenessProbe: {
              handler: { httpGet: { path: "/healthz", port: { type: 1, strVal: "http" }, scheme: "HTTP" } },
              initialDelaySeconds: 3,
              periodSeconds: 10,
            },
            readinessProbe: { handler: { tcpSocket: { port: { type: 0, intVal: 80 } } }, failureThreshold: 2 },
            startupProbe: { handler: { exec: { command: ["true"] } } },
            lifecycle: { preStop: { sleep: { seconds: 2 } } },
            securityContext: { runAsNonRoot: false, runAsUser: 0, capabilities: { drop: ["ALL"] } },
            imagePullPolicy: "IfNotPresent",
          }],
        },
      },
    },
  });
  assert.deepEqual(decodeProtobufObject(bytes), {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: "web",
      creationTimestamp: "2023-11-14T22:13:20Z",
      deletionGracePeriodSeconds: 0,
      annotations: { note: "" },
    },
    spec: {
      replicas: 0,
      selector: { matchExpressions: [{ key: "app", operator: "In", values: ["web", ""] }] },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: "25%" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: {
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 5,
          nodeSelector: { disk: "ssd" },
          tolerations: [{ key: "k", operator: "Exists", effect: "NoSchedule", tolerationSeconds: 30 }],
          volumes: [
            { name: "cfg", configMap: { name: "settings", defaultMode: 0o644, optional: false } },
            { name: "scratch", emptyDir: { sizeLimit: "1Gi" } },
            { name: "data", persistentVolumeClaim: { claimName: "data" } },
          ],
          containers: [{
            name: "web",
            image: "busybox:1.36",
            command: ["httpd", "-f"],
            args: [""],
            env: [
              { name: "MODE", value: "prod" },
              { name: "EMPTY" },
              { name: "KEY", valueFrom: { secretKeyRef: { name: "creds", key: "password", optional: true } } },
              { name: "NODE", valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "spec.nodeName" } } },
            ],
            envFrom: [{ prefix: "CFG_", configMapRef: { name: "settings" } }],
            ports: [{ name: "http", containerPort: 80, protocol: "TCP" }],
            resources: { requests: { cpu: "100m", memory: "64Mi" }, limits: { memory: "128Mi" } },
            volumeMounts: [{ name: "cfg", mountPath: "/etc/web", readOnly: true }],
            livenessProbe: {
              httpGet: { path: "/healthz", port: "http", scheme: "HTTP" },
              initialDelaySeconds: 3,
              periodSeconds: 10,
            },
            readinessProbe: { tcpSocket: { port: 80 }, failureThreshold: 2 },
            startupProbe: { exec: { command: ["true"] } },
            lifecycle: { preStop: { sleep: { seconds: 2 } } },
            securityContext: { runAsNonRoot: false, runAsUser: 0, capabilities: { drop: ["ALL"] } },
            imagePullPolicy: "IfNotPresent",
          }],
        },
      },
    },
  });
});

Deno.test("decodeProtobufObject() reads services with int and named target ports", () => {
  const bytes = encode("v1", "Service", "k8s.io.api.core.v1.Service", {
    metadata: { name: "web", namespace: "demo" },
    spec: {
      type: "NodePort",
      selector: { app: "web" },
      ports: [
        { name: "http", protocol: "TCP", port: 80, targetPort: { type: 1, strVal: "http" }, nodePort: 30080 },
        { name: "metrics", protocol: "TCP", port: 9090, targetPort: { type: 0, intVal: 0 } },
      ],
      sessionAffinity: "ClientIP",
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } },
      allocateLoadBalancerNodePorts: false,
    },
    status: { loadBalancer: {} },
  });
  assert.deepEqual(decodeProtobufObject(bytes), {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web", namespace: "demo" },
    spec: {
      type: "NodePort",
      selector: { app: "web" },
      ports: [
        { name: "http", protocol: "TCP", port: 80, targetPort: "http", nodePort: 30080 },
        { name: "metrics", protocol: "TCP", port: 9090 },
      ],
      sessionAffinity: "ClientIP",
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } },
      allocateLoadBalancerNodePorts: false,
    },
    status: { loadBalancer: {} },
  });
});

Deno.test("decodeProtobufObject() reads configmaps, pods, claims, bindings and evictions", () => {
  const configMap = encode("v1", "ConfigMap", "k8s.io.api.core.v1.ConfigMap", {
    metadata: { name: "c" },
    data: { a: "b" },
    binaryData: { blob: new Uint8Array([0, 255]) },
    immutable: false,
  });
  assert.deepEqual(decodeProtobufObject(configMap), {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "c" },
    data: { a: "b" },
    binaryData: { blob: "AP8=" },
    immutable: false,
  });
  const pod = encode("v1", "Pod", "k8s.io.api.core.v1.Pod", {
    metadata: { generateName: "p-" },
    spec: { containers: [{ name: "c", image: "busybox" }], restartPolicy: "Never" },
  });
  assert.deepEqual(decodeProtobufObject(pod), {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { generateName: "p-" },
    spec: { containers: [{ name: "c", image: "busybox" }], restartPolicy: "Never" },
  });
  const claim = encode("v1", "PersistentVolumeClaim", "k8s.io.api.core.v1.PersistentVolumeClaim", {
    metadata: { name: "data" },
    spec: {
      accessModes: ["ReadWriteOnce"],
      storageClassName: "",
      resources: { requests: { storage: { string: "1Gi" } } },
    },
  });
  assert.deepEqual(decodeProtobufObject(claim), {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: "data" },
    spec: { accessModes: ["ReadWriteOnce"], storageClassName: "", resources: { requests: { storage: "1Gi" } } },
  });
  const binding = encode("v1", "Binding", "k8s.io.api.core.v1.Binding", {
    metadata: { name: "p" },
    target: { kind: "Node", name: "pi-1" },
  });
  assert.deepEqual(decodeProtobufObject(binding), {
    apiVersion: "v1",
    kind: "Binding",
    metadata: { name: "p" },
    target: { kind: "Node", name: "pi-1" },
  });
  const eviction = encode("policy/v1", "Eviction", "k8s.io.api.policy.v1.Eviction", {
    metadata: { name: "p", namespace: "default" },
    deleteOptions: { gracePeriodSeconds: 30, preconditions: { uid: "u-1" }, dryRun: ["All"] },
  });
  assert.deepEqual(decodeProtobufObject(eviction), {
    apiVersion: "policy/v1",
    kind: "Eviction",
    metadata: { name: "p", namespace: "default" },
    deleteOptions: { gracePeriodSeconds: 30, preconditions: { uid: "u-1" }, dryRun: ["All"] },
  });
});

Deno.test("decodeProtobufObject() refuses a field number the schema lacks with 415, naming message and number", () => {
  const configMap = root.lookupType("k8s.io.api.core.v1.ConfigMap");
  const raw = configMap.encode(configMap.fromObject({ metadata: { name: "c" } })).finish();
  // Field 15, varint 1: not a field of ConfigMap.
  const bytes = envelope("v1", "ConfigMap", new Uint8Array([...raw, 15 << 3, 1]));
  assert.throws(
    () => decodeProtobufObject(bytes),
    (err: Error) =>
      err instanceof UnsupportedMediaTypeError &&
      /field number 15 of k8s\.io\.api\.core\.v1\.ConfigMap/.test(err.message) &&
      /JSON/.test(err.message),
  );
  // A cloud volume source (VolumeSource field 3, gcePersistentDisk) the schema leaves out.
  const pod = root.lookupType("k8s.io.api.core.v1.Pod");
  const volume = new Uint8Array([0x0a, 0x01, 0x76, 0x12, 0x02, 0x1a, 0x00]); // name "v", volumeSource { 3: {} }
  const podSpec = new Uint8Array([0x0a, volume.length, ...volume]); // PodSpec.volumes (1)
  const podRaw = new Uint8Array([
    ...pod.encode(pod.fromObject({ metadata: { name: "p" } })).finish(),
    0x12,
    podSpec.length,
    ...podSpec,
  ]);
  assert.throws(
    () => decodeProtobufObject(envelope("v1", "Pod", podRaw)),
    (err: Error) =>
      err instanceof UnsupportedMediaTypeError &&
      err.message.includes("field number 3 of k8s.io.api.core.v1.VolumeSource (at spec.volumes[0])"),
  );
});

Deno.test("decodeProtobufObject() refuses kinds it does not read, other encodings and bodies without the prefix with 415", () => {
  assert.throws(
    () => decodeProtobufObject(envelope("v1", "ServiceAccount", new Uint8Array())),
    (err: Error) => err instanceof UnsupportedMediaTypeError && err.message.includes('"v1/ServiceAccount"'),
  );
  assert.throws(
    () => decodeProtobufObject(envelope("v1", "ConfigMap", new Uint8Array(), { contentEncoding: "gzip" })),
    (err: Error) => err instanceof UnsupportedMediaTypeError && err.message.includes('contentEncoding "gzip"'),
  );
  assert.throws(
    () => decodeProtobufObject(new TextEncoder().encode('{"kind":"ConfigMap"}')),
    (err: Error) => err instanceof UnsupportedMediaTypeError && err.message.includes("does not start with"),
  );
});

Deno.test("decodeProtobufObject() refuses truncated messages and wrong wire types with 400", () => {
  const whole = hex(KUBECTL_DEPLOYMENT);
  assert.throws(() => decodeProtobufObject(whole.subarray(0, whole.length - 7)), BadRequestError);
  // ObjectMeta (3 bytes) whose name claims 5 bytes: it runs past the metadata into the next field.
  const overrun = envelope("v1", "ConfigMap", new Uint8Array([0x0a, 0x03, 0x0a, 0x05, 0x61, 0x12, 0x02, 0x61, 0x62]));
  assert.throws(
    () => decodeProtobufObject(overrun),
    (err: Error) => err instanceof BadRequestError && err.message.includes("metadata runs 4 bytes past its length"),
  );
  // ObjectMeta.name (1) sent as a varint instead of a string.
  const bytes = envelope("v1", "ConfigMap", new Uint8Array([0x0a, 0x02, 0x08, 0x01]));
  assert.throws(
    () => decodeProtobufObject(bytes),
    (err: Error) => err instanceof BadRequestError && err.message.includes("metadata.name"),
  );
});

Deno.test("the API handler creates, deletes and evicts with protobuf bodies and answers 415 for unread fields", async () => {
  await using h = await startHarness();
  const PROTOBUF = "application/vnd.kubernetes.protobuf";
  const CM = "/api/v1/namespaces/default/configmaps";
  const accept = "application/vnd.kubernetes.protobuf,application/json";
  const created = await h.call("POST", `${CM}?fieldValidation=Strict`, {
    body: encode("v1", "ConfigMap", "k8s.io.api.core.v1.ConfigMap", {
      metadata: { name: "from-protobuf", labels: { app: "web" } },
      data: { greeting: "hello" },
    }),
    contentType: PROTOBUF,
    accept,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.headers.get("content-type"), "application/json");
  assert.deepEqual(created.body.data, { greeting: "hello" });
  assert.deepEqual(created.body.metadata.labels, { app: "web" });

  const configMap = root.lookupType("k8s.io.api.core.v1.ConfigMap");
  const unread = await h.call("POST", CM, {
    body: envelope(
      "v1",
      "ConfigMap",
      new Uint8Array([...configMap.encode({ metadata: { name: "x" } }).finish(), 0x78, 1]),
    ),
    contentType: PROTOBUF,
  });
  assert.equal(unread.status, 415);
  assert.equal(unread.body.reason, "UnsupportedMediaType");
  assert.match(unread.body.message, /field number 15 of k8s\.io\.api\.core\.v1\.ConfigMap/);

  const wrongKind = await h.call("POST", CM, {
    body: encode("v1", "Secret", "k8s.io.api.core.v1.Secret", { metadata: { name: "s" } }),
    contentType: PROTOBUF,
  });
  assert.equal(wrongKind.status, 400);
  assert.match(wrongKind.body.message, /kind in the data \(Secret\)/);

  const deleted = await h.call("DELETE", `${CM}/from-protobuf`, {
    body: hex(KUBECTL_DELETE_OPTIONS),
    contentType: PROTOBUF,
  });
  assert.equal(deleted.status, 200);
  assert.equal((await h.call("GET", `${CM}/from-protobuf`)).status, 404);

  const PODS = "/api/v1/namespaces/default/pods";
  const pod = await h.call("POST", PODS, {
    body: encode("v1", "Pod", "k8s.io.api.core.v1.Pod", {
      metadata: { name: "p" },
      spec: { containers: [{ name: "c", image: "busybox" }] },
    }),
    contentType: PROTOBUF,
  });
  assert.equal(pod.status, 201, JSON.stringify(pod.body));
  const evicted = await h.call("POST", `${PODS}/p/eviction`, {
    body: encode("policy/v1", "Eviction", "k8s.io.api.policy.v1.Eviction", {
      metadata: { name: "p", namespace: "default" },
      deleteOptions: { gracePeriodSeconds: 0 },
    }),
    contentType: PROTOBUF,
  });
  assert.equal(evicted.status, 201, JSON.stringify(evicted.body));
  assert.equal((await h.call("GET", `${PODS}/p`)).status, 404);
});
