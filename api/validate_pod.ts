/**
 * Validation of pods, pod specs and pod templates, with Kubernetes field
 * paths and messages. Pods and every workload (Deployment, ReplicaSet,
 * DaemonSet, StatefulSet) share these checks. Never throws.
 *
 * @module
 */

import {
  at,
  Check,
  child,
  deepEqual,
  firstDifferences,
  isObj,
  type Obj,
  PROTOCOLS,
  TAINT_EFFECTS,
} from "./_validation.ts";
import type { FieldError } from "./errors.ts";
import { imageReferenceErrors } from "./image.ts";
import {
  configMapKeyErrors,
  dns1123LabelErrors,
  dns1123SubdomainErrors,
  envVarNameErrors,
  labelValueErrors,
  portNameErrors,
  qualifiedNameErrors,
} from "./names.ts";
import { Quantity } from "./quantity.ts";
import { validateAnnotations, validateLabels, validateLabelSelector } from "./validate_meta.ts";

/** Options of {@linkcode validatePodSpec}. */
export interface PodSpecOptions {
  /** Volume names that exist besides `volumes` (a StatefulSet's volumeClaimTemplates). */
  extraVolumes?: readonly string[];
}

const VOLUME_SOURCES = [
  "emptyDir",
  "hostPath",
  "configMap",
  "secret",
  "downwardAPI",
  "persistentVolumeClaim",
  "projected",
  "csi",
] as const;
/** Volume types Kubernetes knows but Skiff does not run. */
const FOREIGN_VOLUME_SOURCES = [
  "nfs",
  "iscsi",
  "rbd",
  "cephfs",
  "glusterfs",
  "gcePersistentDisk",
  "awsElasticBlockStore",
  "azureDisk",
  "azureFile",
  "cinder",
  "fc",
  "flexVolume",
  "flocker",
  "gitRepo",
  "photonPersistentDisk",
  "portworxVolume",
  "quobyte",
  "scaleIO",
  "storageos",
  "vsphereVolume",
  "ephemeral",
  "image",
];
const HOST_PATH_TYPES = [
  "",
  "DirectoryOrCreate",
  "Directory",
  "FileOrCreate",
  "File",
  "Socket",
  "CharDevice",
  "BlockDevice",
];
const MODE_MESSAGE = "must be a number between 0 and 0777 (octal), both inclusive";
const ENV_FIELD_PATHS = [
  "metadata.name",
  "metadata.namespace",
  "metadata.uid",
  "spec.nodeName",
  "spec.serviceAccountName",
  "status.hostIP",
  "status.hostIPs",
  "status.podIP",
  "status.podIPs",
];
const VOLUME_FIELD_PATHS = [
  "metadata.annotations",
  "metadata.labels",
  "metadata.name",
  "metadata.namespace",
  "metadata.uid",
];
const RESOURCE_FIELD_REFS = [
  "limits.cpu",
  "limits.ephemeral-storage",
  "limits.memory",
  "requests.cpu",
  "requests.ephemeral-storage",
  "requests.memory",
];
const CPU_DIVISORS = ["1m", "1"];
const MEMORY_DIVISORS = ["1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"];
const WEIGHT_MESSAGE = "must be in the range 1-100";

/** True for a resource name that is not built in: `example.com/gpu`. */
function isExtendedResource(name: string): boolean {
  return name.includes("/") && !name.includes("kubernetes.io/") && !name.startsWith("requests.");
}

function isContainerResource(name: string): boolean {
  return ["cpu", "memory", "ephemeral-storage"].includes(name) || name.startsWith("hugepages-") ||
    isExtendedResource(name);
}

/** Checks a relative path inside a volume: not absolute, no `..` element. */
function checkRelativePath(c: Check, value: unknown, field: string, required: boolean): void {
  const p = required ? c.requiredStr(value, field) : c.str(value, field);
  if (!p) return;
  if (p.startsWith("/")) c.invalid(field, p, "must be a relative path");
  if (p.split("/").includes("..")) c.invalid(field, p, "must not contain '..'");
}

function checkMode(c: Check, value: unknown, field: string): void {
  c.int(value, field, { min: 0, max: 0o777, message: MODE_MESSAGE });
}

/** Checks `items` of configMap and secret sources; returns each item's path and its field. */
function checkKeyToPaths(c: Check, value: unknown, field: string): [string, string][] {
  const paths: [string, string][] = [];
  for (const [item, p] of c.objects(value, field)) {
    const key = c.requiredStr(item.key, child(p, "key"));
    if (key) c.name(key, child(p, "key"), configMapKeyErrors);
    checkRelativePath(c, item.path, child(p, "path"), true);
    if (typeof item.path === "string") paths.push([item.path, child(p, "path")]);
    checkMode(c, item.mode, child(p, "mode"));
  }
  return paths;
}

function checkFieldRef(c: Check, ref: Obj, field: string, supported: readonly string[]): void {
  c.str(ref.apiVersion, child(field, "apiVersion"));
  const path = c.requiredStr(ref.fieldPath, child(field, "fieldPath"));
  if (!path) return;
  const subscripted = /^(metadata\.(?:labels|annotations))\['(.*)'\]$/.exec(path);
  if (subscripted) {
    const key = subscripted[1] === "metadata.annotations"
      ? (subscripted[2] as string).toLowerCase()
      : subscripted[2] as string;
    c.name(key, field, qualifiedNameErrors);
  } else if (!supported.includes(path)) {
    c.notSupported(child(field, "fieldPath"), path, supported);
  }
}

function checkResourceFieldRef(c: Check, ref: Obj, field: string, requireContainer: boolean): void {
  if (requireContainer) c.requiredStr(ref.containerName, child(field, "containerName"));
  else c.str(ref.containerName, child(field, "containerName"));
  const resource = c.oneOf(ref.resource, child(field, "resource"), RESOURCE_FIELD_REFS);
  if (ref.resource == null) c.required(child(field, "resource"));
  const divisor = c.quantity(ref.divisor, child(field, "divisor"));
  if (!resource || !divisor || divisor.isZero()) return;
  const allowed = resource.endsWith("cpu") ? CPU_DIVISORS : MEMORY_DIVISORS;
  if (!allowed.some((d) => Quantity.parse(d).equals(divisor))) {
    const kind = resource.endsWith("cpu") ? "cpu" : resource.split(".")[1];
    c.invalid(
      child(field, "divisor"),
      ref.divisor,
      `only divisor's values ${allowed.join(", ")} are supported with the ${kind} resource`,
    );
  }
}

