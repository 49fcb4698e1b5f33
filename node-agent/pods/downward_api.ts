/**
 * The downward API: a pod's own fields (`fieldRef`) and its containers'
 * resources (`resourceFieldRef`) as strings, for environment variables and
 * downwardAPI volume files, formatted as the kubelet formats them.
 *
 * @module
 */

import {
  type Container,
  type ObjectFieldSelector,
  type Pod,
  Quantity,
  type ResourceFieldSelector,
  type ResourceList,
} from "@skiff/api";

/** What the pod's status fields are, as the agent knows them now. */
export interface PodAddresses {
  /** The pod's addresses. */
  podIPs: readonly string[];
  /** The node's addresses. */
  hostIPs: readonly string[];
}

/** Where a field is used: env vars accept status fields, volume files the whole label and annotation maps. */
export type FieldUse = "env" | "volume";

const SUBSCRIPT = /^metadata\.(labels|annotations)\['(.+)'\]$/;

/** Labels or annotations as the kubelet writes them to a file: sorted `key="value"` lines. */
export function formatMap(map: Readonly<Record<string, string>>): string {
  return Object.keys(map).sort().map((key) => `${key}=${JSON.stringify(map[key])}`).join("\n");
}

/**
 * The value of a pod field: `metadata.name`, `metadata.namespace`,
 * `metadata.uid`, `metadata.labels['k']`, `metadata.annotations['k']`,
 * and, for env vars, `spec.nodeName`, `spec.serviceAccountName`,
 * `status.hostIP`, `status.hostIPs`, `status.podIP`, `status.podIPs`;
 * for volume files, the whole `metadata.labels` and `metadata.annotations`.
 *
 * @throws {TypeError} naming a field that cannot be selected there.
 */
export function podFieldValue(
  pod: Pod,
  selector: ObjectFieldSelector,
  options: PodAddresses & { use: FieldUse },
): string {
  const path = selector.fieldPath;
  if (selector.apiVersion && selector.apiVersion !== "v1") {
    throw new TypeError(`Unsupported fieldRef apiVersion "${selector.apiVersion}" for "${path}": only "v1" is known`);
  }
  const meta = pod.metadata;
  const subscript = SUBSCRIPT.exec(path);
  if (subscript) {
    const map = subscript[1] === "labels" ? meta.labels : meta.annotations;
    return map?.[subscript[2]!] ?? "";
  }
  switch (path) {
    case "metadata.name":
      return meta.name ?? "";
    case "metadata.namespace":
      return meta.namespace ?? "";
    case "metadata.uid":
      return meta.uid ?? "";
  }
  if (options.use === "volume") {
    if (path === "metadata.labels") return formatMap(meta.labels ?? {});
    if (path === "metadata.annotations") return formatMap(meta.annotations ?? {});
  } else {
    switch (path) {
      case "spec.nodeName":
        return pod.spec?.nodeName ?? "";
      case "spec.serviceAccountName":
        return pod.spec?.serviceAccountName ?? pod.spec?.serviceAccount ?? "";
      case "status.hostIP":
        return options.hostIPs[0] ?? "";
      case "status.hostIPs":
        return options.hostIPs.join(",");
      case "status.podIP":
        return options.podIPs[0] ?? "";
      case "status.podIPs":
        return options.podIPs.join(",");
    }
  }
  throw new TypeError(
    `Unsupported fieldRef "${path}" in ${options.use === "env" ? "an environment variable" : "a downwardAPI volume"}`,
  );
}

const RESOURCES = new Set([
  "limits.cpu",
  "limits.memory",
  "limits.ephemeral-storage",
  "requests.cpu",
  "requests.memory",
  "requests.ephemeral-storage",
]);

function ceilDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return q * b === a || (a < 0n) !== (b < 0n) ? q : q + 1n;
}

/**
 * The value of a container resource, divided by `divisor` (default `1`)
 * and rounded up, as the kubelet gives it: `limits.cpu` of `500m` is `1`,
 * with divisor `1m` it is `500`. A limit the container does not set is the
 * node's allocatable amount.
 *
 * @throws {TypeError} for an unknown resource, a missing container, or a divisor that is not a positive quantity.
 */
export function resourceFieldValue(
  containers: readonly Container[],
  selector: ResourceFieldSelector,
  options: { container?: string; allocatable: ResourceList },
): string {
  const name = selector.containerName || options.container;
  const container = containers.find((c) => c.name === name);
  if (!container) {
    throw new TypeError(`Unknown container "${name ?? ""}" in resourceFieldRef "${selector.resource}"`);
  }
  if (!RESOURCES.has(selector.resource)) {
    throw new TypeError(`Unsupported resourceFieldRef resource "${selector.resource}"`);
  }
  const [kind, resource] = selector.resource.split(".") as ["limits" | "requests", string];
  let divisor: Quantity;
  try {
    divisor = Quantity.parse(selector.divisor || "1");
  } catch (cause) {
    throw new TypeError(`Invalid divisor "${selector.divisor}" of resourceFieldRef "${selector.resource}"`, { cause });
  }
  if (divisor.sign() <= 0) {
    throw new TypeError(
      `Invalid divisor "${selector.divisor}" of resourceFieldRef "${selector.resource}": not positive`,
    );
  }
  const raw = container.resources?.[kind]?.[resource] ?? (kind === "limits" ? options.allocatable[resource] : "0");
  const value = raw === undefined ? Quantity.fromValue(0) : Quantity.parse(raw);
  if (resource === "cpu") return String(ceilDiv(value.milliValue(), divisor.milliValue() || 1n));
  return String(ceilDiv(value.value(), divisor.value() || 1n));
}
