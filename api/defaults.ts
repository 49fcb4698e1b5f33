/**
 * Defaulting as the Kubernetes API server does it, for the fields users see
 * in `kubectl get -o yaml`: restart and DNS policies, pull policies, probe
 * timings, Service types and target ports, workload strategies, Secret
 * `stringData`, canonical quantities, and so on.
 *
 * Every function mutates the object in place, fills only fields that are
 * absent (or empty strings), leaves values of the wrong type for validation
 * to report, and never throws, whatever it is given.
 *
 * @module
 */

import { isObj, type Obj } from "./_validation.ts";
import {
  DEFAULT_SCHEDULER_NAME,
  LABEL_NAMESPACE_NAME,
  POD_EVICTION_SECONDS,
  TAINT_NODE_NOT_READY,
  TAINT_NODE_UNREACHABLE,
} from "./constants.ts";
import { parseImageReference } from "./image.ts";
import { Quantity, quantityErrors } from "./quantity.ts";

const unset = (v: unknown) => v === undefined || v === null || v === "";

function setDefault(o: Obj, key: string, value: unknown): void {
  if (unset(o[key])) o[key] = value;
}

/** `o[key]` as an object, created when absent; `undefined` when it holds something else. */
function ensure(o: Obj, key: string): Obj | undefined {
  if (o[key] === undefined || o[key] === null) o[key] = {};
  const v = o[key];
  return isObj(v) ? v : undefined;
}

/** `o[key]` when it is an object. */
function get(o: Obj | undefined, key: string): Obj | undefined {
  const v = o?.[key];
  return isObj(v) ? v : undefined;
}

/** The objects in the array at `o[key]`. */
function items(o: Obj | undefined, key: string): Obj[] {
  const v = o?.[key];
  return Array.isArray(v) ? v.filter(isObj) : [];
}

/** Rewrites the valid quantities of a resource list in canonical form (`1024Mi` → `1Gi`). */
function canonicalList(list: Obj | undefined): void {
  if (!list) return;
  for (const [name, value] of Object.entries(list)) list[name] = canonical(value);
}

function canonical(value: unknown): unknown {
  if ((typeof value === "string" || typeof value === "number") && quantityErrors(value).length === 0) {
    return Quantity.parse(value).toString();
  }
  return value;
}

/** `Always` for `:latest` or an untagged reference without digest, else `IfNotPresent`. */
function pullPolicyFor(image: unknown): string {
  if (typeof image !== "string") return "IfNotPresent";
  try {
    return parseImageReference(image).tag === "latest" ? "Always" : "IfNotPresent";
  } catch {
    return "IfNotPresent";
  }
}

function defaultHTTPGet(handler: Obj | undefined): void {
  const http = get(handler, "httpGet");
  if (!http) return;
  setDefault(http, "path", "/");
  setDefault(http, "scheme", "HTTP");
}

function defaultFieldRef(o: Obj | undefined): void {
  const ref = get(o, "fieldRef");
  if (ref) setDefault(ref, "apiVersion", "v1");
}

function defaultContainer(ctr: Obj, hostNetwork: boolean): void {
  setDefault(ctr, "imagePullPolicy", pullPolicyFor(ctr.image));
  setDefault(ctr, "terminationMessagePath", "/dev/termination-log");
  setDefault(ctr, "terminationMessagePolicy", "File");
  for (const port of items(ctr, "ports")) {
    setDefault(port, "protocol", "TCP");
    if (hostNetwork && (port.hostPort === undefined || port.hostPort === null || port.hostPort === 0)) {
      port.hostPort = port.containerPort;
    }
  }
  for (const env of items(ctr, "env")) defaultFieldRef(get(env, "valueFrom"));
  for (const name of ["livenessProbe", "readinessProbe", "startupProbe"]) {
    const probe = get(ctr, name);
    if (!probe) continue;
    setDefault(probe, "timeoutSeconds", 1);
    setDefault(probe, "periodSeconds", 10);
    setDefault(probe, "successThreshold", 1);
    setDefault(probe, "failureThreshold", 3);
    defaultHTTPGet(probe);
  }
  const lifecycle = get(ctr, "lifecycle");
  defaultHTTPGet(get(lifecycle, "postStart"));
  defaultHTTPGet(get(lifecycle, "preStop"));
  const resources = get(ctr, "resources");
  canonicalList(get(resources, "limits"));
  canonicalList(get(resources, "requests"));
}

const VOLUME_MODE_DEFAULT = 0o644;