/** Counts which of `keys` are set on `o`; reports more than one as Forbidden. */
function exclusive(c: Check, o: Obj, keys: readonly string[], path: string, what: string): string[] {
  const set = keys.filter((k) => o[k] !== undefined && o[k] !== null);
  for (const extra of set.slice(1)) c.forbidden(child(path, extra), `may not specify more than 1 ${what}`);
  return set;
}

function checkVolumes(c: Check, value: unknown, path: string): Set<string> {
  const names = new Set<string>();
  for (const [vol, p] of c.objects(value, path)) {
    const name = c.requiredStr(vol.name, child(p, "name"));
    if (name && c.name(name, child(p, "name"), dns1123LabelErrors)) {
      if (names.has(name)) c.duplicate(child(p, "name"), name);
    }
    if (name) names.add(name);
    const foreign = FOREIGN_VOLUME_SOURCES.filter((k) => vol[k] != null);
    for (const k of foreign) c.notSupported(p, k, VOLUME_SOURCES);
    const set = exclusive(c, vol, VOLUME_SOURCES, p, "volume type");
    if (set.length === 0 && foreign.length === 0) c.required(p, "must specify a volume type");
    for (const source of set) checkVolumeSource(c, source, vol[source], child(p, source));
  }
  return names;
}

function checkVolumeSource(c: Check, source: string, value: unknown, p: string): void {
  const v = c.obj(value, p);
  if (!v) return;
  switch (source) {
    case "emptyDir": {
      c.oneOf(v.medium, child(p, "medium"), ["", "Memory"]);
      const size = c.quantity(v.sizeLimit, child(p, "sizeLimit"));
      if (size && size.sign() < 0) {
        c.invalid(child(p, "sizeLimit"), v.sizeLimit, "must be greater than or equal to 0");
      }
      break;
    }
    case "hostPath": {
      const hostPath = c.requiredStr(v.path, child(p, "path"));
      if (hostPath?.split("/").includes("..")) {
        c.invalid(child(p, "path"), hostPath, "must not contain '..'");
      }
      c.oneOf(v.type, child(p, "type"), HOST_PATH_TYPES);
      break;
    }
    case "configMap":
    case "secret": {
      const nameField = source === "secret" ? "secretName" : "name";
      const name = c.requiredStr(v[nameField], child(p, nameField));
      if (name) c.name(name, child(p, nameField), dns1123SubdomainErrors);
      checkKeyToPaths(c, v.items, child(p, "items"));
      checkMode(c, v.defaultMode, child(p, "defaultMode"));
      c.bool(v.optional, child(p, "optional"));
      break;
    }
    case "downwardAPI":
      checkDownwardAPIItems(c, v.items, child(p, "items"));
      checkMode(c, v.defaultMode, child(p, "defaultMode"));
      break;
    case "persistentVolumeClaim":
      c.requiredStr(v.claimName, child(p, "claimName"));
      c.bool(v.readOnly, child(p, "readOnly"));
      break;
    case "projected":
      checkProjected(c, v, p);
      break;
    case "csi":
      c.requiredStr(v.driver, child(p, "driver"));
      c.strMap(v.volumeAttributes, child(p, "volumeAttributes"));
      c.bool(v.readOnly, child(p, "readOnly"));
      c.str(v.fsType, child(p, "fsType"));
      break;
  }
}

function checkDownwardAPIItems(c: Check, value: unknown, path: string): string[] {
  const paths: string[] = [];
  for (const [item, p] of c.objects(value, path)) {
    checkRelativePath(c, item.path, child(p, "path"), true);
    if (typeof item.path === "string") paths.push(item.path);
    checkMode(c, item.mode, child(p, "mode"));
    const set = exclusive(c, item, ["fieldRef", "resourceFieldRef"], p, "source");
    if (set.length === 0) c.required(p, "one of `fieldRef` and `resourceFieldRef` must be specified");
    const fieldRef = c.obj(item.fieldRef, child(p, "fieldRef"));
    if (fieldRef) checkFieldRef(c, fieldRef, child(p, "fieldRef"), VOLUME_FIELD_PATHS);
    const resourceRef = c.obj(item.resourceFieldRef, child(p, "resourceFieldRef"));
    if (resourceRef) checkResourceFieldRef(c, resourceRef, child(p, "resourceFieldRef"), true);
  }
  return paths;
}

function checkProjected(c: Check, v: Obj, p: string): void {
  checkMode(c, v.defaultMode, child(p, "defaultMode"));
  const seen = new Set<string>();
  const note = (path: string, field: string) => {
    if (seen.has(path)) c.invalid(field, path, "conflicting duplicate paths");
    seen.add(path);
  };
  for (const [src, sp] of c.objects(v.sources, child(p, "sources"))) {
    const kinds = ["configMap", "secret", "downwardAPI", "serviceAccountToken"];
    if (exclusive(c, src, kinds, sp, "projection").length === 0) {
      c.required(sp, "must specify a projection source");
    }
    for (const kind of ["configMap", "secret"]) {
      const ref = c.obj(src[kind], child(sp, kind));
      if (!ref) continue;
      const name = c.requiredStr(ref.name, child(child(sp, kind), "name"));
      if (name) c.name(name, child(child(sp, kind), "name"), dns1123SubdomainErrors);
      for (const [path, field] of checkKeyToPaths(c, ref.items, child(child(sp, kind), "items"))) {
        note(path, field);
      }
    }
    const downward = c.obj(src.downwardAPI, child(sp, "downwardAPI"));
    if (downward) {
      const itemsPath = child(child(sp, "downwardAPI"), "items");
      checkDownwardAPIItems(c, downward.items, itemsPath)
        .forEach((path, i) => note(path, child(at(itemsPath, i), "path")));
    }
    const token = c.obj(src.serviceAccountToken, child(sp, "serviceAccountToken"));
    if (token) {
      const tp = child(sp, "serviceAccountToken");
      checkRelativePath(c, token.path, child(tp, "path"), true);
      if (typeof token.path === "string") note(token.path, child(tp, "path"));
      c.str(token.audience, child(tp, "audience"));
      const seconds = c.int(token.expirationSeconds, child(tp, "expirationSeconds"), { int64: true });
      if (seconds !== undefined && seconds < 600) {
        c.invalid(child(tp, "expirationSeconds"), seconds, "may not specify a duration less than 10 minutes");
      }
    }
  }
}

