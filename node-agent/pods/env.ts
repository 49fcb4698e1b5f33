/**
 * A container's environment, as the kubelet builds it: `envFrom`
 * (ConfigMaps and Secrets, with prefixes), then `env` in order, each value
 * `$(VAR)`-expanded against what came before and taken from a ConfigMap or
 * Secret key, a pod field or a container resource when it says so, then
 * the Service variables of the namespace (`WEB_SERVICE_HOST`, …) for names
 * not already set.
 *
 * @module
 */

import type { ConfigMap, Container, EnvVar, Pod, ResourceList, Secret, Service } from "@skiff/api";
import { expand, lookupIn } from "./expansion.ts";
import { type PodAddresses, podFieldValue, resourceFieldValue } from "./downward_api.ts";

/**
 * A container cannot be configured yet (a ConfigMap, Secret or key it
 * needs is missing): its waiting reason is `CreateContainerConfigError`.
 */
export class ContainerConfigError extends Error {
  /** Creates the error with the kubelet's message, e.g. `configmap "app" not found`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ContainerConfigError";
  }
}

/** Where referenced objects come from (the pod's namespace). */
export interface EnvSources {
  /** A ConfigMap by name, or undefined when it does not exist. */
  configMap(name: string): Promise<ConfigMap | undefined>;
  /** A Secret by name, or undefined when it does not exist. */
  secret(name: string): Promise<Secret | undefined>;
  /** The node's allocatable resources, for `resourceFieldRef` limits the container does not set. */
  allocatable(): Promise<ResourceList>;
}

/** Options of {@linkcode containerEnv}. */
export interface ContainerEnvOptions extends PodAddresses {
  /** Where referenced objects come from. */
  sources: EnvSources;
  /** Service variables ({@linkcode serviceEnv}). */
  services?: ReadonlyMap<string, string>;
}

/** A container's environment. */
export interface ContainerEnv {
  /** The variables, in order. */
  env: { name: string; value: string }[];
  /** `envFrom` keys left out because they cannot be variable names. */
  invalidNames: string[];
}

/** Decodes a Secret value (base64). */
export function decodeSecretValue(value: string): string {
  const binary = atob(value);
  return new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}

function validEnvName(name: string): boolean {
  // deno-lint-ignore no-control-regex
  return name !== "" && !name.includes("=") && !/[\u0000-\u001f\u007f]/.test(name);
}

/**
 * Builds the environment of `container` in `pod`.
 *
 * @throws {ContainerConfigError} when a ConfigMap, Secret or key it needs
 *   is missing and not optional, or a field reference cannot be resolved.
 */
export async function containerEnv(
  pod: Pod,
  container: Container,
  options: ContainerEnvOptions,
): Promise<ContainerEnv> {
  const namespace = pod.metadata.namespace ?? "default";
  const vars = new Map<string, string>();
  const invalidNames: string[] = [];
  const services = options.services ?? new Map<string, string>();

  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? "";
    let data: Record<string, string> = {};
    if (from.configMapRef) {
      const name = from.configMapRef.name ?? "";
      const cm = await options.sources.configMap(name);
      if (!cm) {
        if (from.configMapRef.optional) continue;
        throw new ContainerConfigError(`configmap "${name}" not found`);
      }
      data = cm.data ?? {};
    } else if (from.secretRef) {
      const name = from.secretRef.name ?? "";
      const secret = await options.sources.secret(name);
      if (!secret) {
        if (from.secretRef.optional) continue;
        throw new ContainerConfigError(`secret "${name}" not found`);
      }
      data = Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, decodeSecretValue(v)]));
    }
    for (const [key, value] of Object.entries(data)) {
      const name = prefix + key;
      if (!validEnvName(name)) {
        invalidNames.push(name);
        continue;
      }
      vars.set(name, value);
    }
  }

  for (const envVar of container.env ?? []) {
    const lookup = lookupIn(vars, services);
    if (envVar.value) {
      vars.set(envVar.name, expand(envVar.value, lookup));
      continue;
    }
    const from = envVar.valueFrom;
    if (!from) {
      vars.set(envVar.name, "");
      continue;
    }
    const value = await valueFrom(pod, container, envVar, options, namespace);
    if (value !== undefined) vars.set(envVar.name, value);
  }

  for (const [name, value] of services) if (!vars.has(name)) vars.set(name, value);
  return { env: [...vars].map(([name, value]) => ({ name, value })), invalidNames };
}

