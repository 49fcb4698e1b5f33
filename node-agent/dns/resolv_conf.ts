/**
 * resolv.conf: reading the node's (for its upstream name servers) and
 * writing a pod's, as the kubelet builds it for each `dnsPolicy`.
 *
 * @module
 */

import { isIP } from "node:net";
import { CLUSTER_DOMAIN, type PodDNSConfig, type PodSpec } from "@skiff/api";

/** The parts of a resolv.conf that matter here. */
export interface ResolvConf {
  /** `nameserver` addresses, in order. */
  nameservers: string[];
  /** `search` domains (the last `search` or `domain` line wins, as in glibc). */
  searches: string[];
  /** `options` entries such as `ndots:5`, in order. */
  options: string[];
}

/** glibc uses at most 3 name servers; the kubelet drops the rest. */
export const MAX_NAMESERVERS = 3;
/** The kubelet's limit on search domains. */
export const MAX_SEARCHES = 32;
/** The kubelet's limit on the length of the search line's domains together. */
export const MAX_SEARCH_CHARS = 2048;

/** Parses resolv.conf text; comments (`#`, `;`) and unknown lines are ignored. */
export function parseResolvConf(text: string): ResolvConf {
  const conf: ResolvConf = { nameservers: [], searches: [], options: [] };
  for (const raw of text.split("\n")) {
    const [keyword, ...values] = raw.replace(/[#;].*$/, "").trim().split(/\s+/);
    if (keyword === "nameserver" && values[0]) conf.nameservers.push(values[0]);
    else if (keyword === "search" || keyword === "domain") conf.searches = values.filter((v) => v !== "");
    else if (keyword === "options") conf.options.push(...values.filter((v) => v !== ""));
  }
  return conf;
}

/** resolv.conf text for `conf`. */
export function formatResolvConf(conf: ResolvConf): string {
  const lines: string[] = [];
  for (const server of conf.nameservers) lines.push(`nameserver ${server}`);
  if (conf.searches.length > 0) lines.push(`search ${conf.searches.join(" ")}`);
  if (conf.options.length > 0) lines.push(`options ${conf.options.join(" ")}`);
  return lines.map((line) => `${line}\n`).join("");
}

/** What a pod's resolv.conf is built from. */
export interface PodResolvConfInput {
  /** The pod's namespace (first in the cluster search path). */
  namespace: string;
  /** The cluster DNS address this node's pods use (the node's pod-bridge gateway). */
  nameserver: string;
  /** The cluster domain (default `cluster.local`). */
  clusterDomain?: string;
  /** The pod's `spec.dnsPolicy` (default `ClusterFirst`). */
  dnsPolicy?: PodSpec["dnsPolicy"];
  /** The pod's `spec.dnsConfig`, merged in last. */
  dnsConfig?: PodDNSConfig;
  /** The pod's `spec.hostNetwork`: `ClusterFirst` on the host network behaves as `Default`. */
  hostNetwork?: boolean;
  /**
   * The text of the resolv.conf the node gives pods for `Default` (its
   * upstream configuration; not a loopback stub such as 127.0.0.53, which
   * a pod cannot reach). Its search domains follow the cluster's.
   */
  hostResolvConf: string;
}

const POLICIES = ["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"];

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** Options merged by name, later ones replacing earlier ones in place (the kubelet's merge). */
function mergeOptions(base: readonly string[], extra: readonly string[]): string[] {
  const byName = new Map<string, string>();
  for (const option of [...base, ...extra]) byName.set(option.split(":")[0]!, option);
  return [...byName.values()];
}

/** Search domains cut to the kubelet's limits (count, then total length). */
function limitSearches(searches: readonly string[]): string[] {
  const out: string[] = [];
  let chars = 0;
  for (const domain of searches.slice(0, MAX_SEARCHES)) {
    chars += domain.length + (out.length > 0 ? 1 : 0);
    if (chars > MAX_SEARCH_CHARS) break;
    out.push(domain);
  }
  return out;
}

/**
 * The text of a pod's /etc/resolv.conf, built as the kubelet builds it:
 *
 * - `ClusterFirst` (the default) and `ClusterFirstWithHostNet`: the cluster
 *   DNS as the only name server, the search path
 *   `<ns>.svc.<domain> svc.<domain> <domain>` followed by the node's search
 *   domains, and `options ndots:5`. `ClusterFirst` on the host network
 *   behaves as `Default`.
 * - `Default`: the node's configuration (`hostResolvConf`).
 * - `None`: nothing but `dnsConfig`, which is then required.
 *
 * `dnsConfig` is merged in last (name servers and search domains appended
 * without repeats, options replaced by name); at most 3 name servers and
 * 32 search domains (2,048 characters) are kept.
 *
 * @example
 * ```ts
 * podResolvConf({ namespace: "shop", nameserver: "10.42.3.1", hostResolvConf: "nameserver 192.168.1.1\n" });
 * // "nameserver 10.42.3.1\nsearch shop.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"
 * ```
 */
export function podResolvConf(input: PodResolvConfInput): string {
  const policy = input.dnsPolicy ?? "ClusterFirst";
  if (!POLICIES.includes(policy)) {
    throw new TypeError(`Invalid dnsPolicy "${policy}": expected one of ${POLICIES.join(", ")}`);
  }
  const domain = (input.clusterDomain ?? CLUSTER_DOMAIN).replace(/\.$/, "");
  const host = parseResolvConf(input.hostResolvConf);
  const cluster = policy === "ClusterFirstWithHostNet" || (policy === "ClusterFirst" && input.hostNetwork !== true);
  let conf: ResolvConf;
  if (policy === "None") {
    if (!input.dnsConfig) throw new TypeError('Invalid dnsConfig: dnsPolicy "None" needs a dnsConfig');
    conf = { nameservers: [], searches: [], options: [] };
  } else if (cluster) {
    if (!input.namespace) throw new TypeError("Invalid namespace: it must not be empty");
    if (!isIP(input.nameserver)) {
      throw new TypeError(`Invalid nameserver "${input.nameserver}": expected an IP address`);
    }
    conf = {
      nameservers: [input.nameserver],
      searches: unique([`${input.namespace}.svc.${domain}`, `svc.${domain}`, domain, ...host.searches]),
      options: ["ndots:5"],
    };
  } else {
    conf = host;
  }
  const extra = input.dnsConfig;
  if (extra) {
    for (const server of extra.nameservers ?? []) {
      if (!isIP(server)) throw new TypeError(`Invalid dnsConfig.nameservers: "${server}" is not an IP address`);
    }
    conf.nameservers = unique([...conf.nameservers, ...(extra.nameservers ?? [])]);
    conf.searches = unique([...conf.searches, ...(extra.searches ?? []).map((s) => s.replace(/\.$/, ""))]);
    conf.options = mergeOptions(
      conf.options,
      (extra.options ?? []).map((o) => (o.value !== undefined && o.value !== "" ? `${o.name}:${o.value}` : o.name)),
    );
  }
  return formatResolvConf({
    nameservers: conf.nameservers.slice(0, MAX_NAMESERVERS),
    searches: limitSearches(conf.searches),
    options: conf.options,
  });
}