interface ContainerContext {
  volumes: ReadonlySet<string>;
  names: Set<string>;
  hostPorts: Set<string>;
  hostNetwork: boolean;
  init: boolean;
}

function checkContainers(c: Check, value: unknown, path: string, ctx: ContainerContext): void {
  for (const [ctr, p] of c.objects(value, path)) checkContainer(c, ctr, p, ctx);
}

function checkContainer(c: Check, ctr: Obj, p: string, ctx: ContainerContext): void {
  const name = c.requiredStr(ctr.name, child(p, "name"));
  if (name && c.name(name, child(p, "name"), dns1123LabelErrors)) {
    if (ctx.names.has(name)) c.duplicate(child(p, "name"), name);
    ctx.names.add(name);
  }
  const image = c.requiredStr(ctr.image, child(p, "image"));
  if (image !== undefined) {
    if (image.trim() !== image) {
      c.invalid(child(p, "image"), image, "must not have leading or trailing whitespace");
    } else c.name(image, child(p, "image"), imageReferenceErrors);
  }
  c.strList(ctr.command, child(p, "command"));
  c.strList(ctr.args, child(p, "args"));
  c.str(ctr.workingDir, child(p, "workingDir"));
  c.oneOf(ctr.imagePullPolicy, child(p, "imagePullPolicy"), ["Always", "IfNotPresent", "Never"]);
  c.str(ctr.terminationMessagePath, child(p, "terminationMessagePath"));
  c.oneOf(ctr.terminationMessagePolicy, child(p, "terminationMessagePolicy"), [
    "File",
    "FallbackToLogsOnError",
  ]);
  for (const flag of ["stdin", "stdinOnce", "tty"]) c.bool(ctr[flag], child(p, flag));
  checkPorts(c, ctr.ports, child(p, "ports"), ctx);
  checkEnv(c, ctr.env, child(p, "env"));
  checkEnvFrom(c, ctr.envFrom, child(p, "envFrom"));
  checkResources(c, ctr.resources, child(p, "resources"));
  checkVolumeMounts(c, ctr.volumeMounts, child(p, "volumeMounts"), ctx.volumes);
  checkSecurityContext(c, ctr.securityContext, child(p, "securityContext"));
  const sidecar = ctx.init && ctr.restartPolicy === "Always";
  if (ctx.init) c.oneOf(ctr.restartPolicy, child(p, "restartPolicy"), ["Always"]);
  else if (ctr.restartPolicy != null) {
    c.forbidden(child(p, "restartPolicy"), "may not be set for non-init containers");
  }
  for (const probe of ["livenessProbe", "readinessProbe", "startupProbe", "lifecycle"]) {
    if (ctx.init && !sidecar && ctr[probe] != null) {
      c.forbidden(child(p, probe), "may not be set for init containers without restartPolicy=Always");
    }
  }
  checkProbe(c, ctr.livenessProbe, child(p, "livenessProbe"), "liveness");
  checkProbe(c, ctr.readinessProbe, child(p, "readinessProbe"), "readiness");
  checkProbe(c, ctr.startupProbe, child(p, "startupProbe"), "startup");
  const lifecycle = c.obj(ctr.lifecycle, child(p, "lifecycle"));
  if (lifecycle) {
    for (const hook of ["postStart", "preStop"]) {
      const h = c.obj(lifecycle[hook], child(child(p, "lifecycle"), hook));
      if (h) checkHandler(c, h, child(child(p, "lifecycle"), hook), true);
    }
  }
}

function checkPorts(c: Check, value: unknown, path: string, ctx: ContainerContext): void {
  const names = new Set<string>();
  for (const [port, p] of c.objects(value, path)) {
    const name = c.str(port.name, child(p, "name"));
    if (name) {
      if (c.name(name, child(p, "name"), portNameErrors) && names.has(name)) {
        c.duplicate(child(p, "name"), name);
      }
      names.add(name);
    }
    const containerPort = c.port(port.containerPort, child(p, "containerPort"), true);
    const hostPort = c.port(port.hostPort, child(p, "hostPort"));
    const protocol = c.oneOf(port.protocol, child(p, "protocol"), PROTOCOLS) ?? "TCP";
    const hostIP = c.ip(port.hostIP, child(p, "hostIP")) ?? "";
    if (hostPort) {
      const key = `${protocol}/${hostIP}/${hostPort}`;
      if (ctx.hostPorts.has(key)) c.duplicate(child(p, "hostPort"), key);
      ctx.hostPorts.add(key);
    }
    if (ctx.hostNetwork && containerPort !== undefined && (hostPort ?? containerPort) !== containerPort) {
      c.invalid(child(p, "containerPort"), containerPort, "must match `hostPort` when `hostNetwork` is true");
    }
  }
}