function defaultVolume(vol: Obj): void {
  if (Object.keys(vol).every((k) => k === "name" || vol[k] === undefined || vol[k] === null)) vol.emptyDir = {};
  for (const source of ["secret", "configMap", "downwardAPI", "projected"]) {
    const s = get(vol, source);
    if (s) setDefault(s, "defaultMode", VOLUME_MODE_DEFAULT);
  }
  const hostPath = get(vol, "hostPath");
  if (hostPath && hostPath.type == null) hostPath.type = "";
  const emptyDir = get(vol, "emptyDir");
  if (emptyDir && emptyDir.sizeLimit != null) emptyDir.sizeLimit = canonical(emptyDir.sizeLimit);
  for (const item of items(get(vol, "downwardAPI"), "items")) defaultFieldRef(item);
  for (const src of items(get(vol, "projected"), "sources")) {
    for (const item of items(get(src, "downwardAPI"), "items")) defaultFieldRef(item);
    const token = get(src, "serviceAccountToken");
    if (token) setDefault(token, "expirationSeconds", 3600);
  }
}

/** Defaults a PodSpec (pods and pod templates alike). */
export function defaultPodSpec(spec: unknown): void {
  if (!isObj(spec)) return;
  setDefault(spec, "restartPolicy", "Always");
  setDefault(spec, "dnsPolicy", "ClusterFirst");
  setDefault(spec, "terminationGracePeriodSeconds", 30);
  setDefault(spec, "schedulerName", DEFAULT_SCHEDULER_NAME);
  if (spec.securityContext === undefined || spec.securityContext === null) spec.securityContext = {};
  for (const vol of items(spec, "volumes")) defaultVolume(vol);
  const hostNetwork = spec.hostNetwork === true;
  for (const ctr of [...items(spec, "initContainers"), ...items(spec, "containers")]) {
    defaultContainer(ctr, hostNetwork);
  }
  canonicalList(get(spec, "overhead"));
}

/** Defaults a pod template: its spec. */
export function defaultPodTemplateSpec(template: unknown): void {
  if (isObj(template)) defaultPodSpec(template.spec);
}

/**
 * The QoS class of a pod spec, as Kubernetes computes it from cpu and
 * memory requests and limits: `Guaranteed`, `Burstable` or `BestEffort`.
 */