async function valueFrom(
  pod: Pod,
  container: Container,
  envVar: EnvVar,
  options: ContainerEnvOptions,
  namespace: string,
): Promise<string | undefined> {
  const varName = envVar.name;
  const from = envVar.valueFrom!;
  try {
    if (from.fieldRef) return podFieldValue(pod, from.fieldRef, { ...options, use: "env" });
    if (from.resourceFieldRef) {
      const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
      return resourceFieldValue(containers, from.resourceFieldRef, {
        container: container.name,
        allocatable: await options.sources.allocatable(),
      });
    }
  } catch (error) {
    if (error instanceof TypeError) {
      throw new ContainerConfigError(`env var "${varName}": ${error.message}`, { cause: error });
    }
    throw error;
  }
  if (from.configMapKeyRef) {
    const { name = "", key, optional } = from.configMapKeyRef;
    const cm = await options.sources.configMap(name);
    if (!cm) {
      if (optional) return undefined;
      throw new ContainerConfigError(`configmap "${name}" not found`);
    }
    const value = cm.data?.[key];
    if (value === undefined) {
      if (optional) return undefined;
      throw new ContainerConfigError(`couldn't find key ${key} in ConfigMap ${namespace}/${name}`);
    }
    return value;
  }
  if (from.secretKeyRef) {
    const { name = "", key, optional } = from.secretKeyRef;
    const secret = await options.sources.secret(name);
    if (!secret) {
      if (optional) return undefined;
      throw new ContainerConfigError(`secret "${name}" not found`);
    }
    const value = secret.data?.[key];
    if (value === undefined) {
      if (optional) return undefined;
      throw new ContainerConfigError(`couldn't find key ${key} in Secret ${namespace}/${name}`);
    }
    return decodeSecretValue(value);
  }
  throw new ContainerConfigError(`env var "${varName}": valueFrom names no source`);
}

function envName(name: string): string {
  return name.toUpperCase().replaceAll("-", "_");
}

/**
 * The Service variables a container in `namespace` gets, as the kubelet
 * and Docker links define them: for each Service with a cluster IP in the
 * namespace (when `enableServiceLinks`) and the `kubernetes` Service of
 * `default` (always), `<NAME>_SERVICE_HOST`, `<NAME>_SERVICE_PORT`,
 * `<NAME>_SERVICE_PORT_<PORT NAME>`, `<NAME>_PORT` and
 * `<NAME>_PORT_<port>_<PROTO>{,_PROTO,_PORT,_ADDR}`.
 */
export function serviceEnv(
  services: readonly Service[],
  options: { namespace: string; enableServiceLinks: boolean },
): Map<string, string> {
  const chosen = new Map<string, Service>();
  for (const svc of services) {
    const name = svc.metadata.name ?? "";
    if (svc.metadata.namespace === "default" && name === "kubernetes") {
      if (!chosen.has(name)) chosen.set(name, svc);
    } else if (svc.metadata.namespace === options.namespace && options.enableServiceLinks) {
      chosen.set(name, svc);
    }
  }
  const out = new Map<string, string>();
  for (const name of [...chosen.keys()].sort()) {
    const svc = chosen.get(name)!;
    const ip = svc.spec?.clusterIP;
    const ports = svc.spec?.ports ?? [];
    if (!ip || ip === "None" || ports.length === 0) continue;
    const prefix = envName(name);
    out.set(`${prefix}_SERVICE_HOST`, ip);
    out.set(`${prefix}_SERVICE_PORT`, String(ports[0]!.port));
    for (const port of ports) {
      if (port.name) out.set(`${prefix}_SERVICE_PORT_${envName(port.name)}`, String(port.port));
    }
    const host = ip.includes(":") ? `[${ip}]` : ip;
    ports.forEach((port, i) => {
      const protocol = (port.protocol ?? "TCP").toLowerCase();
      const url = `${protocol}://${host}:${port.port}`;
      if (i === 0) out.set(`${prefix}_PORT`, url);
      const p = `${prefix}_PORT_${port.port}_${protocol.toUpperCase()}`;
      out.set(p, url);
      out.set(`${p}_PROTO`, protocol);
      out.set(`${p}_PORT`, String(port.port));
      out.set(`${p}_ADDR`, ip);
    });
  }
  return out;
}
