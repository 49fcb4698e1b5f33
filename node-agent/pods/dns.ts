/**
 * The `/etc/hosts` and `/etc/resolv.conf` a pod's containers see, built as
 * the kubelet builds them: pure functions of the pod and the node's own
 * files (resolv.conf through the cluster DNS part's `podResolvConf`), and
 * the reader of the node's resolver configuration.
 *
 * @module
 */

import { CLUSTER_DOMAIN, type Pod } from "@skiff/api";
import { parseResolvConf, podResolvConf } from "../dns/mod.ts";

/** The cluster DNS, for `dnsPolicy: ClusterFirst`. */
export interface ClusterDnsConfig {
  /** The address pods send queries to, e.g. `10.43.0.10` or the node's pod-bridge gateway. */
  nameserver: string;
  /** The cluster domain, e.g. `cluster.local`. */
  searchDomain: string;
}

/**
 * The text of a pod's /etc/resolv.conf by its `dnsPolicy`
 * ({@linkcode podResolvConf} of the cluster DNS part): with a cluster DNS,
 * `ClusterFirst` (off the host network) and `ClusterFirstWithHostNet` use
 * it with the search path `<ns>.svc.<domain> svc.<domain> <domain>`;
 * without one, `ClusterFirst` and `ClusterFirstWithHostNet` fall back to
 * the node's configuration as `Default` does.
 *
 * @throws {TypeError} for a `dnsConfig` that cannot be used.
 */
export function podResolvConfText(
  pod: Pod,
  options: { clusterDns?: ClusterDnsConfig; nodeResolvConf: string },
): string {
  const spec = pod.spec ?? { containers: [] };
  const policy = spec.dnsPolicy ?? "ClusterFirst";
  const clusterFirst = policy === "ClusterFirst" || policy === "ClusterFirstWithHostNet";
  return podResolvConf({
    namespace: pod.metadata.namespace ?? "default",
    nameserver: options.clusterDns?.nameserver ?? "",
    clusterDomain: options.clusterDns?.searchDomain || CLUSTER_DOMAIN,
    dnsPolicy: clusterFirst && !options.clusterDns ? "Default" : policy,
    ...(spec.dnsConfig ? { dnsConfig: spec.dnsConfig } : {}),
    ...(spec.hostNetwork ? { hostNetwork: true } : {}),
    hostResolvConf: options.nodeResolvConf,
  });
}

/** The pod's hostname: `spec.hostname`, else its name cut to 63 characters. */
export function podHostname(pod: Pod): string {
  const name = pod.spec?.hostname || pod.metadata.name || "";
  return name.slice(0, 63).replace(/[-.]+$/, "");
}

/** Options of {@linkcode podHostsFile}. */
export interface PodHostsFileOptions {
  /** The pod's addresses. */
  podIPs: readonly string[];
  /** The cluster domain (default `cluster.local`). */
  clusterDomain?: string;
  /** The node's /etc/hosts, for host-network pods. */
  nodeHosts?: string;
}

/**
 * The pod's /etc/hosts, as the kubelet writes it: localhost entries and the
 * pod's own name (with its FQDN when it has a subdomain) for each pod
 * address; for host-network pods, the node's file instead. Host aliases
 * are appended either way.
 */
export function podHostsFile(pod: Pod, options: PodHostsFileOptions): string {
  const spec = pod.spec ?? { containers: [] };
  let out: string;
  if (spec.hostNetwork) {
    out = "# Kubernetes-managed hosts file (host network).\n" + (options.nodeHosts ?? "");
    if (out !== "" && !out.endsWith("\n")) out += "\n";
  } else {
    const hostname = podHostname(pod);
    const domain = spec.subdomain
      ? `${spec.subdomain}.${pod.metadata.namespace ?? "default"}.svc.${options.clusterDomain ?? CLUSTER_DOMAIN}`
      : "";
    out = "# Kubernetes-managed hosts file.\n" +
      "127.0.0.1\tlocalhost\n" +
      "::1\tlocalhost ip6-localhost ip6-loopback\n" +
      "fe00::0\tip6-localnet\n" +
      "fe00::0\tip6-mcastprefix\n" +
      "fe00::1\tip6-allnodes\n" +
      "fe00::2\tip6-allrouters\n";
    for (const ip of options.podIPs) {
      out += domain ? `${ip}\t${hostname}.${domain}\t${hostname}\n` : `${ip}\t${hostname}\n`;
    }
  }
  const aliases = spec.hostAliases ?? [];
  if (aliases.length > 0) {
    out += "\n# Entries added by HostAliases.\n";
    for (const alias of aliases) {
      for (const name of alias.hostnames ?? []) out += `${alias.ip}\t${name}\n`;
    }
  }
  return out;
}

function isLoopback(address: string): boolean {
  return address.startsWith("127.") || address === "::1";
}

/**
 * The text of the node's resolver configuration for pods: `/etc/resolv.conf`,
 * or, when that names only loopback servers (a local stub such as
 * systemd-resolved, which pods cannot reach), `/run/systemd/resolve/resolv.conf`
 * if it exists. A missing file gives an empty configuration.
 */
export async function readNodeResolvConf(
  paths: { main: string; upstream: string } = {
    main: "/etc/resolv.conf",
    upstream: "/run/systemd/resolve/resolv.conf",
  },
): Promise<string> {
  const read = async (path: string) => {
    try {
      return await Deno.readTextFile(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
  };
  const main = await read(paths.main) ?? "";
  const servers = parseResolvConf(main).nameservers;
  if (servers.length > 0 && servers.every(isLoopback)) {
    const upstream = await read(paths.upstream);
    if (upstream && parseResolvConf(upstream).nameservers.length > 0) return upstream;
  }
  return main;
}