export function podQOSClass(spec: unknown): "Guaranteed" | "Burstable" | "BestEffort" {
  const requests = new Map<string, Quantity>();
  const limits = new Map<string, Quantity>();
  let guaranteed = true;
  const s = isObj(spec) ? spec : {};
  const sum = (into: Map<string, Quantity>, list: Obj | undefined, found?: Set<string>) => {
    for (const [name, raw] of Object.entries(list ?? {})) {
      if ((name !== "cpu" && name !== "memory") || quantityErrors(raw).length > 0) continue;
      const q = Quantity.parse(raw as string);
      if (q.sign() <= 0) continue;
      found?.add(name);
      const prev = into.get(name);
      into.set(name, prev ? prev.add(q) : q);
    }
  };
  for (const ctr of [...items(s, "initContainers"), ...items(s, "containers")]) {
    const resources = get(ctr, "resources");
    sum(requests, get(resources, "requests"));
    const found = new Set<string>();
    sum(limits, get(resources, "limits"), found);
    if (!found.has("cpu") || !found.has("memory")) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return "BestEffort";
  for (const [name, request] of requests) {
    const limit = limits.get(name);
    if (!limit || !limit.equals(request)) guaranteed = false;
  }
  return guaranteed && requests.size === limits.size ? "Guaranteed" : "Burstable";
}

/** Adds the not-ready and unreachable NoExecute tolerations (300 s) unless the pod tolerates those taints already. */
function defaultTolerationSeconds(spec: Obj): void {
  if (spec.tolerations !== undefined && spec.tolerations !== null && !Array.isArray(spec.tolerations)) return;
  const tolerations = (spec.tolerations ?? []) as unknown[];
  const tolerated = (key: string) =>
    tolerations.some((t) =>
      isObj(t) && (unset(t.key) || t.key === key) && (unset(t.effect) || t.effect === "NoExecute")
    );
  for (const key of [TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE]) {
    if (!tolerated(key)) {
      tolerations.push({ key, operator: "Exists", effect: "NoExecute", tolerationSeconds: POD_EVICTION_SECONDS });
    }
  }
  spec.tolerations = tolerations;
}

/**
 * Defaults a Pod: its spec, requests copied from limits where missing,
 * `enableServiceLinks`, NoExecute tolerations for not-ready and unreachable
 * nodes (5 minutes), and `status.phase: Pending` with the QoS class.
 */
export function defaultPod(pod: unknown): void {
  if (!isObj(pod)) return;
  const spec = ensure(pod, "spec");
  if (!spec) return;
  defaultPodSpec(spec);
  setDefault(spec, "enableServiceLinks", true);
  for (const ctr of [...items(spec, "initContainers"), ...items(spec, "containers")]) {
    const resources = get(ctr, "resources");
    const limits = get(resources, "limits");
    if (!resources || !limits) continue;
    const requests = ensure(resources, "requests");
    if (!requests) continue;
    for (const [name, value] of Object.entries(limits)) {
      if (!(name in requests)) requests[name] = value;
    }
  }
  defaultTolerationSeconds(spec);
  const status = ensure(pod, "status");
  if (!status) return;
  setDefault(status, "phase", "Pending");
  setDefault(status, "qosClass", podQOSClass(spec));
}

function spec(obj: unknown): Obj | undefined {
  return isObj(obj) ? ensure(obj, "spec") : undefined;
}

/** Defaults a Deployment: 1 replica, RollingUpdate 25%/25%, 10 revisions, 600 s progress deadline. */
export function defaultDeployment(obj: unknown): void {
  const s = spec(obj);
  if (!s) return;
  setDefault(s, "replicas", 1);
  const strategy = ensure(s, "strategy");
  if (strategy) {
    setDefault(strategy, "type", "RollingUpdate");
    if (strategy.type === "RollingUpdate") {
      const ru = ensure(strategy, "rollingUpdate");
      if (ru) {
        setDefault(ru, "maxUnavailable", "25%");
        setDefault(ru, "maxSurge", "25%");
      }
    }
  }
  setDefault(s, "revisionHistoryLimit", 10);
  setDefault(s, "progressDeadlineSeconds", 600);
  defaultPodTemplateSpec(s.template);
}

/** Defaults a ReplicaSet: 1 replica. */
export function defaultReplicaSet(obj: unknown): void {
  const s = spec(obj);
  if (!s) return;
  setDefault(s, "replicas", 1);
  defaultPodTemplateSpec(s.template);
}

/** Defaults a DaemonSet: RollingUpdate with maxUnavailable 1 and maxSurge 0, 10 revisions. */
export function defaultDaemonSet(obj: unknown): void {
  const s = spec(obj);
  if (!s) return;
  const strategy = ensure(s, "updateStrategy");
  if (strategy) {
    setDefault(strategy, "type", "RollingUpdate");
    if (strategy.type === "RollingUpdate") {
      const ru = ensure(strategy, "rollingUpdate");
      if (ru) {
        setDefault(ru, "maxUnavailable", 1);
        setDefault(ru, "maxSurge", 0);
      }
    }
  }
  setDefault(s, "revisionHistoryLimit", 10);
  defaultPodTemplateSpec(s.template);
}

/**
 * Defaults a StatefulSet: 1 replica, OrderedReady, RollingUpdate with
 * partition 0, claims retained, 10 revisions, and claim templates.
 */
export function defaultStatefulSet(obj: unknown): void {
  const s = spec(obj);
  if (!s) return;
  setDefault(s, "replicas", 1);
  setDefault(s, "podManagementPolicy", "OrderedReady");
  const strategy = ensure(s, "updateStrategy");
  if (strategy) {
    if (unset(strategy.type)) {
      strategy.type = "RollingUpdate";
      ensure(strategy, "rollingUpdate");
    }
    const ru = get(strategy, "rollingUpdate");
    if (strategy.type === "RollingUpdate" && ru) setDefault(ru, "partition", 0);
  }
  const retention = ensure(s, "persistentVolumeClaimRetentionPolicy");
  if (retention) {
    setDefault(retention, "whenDeleted", "Retain");
    setDefault(retention, "whenScaled", "Retain");
  }
  setDefault(s, "revisionHistoryLimit", 10);
  for (const claim of items(s, "volumeClaimTemplates")) defaultPersistentVolumeClaim(claim);
  defaultPodTemplateSpec(s.template);
}

/**
 * Defaults a Service: type ClusterIP, sessionAffinity None (ClientIP gets a
 * 3-hour timeout), port protocol TCP, targetPort = port, traffic policies
 * Cluster, and node ports allocated for LoadBalancers.
 */
export function defaultService(obj: unknown): void {
  const s = spec(obj);
  if (!s) return;
  setDefault(s, "type", "ClusterIP");
  setDefault(s, "sessionAffinity", "None");
  if (s.sessionAffinity === "None") delete s.sessionAffinityConfig;
  if (s.sessionAffinity === "ClientIP") {
    const config = ensure(s, "sessionAffinityConfig");
    const clientIP = config && ensure(config, "clientIP");
    if (clientIP) setDefault(clientIP, "timeoutSeconds", 10800);
  }
  for (const port of items(s, "ports")) {
    setDefault(port, "protocol", "TCP");
    if (unset(port.targetPort) || port.targetPort === 0) port.targetPort = port.port;
  }
  const externalIPs = Array.isArray(s.externalIPs) && s.externalIPs.length > 0;
  const external = s.type === "NodePort" || s.type === "LoadBalancer" || (s.type === "ClusterIP" && externalIPs);
  if (external) setDefault(s, "externalTrafficPolicy", "Cluster");
  if (s.type === "NodePort" || s.type === "LoadBalancer" || s.type === "ClusterIP") {
    setDefault(s, "internalTrafficPolicy", "Cluster");
  }
  if (s.type === "LoadBalancer") setDefault(s, "allocateLoadBalancerNodePorts", true);
}

/** Base64 of the UTF-8 bytes of `text`. */
function base64Utf8(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/**
 * Defaults a Secret: type Opaque, and `stringData` merged into `data`
 * (base64, overriding keys of the same name) then removed, as Kubernetes
 * does on every write.
 */
export function defaultSecret(obj: unknown): void {
  if (!isObj(obj)) return;
  setDefault(obj, "type", "Opaque");
  const stringData = get(obj, "stringData");
  if (!stringData) {
    if (obj.stringData === null) delete obj.stringData;
    return;
  }
  const data = ensure(obj, "data");
  if (!data) return;
  for (const [key, value] of Object.entries(stringData)) {
    if (typeof value !== "string") continue;
    data[key] = base64Utf8(value);
    delete stringData[key];
  }
  if (Object.keys(stringData).length === 0) delete obj.stringData;
}

/** Defaults a Namespace: the `kubernetes.io/metadata.name` label and phase Active. */
export function defaultNamespace(obj: unknown): void {
  if (!isObj(obj)) return;
  const meta = get(obj, "metadata");
  if (meta && typeof meta.name === "string" && meta.name !== "") {
    const labels = ensure(meta, "labels");
    if (labels) labels[LABEL_NAMESPACE_NAME] = meta.name;
  }
  const status = ensure(obj, "status");
  if (status) setDefault(status, "phase", "Active");
}

/** Defaults a Node: allocatable copied from capacity when absent; quantities canonical. */
export function defaultNode(obj: unknown): void {
  if (!isObj(obj)) return;
  const status = get(obj, "status");
  if (!status) return;
  const capacity = get(status, "capacity");
  canonicalList(capacity);
  if (capacity && (status.allocatable === undefined || status.allocatable === null)) {
    status.allocatable = { ...capacity };
  }
  canonicalList(get(status, "allocatable"));
}

/** Defaults a PersistentVolume: reclaim policy Retain, volumeMode Filesystem, phase Pending. */
export function defaultPersistentVolume(obj: unknown): void {
  const s = spec(obj);
  if (!s) return;
  setDefault(s, "persistentVolumeReclaimPolicy", "Retain");
  setDefault(s, "volumeMode", "Filesystem");
  canonicalList(get(s, "capacity"));
  const status = ensure(obj as Obj, "status");
  if (status) setDefault(status, "phase", "Pending");
}

/** Defaults a PersistentVolumeClaim (or claim template): volumeMode Filesystem, phase Pending. */
export function defaultPersistentVolumeClaim(obj: unknown): void {
  const s = spec(obj);
  if (!s) return;
  setDefault(s, "volumeMode", "Filesystem");
  const resources = get(s, "resources");
  canonicalList(get(resources, "requests"));
  canonicalList(get(resources, "limits"));
  const status = ensure(obj as Obj, "status");
  if (!status) return;
  setDefault(status, "phase", "Pending");
  canonicalList(get(status, "capacity"));
}

/** Defaults a StorageClass: reclaim policy Delete, binding mode Immediate. */
export function defaultStorageClass(obj: unknown): void {
  if (!isObj(obj)) return;
  setDefault(obj, "reclaimPolicy", "Delete");
  setDefault(obj, "volumeBindingMode", "Immediate");
}

/** Defaults Endpoints: port protocol TCP. */
export function defaultEndpoints(obj: unknown): void {
  if (!isObj(obj)) return;
  for (const subset of items(obj, "subsets")) {
    for (const port of items(subset, "ports")) setDefault(port, "protocol", "TCP");
  }
}

/** Defaults an EndpointSlice: port protocol TCP. */
export function defaultEndpointSlice(obj: unknown): void {
  if (!isObj(obj)) return;
  for (const port of items(obj, "ports")) setDefault(port, "protocol", "TCP");
}