function checkEnv(c: Check, value: unknown, path: string): void {
  for (const [env, p] of c.objects(value, path)) {
    const name = c.requiredStr(env.name, child(p, "name"));
    if (name) c.name(name, child(p, "name"), envVarNameErrors);
    const literal = c.str(env.value, child(p, "value"));
    const from = c.obj(env.valueFrom, child(p, "valueFrom"));
    if (!from) continue;
    const fp = child(p, "valueFrom");
    if (literal) c.invalid(fp, "", "may not be specified when `value` is not empty");
    const sources = ["fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef"];
    const set = sources.filter((k) => from[k] != null);
    if (set.length === 0) {
      c.invalid(fp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`");
    } else if (set.length > 1) {
      c.invalid(fp, "", "may not have more than one field specified at a time");
    }
    const fieldRef = c.obj(from.fieldRef, child(fp, "fieldRef"));
    if (fieldRef) checkFieldRef(c, fieldRef, child(fp, "fieldRef"), ENV_FIELD_PATHS);
    const resourceRef = c.obj(from.resourceFieldRef, child(fp, "resourceFieldRef"));
    if (resourceRef) checkResourceFieldRef(c, resourceRef, child(fp, "resourceFieldRef"), false);
    for (const kind of ["configMapKeyRef", "secretKeyRef"]) {
      const ref = c.obj(from[kind], child(fp, kind));
      if (!ref) continue;
      const rp = child(fp, kind);
      c.name(c.str(ref.name, child(rp, "name")) ?? "", child(rp, "name"), dns1123SubdomainErrors);
      const key = c.requiredStr(ref.key, child(rp, "key"));
      if (key) c.name(key, child(rp, "key"), configMapKeyErrors);
      c.bool(ref.optional, child(rp, "optional"));
    }
  }
}

function checkEnvFrom(c: Check, value: unknown, path: string): void {
  for (const [src, p] of c.objects(value, path)) {
    const prefix = c.str(src.prefix, child(p, "prefix"));
    if (prefix) c.name(prefix, child(p, "prefix"), envVarNameErrors);
    const set = ["configMapRef", "secretRef"].filter((k) => src[k] != null);
    if (set.length === 0) c.required(p, "must specify one of: `configMapRef` or `secretRef`");
    if (set.length > 1) c.invalid(p, "", "may not have more than one field specified at a time");
    for (const kind of set) {
      const ref = c.obj(src[kind], child(p, kind));
      if (!ref) continue;
      c.name(
        c.str(ref.name, child(child(p, kind), "name")) ?? "",
        child(child(p, kind), "name"),
        dns1123SubdomainErrors,
      );
      c.bool(ref.optional, child(child(p, kind), "optional"));
    }
  }
}

/** Checks a resource list: names, quantities, non-negative. */
function checkResourceList(c: Check, value: unknown, path: string, container: boolean): Map<string, Quantity> {
  const out = new Map<string, Quantity>();
  const list = c.obj(value, path);
  for (const [name, raw] of Object.entries(list ?? {})) {
    const p = at(path, name);
    if (!c.name(name, p, qualifiedNameErrors)) continue;
    if (container && !isContainerResource(name)) {
      c.invalid(p, name, "must be a standard resource for containers");
      continue;
    }
    const q = c.quantity(raw, p);
    if (!q) continue;
    if (q.sign() < 0) c.invalid(p, q.toString(), "must be greater than or equal to 0");
    if (isExtendedResource(name) && q.nanos % 1_000_000_000n !== 0n) {
      c.invalid(p, q.toString(), "must be an integer");
    }
    out.set(name, q);
  }
  return out;
}

function checkResources(c: Check, value: unknown, path: string): void {
  const res = c.obj(value, path);
  if (!res) return;
  const limits = checkResourceList(c, res.limits, child(path, "limits"), true);
  const requests = checkResourceList(c, res.requests, child(path, "requests"), true);
  for (const [name, request] of requests) {
    const limit = limits.get(name);
    const p = at(child(path, "requests"), name);
    if (isExtendedResource(name)) {
      if (!limit) c.forbidden(p, "Limit must be set for non overcommitable resources");
      else if (!limit.equals(request)) {
        c.invalid(p, request.toString(), `must be equal to ${name} limit of ${limit.toString()}`);
      }
    } else if (limit && request.cmp(limit) > 0) {
      c.invalid(p, request.toString(), `must be less than or equal to ${name} limit of ${limit.toString()}`);
    }
  }
}

function checkVolumeMounts(c: Check, value: unknown, path: string, volumes: ReadonlySet<string>): void {
  const mountPaths = new Set<string>();
  for (const [mount, p] of c.objects(value, path)) {
    const name = c.requiredStr(mount.name, child(p, "name"));
    if (name && !volumes.has(name)) c.notFound(child(p, "name"), name);
    const mountPath = c.requiredStr(mount.mountPath, child(p, "mountPath"));
    if (mountPath) {
      if (mountPaths.has(mountPath)) c.invalid(child(p, "mountPath"), mountPath, "must be unique");
      mountPaths.add(mountPath);
    }
    checkRelativePath(c, mount.subPath, child(p, "subPath"), false);
    c.str(mount.subPathExpr, child(p, "subPathExpr"));
    if (mount.subPath && mount.subPathExpr) {
      c.invalid(child(p, "subPathExpr"), mount.subPathExpr, "subPathExpr and subPath are mutually exclusive");
    }
    c.bool(mount.readOnly, child(p, "readOnly"));
    c.oneOf(mount.mountPropagation, child(p, "mountPropagation"), ["None", "HostToContainer", "Bidirectional"]);
  }
}

/** Checks a probe or lifecycle handler: exactly one action, each well formed. */
function checkHandler(c: Check, h: Obj, p: string, lifecycle: boolean): void {
  const actions = lifecycle ? ["exec", "httpGet", "tcpSocket", "sleep"] : ["exec", "httpGet", "tcpSocket", "grpc"];
  if (exclusive(c, h, actions, p, "handler type").length === 0) {
    c.required(p, "must specify a handler type");
  }
  const exec = c.obj(h.exec, child(p, "exec"));
  if (exec) {
    const command = c.strList(exec.command, child(child(p, "exec"), "command"));
    if (!command || command.length === 0) c.required(child(child(p, "exec"), "command"));
  }
  const http = c.obj(h.httpGet, child(p, "httpGet"));
  if (http) {
    const hp = child(p, "httpGet");
    if (http.port == null) c.required(child(hp, "port"));
    c.portNumOrName(http.port, child(hp, "port"));
    c.str(http.path, child(hp, "path"));
    c.str(http.host, child(hp, "host"));
    c.oneOf(http.scheme, child(hp, "scheme"), ["HTTP", "HTTPS"]);
    for (const [header, headerPath] of c.objects(http.httpHeaders, child(hp, "httpHeaders"))) {
      const name = c.requiredStr(header.name, child(headerPath, "name"));
      if (name && !/^[-A-Za-z0-9!#$%&'*+.^_`|~]+$/.test(name)) {
        c.invalid(
          child(headerPath, "name"),
          name,
          "a valid HTTP header must consist of alphanumeric characters or '-'",
        );
      }
      c.str(header.value, child(headerPath, "value"));
    }
  }
  const tcp = c.obj(h.tcpSocket, child(p, "tcpSocket"));
  if (tcp) {
    if (tcp.port == null) c.required(child(child(p, "tcpSocket"), "port"));
    c.portNumOrName(tcp.port, child(child(p, "tcpSocket"), "port"));
    c.str(tcp.host, child(child(p, "tcpSocket"), "host"));
  }
  const grpc = c.obj(h.grpc, child(p, "grpc"));
  if (grpc) {
    c.port(grpc.port, child(child(p, "grpc"), "port"), true);
    c.str(grpc.service, child(child(p, "grpc"), "service"));
  }
  const sleep = c.obj(h.sleep, child(p, "sleep"));
  if (sleep) {
    if (sleep.seconds == null) c.required(child(child(p, "sleep"), "seconds"));
    c.int(sleep.seconds, child(child(p, "sleep"), "seconds"), { int64: true, min: 0 });
  }
}

