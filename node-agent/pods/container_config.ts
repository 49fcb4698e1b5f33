/**
 * The containers hook's translation of one container of a pod into the
 * runtime's {@linkcode ContainerSpec}: command and args with `$(VAR)`
 * expanded from the container's environment, working directory, memory and
 * CPU limits, volume mounts (with `subPath`, `subPathExpr` and read-only
 * volumes), the pod's `/etc/hosts` and `/etc/resolv.conf`, the termination
 * message file, the pod's network namespace (or the host's), user, group,
 * privileged and read-only root from the security contexts, host devices,
 * TTY, the log file and the labels that tie the container to its pod.
 *
 * @module
 */

import { join, relative, resolve } from "node:path";
import { type Container, type Pod, toBytes, toMillicores } from "@skiff/api";
import { containerLabels, type ContainerSpec, type Mount } from "../runtime/mod.ts";
import { ContainerConfigError } from "./env.ts";
import { expand, lookupIn } from "./expansion.ts";
import { LABEL_DEVICES } from "./devices.ts";
import type { PodVolumeMount } from "./volume_hook.ts";
import type { PodDnsFiles, PodSandboxState } from "./sandbox_hook.ts";

/** Everything {@linkcode containerConfig} needs. */
export interface ContainerConfigInput {
  /** The pod. */
  pod: Pod;
  /** The container. */
  container: Container;
  /** The container id to use. */
  id: string;
  /** Restarts before this run. */
  restartCount: number;
  /** The image reference, normalized. */
  image: string;
  /** The environment ({@linkcode containerEnv}). */
  env: { name: string; value: string }[];
  /** The pod's volumes, by name. */
  volumes: ReadonlyMap<string, PodVolumeMount>;
  /** The pod's DNS files. */
  dns: PodDnsFiles;
  /** The pod's sandbox. */
  sandbox: PodSandboxState;
  /** Host device paths given to the container. */
  devices: readonly string[];
  /** Where the container's output goes. */
  logPath: string;
  /** The host file bound to `terminationMessagePath`. */
  terminationMessageFile: string;
}

async function realPathOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await Deno.realPath(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/**
 * The host path of a mount's `subPath` inside a volume: created as a
 * directory when missing (as the kubelet does), and never outside the
 * volume, even through symbolic links.
 */
async function subPathSource(volumeName: string, root: string, subPath: string): Promise<string> {
  if (subPath.startsWith("/") || subPath.split("/").includes("..")) {
    throw new ContainerConfigError(`subPath "${subPath}" of volume "${volumeName}" must be a relative path inside it`);
  }
  const joined = join(root, subPath);
  if (await realPathOrUndefined(joined) === undefined) {
    try {
      await Deno.mkdir(joined, { recursive: true, mode: 0o755 });
    } catch (error) {
      throw new ContainerConfigError(
        `cannot create subPath "${subPath}" in volume "${volumeName}": ${(error as Error).message}`,
      );
    }
  }
  const realRoot = await Deno.realPath(root);
  const real = (await realPathOrUndefined(joined))!;
  const rel = relative(realRoot, real);
  if (rel.startsWith("..") || resolve(realRoot, rel) !== real) {
    throw new ContainerConfigError(`subPath "${subPath}" of volume "${volumeName}" points outside the volume`);
  }
  return real;
}

/**
 * The runtime spec of one run of `container`.
 *
 * @throws {ContainerConfigError} when a mount names an unknown volume or a
 *   bad subPath, or the security context cannot be honoured.
 */
export async function containerConfig(input: ContainerConfigInput): Promise<ContainerSpec> {
  const { pod, container } = input;
  const spec = pod.spec ?? { containers: [] };
  const vars = lookupIn(new Map(input.env.map((e) => [e.name, e.value])));

  const mounts: Mount[] = [];
  for (const mount of container.volumeMounts ?? []) {
    const volume = input.volumes.get(mount.name);
    if (!volume) {
      throw new ContainerConfigError(`volume "${mount.name}" of mount "${mount.mountPath}" is not one of the pod's`);
    }
    const subPath = mount.subPathExpr ? expand(mount.subPathExpr, vars) : mount.subPath;
    const source = subPath ? await subPathSource(mount.name, volume.hostPath, subPath) : volume.hostPath;
    mounts.push({
      source,
      destination: mount.mountPath,
      ...(mount.readOnly || volume.readOnly ? { readOnly: true } : {}),
    });
  }
  const taken = new Set(mounts.map((m) => m.destination));
  if (!taken.has("/etc/hosts")) mounts.push({ source: input.dns.hostsPath, destination: "/etc/hosts" });
  if (!taken.has("/etc/resolv.conf")) {
    mounts.push({ source: input.dns.resolvConfPath, destination: "/etc/resolv.conf" });
  }
  const messagePath = container.terminationMessagePath ?? "/dev/termination-log";
  if (messagePath && !taken.has(messagePath)) {
    mounts.push({ source: input.terminationMessageFile, destination: messagePath });
  }

  const security = container.securityContext ?? {};
  const podSecurity = spec.securityContext ?? {};
  const user = security.runAsUser ?? podSecurity.runAsUser;
  const group = security.runAsGroup ?? podSecurity.runAsGroup;
  if (security.runAsNonRoot ?? podSecurity.runAsNonRoot) {
    if (user === undefined) {
      throw new ContainerConfigError(
        "container has runAsNonRoot and no runAsUser, so this node cannot verify the user is not root; set runAsUser",
      );
    }
    if (user === 0) throw new ContainerConfigError("container's runAsUser breaks non-root policy");
  }

  const limits = container.resources?.limits ?? {};
  const labels: Record<string, string> = containerLabels({
    podUid: pod.metadata.uid ?? "",
    podNamespace: pod.metadata.namespace ?? "default",
    podName: pod.metadata.name ?? "",
    containerName: container.name,
    restartCount: input.restartCount,
  });
  if (input.devices.length > 0) labels[LABEL_DEVICES] = input.devices.join(",");

  const out: ContainerSpec = {
    id: input.id,
    image: input.image,
    labels,
    logPath: input.logPath,
    mounts,
    ...(input.env.length > 0 ? { env: input.env } : {}),
    ...(container.command ? { command: container.command.map((c) => expand(c, vars)) } : {}),
    ...(container.args ? { args: container.args.map((a) => expand(a, vars)) } : {}),
    ...(container.workingDir ? { workingDir: container.workingDir } : {}),
    ...(limits.memory ? { memoryLimitBytes: toBytes(limits.memory) } : {}),
    ...(limits.cpu ? { cpuLimitMillicores: toMillicores(limits.cpu) } : {}),
    ...(user !== undefined ? { user } : {}),
    ...(group !== undefined ? { group } : {}),
    ...(security.privileged ? { privileged: true } : {}),
    ...(security.readOnlyRootFilesystem ? { readOnlyRootFilesystem: true } : {}),
    ...(container.tty ? { tty: true } : {}),
    ...(input.devices.length > 0 ? { devices: [...input.devices] } : {}),
    ...(input.sandbox.netnsPath ? { networkNamespace: input.sandbox.netnsPath } : { hostNetwork: true }),
  };
  return out;
}
