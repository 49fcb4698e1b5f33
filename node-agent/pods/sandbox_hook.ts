/**
 * The network hook: a pod's sandbox is its network namespace from the
 * {@linkcode PodNetwork} (skipped for `hostNetwork` pods, which use the
 * node's addresses), set up before its containers start and torn down
 * after they stop; and the pod's `/etc/hosts` and `/etc/resolv.conf`,
 * written in its pod directory for its containers to bind.
 *
 * @module
 */

import { join } from "node:path";
import type { Container, Pod } from "@skiff/api";
import type { PodNetwork, PortMapping } from "../network/mod.ts";
import { type ClusterDnsConfig, podHostsFile, podResolvConfText, readNodeResolvConf } from "./dns.ts";
import { podDir } from "./pod_paths.ts";

/** A pod's network, once its sandbox is up. */
export interface PodSandboxState {
  /** The pod's addresses (the node's for host-network pods). */
  podIPs: string[];
  /** The network namespace its containers join; absent for host-network pods. */
  netnsPath?: string;
}

/** The pod's DNS files, to bind into its containers. */
export interface PodDnsFiles {
  /** Bound to /etc/hosts. */
  hostsPath: string;
  /** Bound to /etc/resolv.conf. */
  resolvConfPath: string;
}

/** Options of {@linkcode SandboxHook}. */
export interface SandboxHookOptions {
  /** Wires pod sandboxes. */
  network: PodNetwork;
  /** The agent's data directory. */
  dataDir: string;
  /** The node's addresses (host-network pods get them). */
  hostIPs: readonly string[];
  /** The cluster DNS, for `ClusterFirst`. */
  clusterDns?: ClusterDnsConfig;
  /** Reads the node's resolver configuration text (default {@linkcode readNodeResolvConf}). */
  nodeResolvConf?: () => Promise<string>;
  /** Reads the node's /etc/hosts, for host-network pods. */
  nodeHosts?: () => Promise<string>;
}

/** The host ports of a pod's containers, as port mappings for its sandbox. */
export function portMappings(containers: readonly Container[]): PortMapping[] {
  const out: PortMapping[] = [];
  for (const container of containers) {
    for (const port of container.ports ?? []) {
      if (!port.hostPort) continue;
      out.push({
        hostPort: port.hostPort,
        containerPort: port.containerPort,
        protocol: (port.protocol ?? "TCP").toLowerCase(),
        ...(port.hostIP ? { hostIP: port.hostIP } : {}),
      });
    }
  }
  return out;
}

async function writeIfChanged(path: string, text: string): Promise<void> {
  try {
    if ((await Deno.readTextFile(path)) === text) return;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const tmp = `${path}.tmp`;
  await Deno.writeTextFile(tmp, text, { mode: 0o644 });
  await Deno.chmod(tmp, 0o644);
  await Deno.rename(tmp, path);
}

/** Sets up and tears down pod sandboxes and their DNS files. */
export class SandboxHook {
  readonly #options: SandboxHookOptions;

  /** Creates the hook. */
  constructor(options: SandboxHookOptions) {
    this.#options = options;
  }

  /** Whether the pod gets a sandbox of its own (not on the host network). */
  static ownNetwork(pod: Pod): boolean {
    return pod.spec?.hostNetwork !== true;
  }

  /**
   * Sets the pod's sandbox up (idempotent: an existing one is checked and
   * its address returned) and gives its addresses.
   *
   * @throws {Error} from the pod network when it cannot be wired.
   */
  async setUp(pod: Pod): Promise<PodSandboxState> {
    if (!SandboxHook.ownNetwork(pod)) return { podIPs: [...this.#options.hostIPs] };
    const spec = pod.spec ?? { containers: [] };
    const status = await this.#options.network.setup({
      podUid: pod.metadata.uid ?? "",
      namespace: pod.metadata.namespace ?? "default",
      name: pod.metadata.name ?? "",
      portMappings: portMappings([...(spec.initContainers ?? []), ...spec.containers]),
    });
    return { podIPs: [status.ip], netnsPath: status.netnsPath };
  }

  /**
   * The sandbox a pod's running containers were started in by an earlier
   * agent, when it can be kept as it is: set up to the end and passing CNI
   * CHECK. It is never re-wired here, since that would change the address
   * under running containers; otherwise `problem` says what is wrong, and
   * the caller re-creates the containers in a new sandbox.
   */
  async adopt(pod: Pod): Promise<{ state: PodSandboxState } | { problem: string }> {
    if (!SandboxHook.ownNetwork(pod)) return { state: { podIPs: [...this.#options.hostIPs] } };
    const uid = pod.metadata.uid ?? "";
    const found = (await this.#options.network.list()).find((s) => s.podUid === uid);
    if (!found?.ready || !found.ip) return { problem: "its network sandbox was not finished or is gone" };
    try {
      await this.#options.network.check({ podUid: uid });
    } catch (error) {
      return { problem: `its network sandbox failed its check: ${error instanceof Error ? error.message : error}` };
    }
    return { state: { podIPs: [found.ip], netnsPath: found.netnsPath } };
  }

  /** Tears the pod's sandbox down (idempotent). */
  async tearDown(pod: Pod | { metadata: { uid?: string } }): Promise<void> {
    if ("spec" in pod && !SandboxHook.ownNetwork(pod as Pod)) return;
    await this.#options.network.teardown({ podUid: pod.metadata.uid ?? "" });
  }

  /**
   * Writes the pod's /etc/hosts and /etc/resolv.conf (when they changed)
   * and gives their paths.
   *
   * @throws {TypeError} when the pod's `dnsConfig` cannot be used.
   */
  async writeDnsFiles(pod: Pod, podIPs: readonly string[]): Promise<PodDnsFiles> {
    const dir = podDir(this.#options.dataDir, pod.metadata.uid ?? "");
    await Deno.mkdir(dir, { recursive: true });
    const resolv = podResolvConfText(pod, {
      nodeResolvConf: await (this.#options.nodeResolvConf ?? readNodeResolvConf)(),
      ...(this.#options.clusterDns ? { clusterDns: this.#options.clusterDns } : {}),
    });
    const nodeHosts = pod.spec?.hostNetwork
      ? await (this.#options.nodeHosts ?? (() => Deno.readTextFile("/etc/hosts").catch(() => "")))()
      : undefined;
    const hosts = podHostsFile(pod, {
      podIPs,
      ...(nodeHosts !== undefined ? { nodeHosts } : {}),
      ...(this.#options.clusterDns ? { clusterDomain: this.#options.clusterDns.searchDomain } : {}),
    });
    const hostsPath = join(dir, "etc-hosts");
    const resolvConfPath = join(dir, "resolv.conf");
    await writeIfChanged(hostsPath, hosts);
    await writeIfChanged(resolvConfPath, resolv);
    return { hostsPath, resolvConfPath };
  }
}