function checkProbe(c: Check, value: unknown, p: string, kind: "liveness" | "readiness" | "startup"): void {
  const probe = c.obj(value, p);
  if (!probe) return;
  checkHandler(c, probe, p, false);
  for (
    const field of ["initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"]
  ) {
    c.int(probe[field], child(p, field), { min: 0 });
  }
  c.int(probe.terminationGracePeriodSeconds, child(p, "terminationGracePeriodSeconds"), { int64: true, min: 1 });
  if (kind !== "readiness" && probe.successThreshold != null && probe.successThreshold !== 1) {
    c.invalid(child(p, "successThreshold"), probe.successThreshold, "must be 1");
  }
  if (kind === "readiness" && probe.terminationGracePeriodSeconds != null) {
    c.invalid(
      child(p, "terminationGracePeriodSeconds"),
      probe.terminationGracePeriodSeconds,
      "must not be set for readinessProbes",
    );
  }
}

const ID_RANGE = { int64: true, min: 0, max: 2147483647 };

function checkSecurityContext(c: Check, value: unknown, p: string): void {
  const sc = c.obj(value, p);
  if (!sc) return;
  const privileged = c.bool(sc.privileged, child(p, "privileged"));
  const escalation = c.bool(sc.allowPrivilegeEscalation, child(p, "allowPrivilegeEscalation"));
  if (privileged === true && escalation === false) {
    c.invalid(p, "", "cannot set `allowPrivilegeEscalation` to false and `privileged` to true");
  }
  c.int(sc.runAsUser, child(p, "runAsUser"), ID_RANGE);
  c.int(sc.runAsGroup, child(p, "runAsGroup"), ID_RANGE);
  c.bool(sc.runAsNonRoot, child(p, "runAsNonRoot"));
  c.bool(sc.readOnlyRootFilesystem, child(p, "readOnlyRootFilesystem"));
  c.oneOf(sc.procMount, child(p, "procMount"), ["Default", "Unmasked"]);
  const caps = c.obj(sc.capabilities, child(p, "capabilities"));
  if (caps) {
    c.strList(caps.add, child(child(p, "capabilities"), "add"));
    c.strList(caps.drop, child(child(p, "capabilities"), "drop"));
  }
  checkSeccomp(c, sc.seccompProfile, child(p, "seccompProfile"));
}

function checkSeccomp(c: Check, value: unknown, p: string): void {
  const profile = c.obj(value, p);
  if (!profile) return;
  const type = c.oneOf(profile.type, child(p, "type"), ["RuntimeDefault", "Unconfined", "Localhost"]);
  if (profile.type == null) c.required(child(p, "type"));
  const local = c.str(profile.localhostProfile, child(p, "localhostProfile"));
  if (type === "Localhost" && !local) {
    c.required(child(p, "localhostProfile"), "must be set when seccomp type is Localhost");
  } else if (type && type !== "Localhost" && local) {
    c.invalid(child(p, "localhostProfile"), local, "can only be set when seccomp type is Localhost");
  }
}

function checkPodSecurityContext(c: Check, value: unknown, p: string): void {
  const sc = c.obj(value, p);
  if (!sc) return;
  for (const field of ["runAsUser", "runAsGroup", "fsGroup"]) c.int(sc[field], child(p, field), ID_RANGE);
  (c.arr(sc.supplementalGroups, child(p, "supplementalGroups")) ?? [])
    .forEach((g, i) => c.int(g, at(child(p, "supplementalGroups"), i), ID_RANGE));
  c.bool(sc.runAsNonRoot, child(p, "runAsNonRoot"));
  checkSeccomp(c, sc.seccompProfile, child(p, "seccompProfile"));
  for (const [sysctl, sp] of c.objects(sc.sysctls, child(p, "sysctls"))) {
    c.requiredStr(sysctl.name, child(sp, "name"));
    c.str(sysctl.value, child(sp, "value"));
  }
}

function checkNodeSelectorRequirement(c: Check, req: Obj, p: string): void {
  const values = c.strList(req.values, child(p, "values")) ?? [];
  const op = c.str(req.operator, child(p, "operator"));
  if (op === "In" || op === "NotIn") {
    if (values.length === 0) c.required(child(p, "values"), "must be specified when `operator` is 'In' or 'NotIn'");
  } else if (op === "Exists" || op === "DoesNotExist") {
    if (values.length > 0) {
      c.forbidden(child(p, "values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
    }
  } else if (op === "Gt" || op === "Lt") {
    if (values.length !== 1) {
      c.required(child(p, "values"), "must be specified single value when `operator` is 'Lt' or 'Gt'");
    } else if (!/^[+-]?[0-9]+$/.test(values[0] as string)) {
      c.invalid(at(child(p, "values"), 0), values[0], "must be an integer");
    }
  } else if (typeof req.operator === "string" || req.operator == null) {
    c.invalid(child(p, "operator"), op ?? "", "not a valid selector operator");
  }
  c.name(c.str(req.key, child(p, "key")) ?? "", child(p, "key"), qualifiedNameErrors);
}

function checkNodeSelectorTerm(c: Check, term: Obj, p: string): void {
  for (const [req, rp] of c.objects(term.matchExpressions, child(p, "matchExpressions"))) {
    checkNodeSelectorRequirement(c, req, rp);
  }
  for (const [req, rp] of c.objects(term.matchFields, child(p, "matchFields"))) {
    const key = c.str(req.key, child(rp, "key"));
    if (key !== "metadata.name") c.invalid(child(rp, "key"), key ?? "", "not a valid field selector key");
    const op = c.oneOf(req.operator, child(rp, "operator"), ["In", "NotIn"]);
    const values = c.strList(req.values, child(rp, "values")) ?? [];
    if (op && values.length !== 1) c.invalid(child(rp, "values"), values, "must have one element");
  }
}

/** Checks a NodeSelector (node affinity, PersistentVolume node affinity): at least one valid term. */
export function validateNodeSelector(selector: unknown, path: string): FieldError[] {
  const c = new Check();
  const sel = c.obj(selector, path);
  if (!sel) return c.errors;
  const raw = sel.nodeSelectorTerms;
  const terms = c.objects(raw, child(path, "nodeSelectorTerms"));
  if (raw == null || (Array.isArray(raw) && raw.length === 0)) {
    c.required(child(path, "nodeSelectorTerms"), "must have at least one node selector term");
  }
  for (const [term, tp] of terms) checkNodeSelectorTerm(c, term, tp);
  return c.errors;
}

function checkPodAffinityTerm(c: Check, term: Obj, p: string): void {
  c.add(validateLabelSelector(term.labelSelector, child(p, "labelSelector")));
  c.add(validateLabelSelector(term.namespaceSelector, child(p, "namespaceSelector")));
  for (const ns of c.strList(term.namespaces, child(p, "namespaces")) ?? []) {
    c.name(ns, child(p, "namespaces"), dns1123LabelErrors);
  }
  const key = c.requiredStr(term.topologyKey, child(p, "topologyKey"), "can not be empty");
  if (key) c.name(key, child(p, "topologyKey"), qualifiedNameErrors);
  for (const field of ["matchLabelKeys", "mismatchLabelKeys"]) {
    for (const k of c.strList(term[field], child(p, field)) ?? []) c.name(k, child(p, field), qualifiedNameErrors);
  }
}

function checkAffinity(c: Check, value: unknown, p: string): void {
  const affinity = c.obj(value, p);
  if (!affinity) return;
  const node = c.obj(affinity.nodeAffinity, child(p, "nodeAffinity"));
  if (node) {
    const np = child(p, "nodeAffinity");
    const requiredField = "requiredDuringSchedulingIgnoredDuringExecution";
    const preferredField = "preferredDuringSchedulingIgnoredDuringExecution";
    c.add(validateNodeSelector(node[requiredField], child(np, requiredField)));
    for (const [pref, pp] of c.objects(node[preferredField], child(np, preferredField))) {
      if (pref.weight == null) c.required(child(pp, "weight"));
      c.int(pref.weight, child(pp, "weight"), { min: 1, max: 100, message: WEIGHT_MESSAGE });
      const term = c.obj(pref.preference, child(pp, "preference"));
      if (term) checkNodeSelectorTerm(c, term, child(pp, "preference"));
      else if (pref.preference == null) c.required(child(pp, "preference"));
    }
  }
  for (const kind of ["podAffinity", "podAntiAffinity"]) {
    const pa = c.obj(affinity[kind], child(p, kind));
    if (!pa) continue;
    const kp = child(p, kind);
    const requiredField = "requiredDuringSchedulingIgnoredDuringExecution";
    const preferredField = "preferredDuringSchedulingIgnoredDuringExecution";
    for (const [term, tp] of c.objects(pa[requiredField], child(kp, requiredField))) {
      checkPodAffinityTerm(c, term, tp);
    }
    for (const [pref, pp] of c.objects(pa[preferredField], child(kp, preferredField))) {
      if (pref.weight == null) c.required(child(pp, "weight"));
      c.int(pref.weight, child(pp, "weight"), { min: 1, max: 100, message: WEIGHT_MESSAGE });
      const term = c.obj(pref.podAffinityTerm, child(pp, "podAffinityTerm"));
      if (term) checkPodAffinityTerm(c, term, child(pp, "podAffinityTerm"));
      else if (pref.podAffinityTerm == null) c.required(child(pp, "podAffinityTerm"));
    }
  }
}

function checkTolerations(c: Check, value: unknown, path: string): void {
  for (const [t, p] of c.objects(value, path)) {
    const key = c.str(t.key, child(p, "key")) ?? "";
    if (key) c.name(key, child(p, "key"), qualifiedNameErrors);
    const operator = c.str(t.operator, child(p, "operator")) ?? "";
    const tvalue = c.str(t.value, child(p, "value")) ?? "";
    const effect = c.str(t.effect, child(p, "effect")) ?? "";
    const seconds = c.int(t.tolerationSeconds, child(p, "tolerationSeconds"), { int64: true });
    if (!key && operator !== "Exists") {
      c.invalid(
        child(p, "operator"),
        operator,
        'operator must be Exists when `key` is empty, which means "match all values and all keys"',
      );
    }
    if (seconds !== undefined && effect !== "NoExecute") {
      c.invalid(child(p, "effect"), effect, "effect must be 'NoExecute' when `tolerationSeconds` is set");
    }
    if (operator === "" || operator === "Equal") {
      const errs = labelValueErrors(tvalue);
      if (errs.length > 0) c.invalid(child(p, "operator"), tvalue, errs.join(";"));
    } else if (operator === "Exists") {
      if (tvalue) c.invalid(child(p, "operator"), t, "value must be empty when `operator` is 'Exists'");
    } else c.notSupported(child(p, "operator"), operator, ["Equal", "Exists"]);
    if (effect && !TAINT_EFFECTS.includes(effect)) c.notSupported(child(p, "effect"), effect, TAINT_EFFECTS);
  }
}

function checkTopologySpread(c: Check, value: unknown, path: string): void {
  const seen = new Set<string>();
  for (const [t, p] of c.objects(value, path)) {
    if (t.maxSkew == null) c.required(child(p, "maxSkew"));
    c.int(t.maxSkew, child(p, "maxSkew"), { min: 1, message: "must be greater than zero" });
    const key = c.requiredStr(t.topologyKey, child(p, "topologyKey"), "can not be empty");
    if (key) c.name(key, child(p, "topologyKey"), qualifiedNameErrors);
    const when = c.oneOf(t.whenUnsatisfiable, child(p, "whenUnsatisfiable"), ["DoNotSchedule", "ScheduleAnyway"]);
    if (t.whenUnsatisfiable == null) c.required(child(p, "whenUnsatisfiable"));
    const minDomains = c.int(t.minDomains, child(p, "minDomains"), { min: 1, message: "must be greater than 0" });
    if (minDomains !== undefined && when === "ScheduleAnyway") {
      c.invalid(
        child(p, "minDomains"),
        minDomains,
        "can only use minDomains if whenUnsatisfiable=DoNotSchedule, not ScheduleAnyway",
      );
    }
    c.add(validateLabelSelector(t.labelSelector, child(p, "labelSelector")));
    for (const k of c.strList(t.matchLabelKeys, child(p, "matchLabelKeys")) ?? []) {
      c.name(k, child(p, "matchLabelKeys"), qualifiedNameErrors);
    }
    c.oneOf(t.nodeAffinityPolicy, child(p, "nodeAffinityPolicy"), ["Honor", "Ignore"]);
    c.oneOf(t.nodeTaintsPolicy, child(p, "nodeTaintsPolicy"), ["Honor", "Ignore"]);
    if (key && when) {
      const pair = `{${key}, ${when}}`;
      if (seen.has(pair)) c.duplicate(p, pair);
      seen.add(pair);
    }
  }
}

function checkDNSConfig(c: Check, value: unknown, p: string, policy: unknown): void {
  const config = c.obj(value, p);
  if (policy === "None" && !config) {
    c.required(p, "must provide `dnsConfig` when `dnsPolicy` is None");
  }
  if (!config) return;
  const nameservers = c.strList(config.nameservers, child(p, "nameservers")) ?? [];
  if (nameservers.length > 3) c.invalid(child(p, "nameservers"), nameservers, "must not have more than 3 nameservers");
  nameservers.forEach((ns, i) => c.ip(ns, at(child(p, "nameservers"), i)));
  if (policy === "None" && nameservers.length === 0) {
    c.required(child(p, "nameservers"), "must provide at least one DNS nameserver when `dnsPolicy` is None");
  }
  const searches = c.strList(config.searches, child(p, "searches")) ?? [];
  if (searches.length > 32) c.invalid(child(p, "searches"), searches, "must not have more than 32 search paths");
  searches.forEach((s, i) => c.name(s.replace(/\.$/, ""), at(child(p, "searches"), i), dns1123SubdomainErrors));
  for (const [opt, op] of c.objects(config.options, child(p, "options"))) {
    c.requiredStr(opt.name, child(op, "name"), "Option.Name must not be empty");
    c.str(opt.value, child(op, "value"));
  }
}

function checkPodSpec(c: Check, value: unknown, path: string, options: PodSpecOptions): void {
  if (value !== undefined && value !== null && !isObj(value)) {
    c.wrongType(path, value, "an object");
    return;
  }
  const spec: Obj = isObj(value) ? value : {};
  const volumes = checkVolumes(c, spec.volumes, child(path, "volumes"));
  for (const extra of options.extraVolumes ?? []) volumes.add(extra);
  const hostNetwork = c.bool(spec.hostNetwork, child(path, "hostNetwork")) ?? false;
  const ctx: ContainerContext = { volumes, names: new Set(), hostPorts: new Set(), hostNetwork, init: true };
  checkContainers(c, spec.initContainers, child(path, "initContainers"), ctx);
  const containers = c.arr(spec.containers, child(path, "containers"));
  if (containers?.length === 0 || spec.containers == null) c.required(child(path, "containers"));
  checkContainers(c, containers, child(path, "containers"), { ...ctx, init: false });
  c.oneOf(spec.restartPolicy, child(path, "restartPolicy"), ["Always", "OnFailure", "Never"]);
  c.oneOf(spec.dnsPolicy, child(path, "dnsPolicy"), ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]);
  checkDNSConfig(c, spec.dnsConfig, child(path, "dnsConfig"), spec.dnsPolicy);
  c.int(spec.terminationGracePeriodSeconds, child(path, "terminationGracePeriodSeconds"), { int64: true, min: 0 });
  c.int(spec.activeDeadlineSeconds, child(path, "activeDeadlineSeconds"), { int64: true, min: 1, max: 2147483647 });
  c.add(validateLabels(spec.nodeSelector, child(path, "nodeSelector")));
  for (const field of ["serviceAccountName", "serviceAccount", "nodeName", "schedulerName", "priorityClassName"]) {
    const v = c.str(spec[field], child(path, field));
    if (v) c.name(v, child(path, field), dns1123SubdomainErrors);
  }
  for (const field of ["hostname", "subdomain"]) {
    const v = c.str(spec[field], child(path, field));
    if (v) c.name(v, child(path, field), dns1123LabelErrors);
  }
  for (
    const field of ["hostPID", "hostIPC", "shareProcessNamespace", "enableServiceLinks", "automountServiceAccountToken"]
  ) {
    c.bool(spec[field], child(path, field));
  }
  c.int(spec.priority, child(path, "priority"));
  c.oneOf(spec.preemptionPolicy, child(path, "preemptionPolicy"), ["PreemptLowerPriority", "Never"]);
  c.str(spec.runtimeClassName, child(path, "runtimeClassName"));
  checkResourceList(c, spec.overhead, child(path, "overhead"), false);
  checkPodSecurityContext(c, spec.securityContext, child(path, "securityContext"));
  for (const [ref, rp] of c.objects(spec.imagePullSecrets, child(path, "imagePullSecrets"))) {
    c.str(ref.name, child(rp, "name"));
  }
  checkAffinity(c, spec.affinity, child(path, "affinity"));
  checkTolerations(c, spec.tolerations, child(path, "tolerations"));
  checkTopologySpread(c, spec.topologySpreadConstraints, child(path, "topologySpreadConstraints"));
  for (const [alias, ap] of c.objects(spec.hostAliases, child(path, "hostAliases"))) {
    if (alias.ip == null || alias.ip === "") c.required(child(ap, "ip"));
    c.ip(alias.ip, child(ap, "ip"));
    for (const h of c.strList(alias.hostnames, child(ap, "hostnames")) ?? []) {
      c.name(h, child(ap, "hostnames"), dns1123SubdomainErrors);
    }
  }
}

/** Checks a PodSpec at `path` (default `spec`). */
export function validatePodSpec(spec: unknown, path = "spec", options: PodSpecOptions = {}): FieldError[] {
  const c = new Check();
  checkPodSpec(c, spec, path, options);
  return c.errors;
}

/** Checks a pod template (labels, annotations and spec) at `path`, e.g. `spec.template`. */
export function validatePodTemplateSpec(
  template: unknown,
  path: string,
  options: PodSpecOptions = {},
): FieldError[] {
  const c = new Check();
  const t = c.obj(template, path);
  if (!t) {
    if (template == null) c.required(path);
    return c.errors;
  }
  const meta = c.obj(t.metadata, child(path, "metadata"));
  c.add(validateLabels(meta?.labels, child(child(path, "metadata"), "labels")));
  c.add(validateAnnotations(meta?.annotations, child(child(path, "metadata"), "annotations")));
  checkPodSpec(c, t.spec, child(path, "spec"), options);
  return c.errors;
}

function checkPodStatus(c: Check, value: unknown, p: string): void {
  const status = c.obj(value, p);
  if (!status) return;
  c.oneOf(status.phase, child(p, "phase"), ["Pending", "Running", "Succeeded", "Failed", "Unknown"]);
  c.oneOf(status.qosClass, child(p, "qosClass"), ["Guaranteed", "Burstable", "BestEffort"]);
  for (const field of ["message", "reason", "startTime", "nominatedNodeName"]) c.str(status[field], child(p, field));
  c.conditions(status.conditions, child(p, "conditions"));
  c.ip(status.podIP, child(p, "podIP"));
  c.ip(status.hostIP, child(p, "hostIP"));
  for (const field of ["podIPs", "hostIPs"]) {
    const seen = new Set<string>();
    for (const [entry, ep] of c.objects(status[field], child(p, field))) {
      const ip = c.ip(entry.ip, child(ep, "ip"));
      if (ip && seen.has(ip)) c.duplicate(child(ep, "ip"), ip);
      if (ip) seen.add(ip);
    }
  }
  for (const field of ["initContainerStatuses", "containerStatuses"]) {
    for (const [cs, csp] of c.objects(status[field], child(p, field))) {
      c.requiredStr(cs.name, child(csp, "name"));
      c.int(cs.restartCount, child(csp, "restartCount"), { min: 0 });
      c.bool(cs.ready, child(csp, "ready"));
      c.bool(cs.started, child(csp, "started"));
      for (const s of ["image", "imageID", "containerID"]) c.str(cs[s], child(csp, s));
      c.obj(cs.state, child(csp, "state"));
      c.obj(cs.lastState, child(csp, "lastState"));
    }
  }
}

function withOldImages(next: unknown, prev: unknown): unknown {
  if (!Array.isArray(next) || !Array.isArray(prev) || next.length !== prev.length) return next;
  return next.map((ctr, i) => {
    const before = prev[i];
    return isObj(ctr) && isObj(before) ? { ...ctr, image: before.image } : ctr;
  });
}

const POD_UPDATE_MESSAGE =
  "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

function checkPodUpdate(c: Check, pod: Obj, old: Obj): void {
  const spec = isObj(pod.spec) ? pod.spec : {};
  const before = isObj(old.spec) ? old.spec : {};
  const deadline = spec.activeDeadlineSeconds;
  const oldDeadline = before.activeDeadlineSeconds;
  if (typeof deadline === "number" && typeof oldDeadline === "number" && deadline > oldDeadline) {
    c.invalid("spec.activeDeadlineSeconds", deadline, "must be less than or equal to previous value");
  } else if (deadline == null && oldDeadline != null) {
    c.invalid("spec.activeDeadlineSeconds", null, "must not update from a positive integer to nil value");
  }
  const tolerations = Array.isArray(spec.tolerations) ? spec.tolerations : [];
  const kept = (Array.isArray(before.tolerations) ? before.tolerations : []).every((t) =>
    tolerations.some((n) =>
      isObj(t) && isObj(n) && deepEqual({ ...t, tolerationSeconds: null }, { ...n, tolerationSeconds: null })
    )
  );
  if (!kept) {
    c.forbidden("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds");
  }
  const grace = spec.terminationGracePeriodSeconds;
  const oldGrace = before.terminationGracePeriodSeconds;
  const munged: Obj = {
    ...spec,
    containers: withOldImages(spec.containers, before.containers),
    initContainers: withOldImages(spec.initContainers, before.initContainers),
    activeDeadlineSeconds: oldDeadline,
    tolerations: before.tolerations,
    terminationGracePeriodSeconds: typeof oldGrace === "number" && oldGrace < 0 && grace === 1 ? oldGrace : grace,
  };
  const changed = firstDifferences(before, munged, "spec");
  if (changed.length > 0) c.forbidden("spec", `${POD_UPDATE_MESSAGE}; changed: ${changed.join(", ")}`);
}

/**
 * Checks a Pod's spec and status; with `old`, also that the update changes
 * only what Kubernetes lets a pod update change. Metadata is checked by
 * `validateObjectMeta`. The binding subresource sets `spec.nodeName`
 * without this update check, as in Kubernetes.
 */
export function validatePod(obj: unknown, old?: unknown): FieldError[] {
  const c = new Check();
  const pod = c.root(obj);
  if (!pod) return c.errors;
  checkPodSpec(c, pod.spec, "spec", {});
  checkPodStatus(c, pod.status, "status");
  if (isObj(old)) checkPodUpdate(c, pod, old);
  return c.errors;
}
