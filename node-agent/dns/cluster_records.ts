/**
 * The cluster's DNS records, as the Kubernetes DNS specification names
 * them, computed from Services and discovery.k8s.io/v1 EndpointSlices:
 *
 * - `<svc>.<ns>.svc.<domain>`: A to the ClusterIP; for a headless Service
 *   (`clusterIP: None`) A to each ready endpoint; for an ExternalName
 *   Service a CNAME to `spec.externalName`.
 * - `<hostname>.<svc>.<ns>.svc.<domain>` (and `<a-b-c-d>.<svc>…` for an
 *   endpoint without a hostname): A to that endpoint of a headless Service.
 * - `_<port>._<proto>.<svc>.<ns>.svc.<domain>`: SRV per named port, to the
 *   Service name (ClusterIP) or to each ready endpoint's name (headless),
 *   with the targets' A records as additionals. SRV at the Service name
 *   lists every port.
 * - `<a-b-c-d>.<ns>.pod.<domain>`: A to that address (CoreDNS's
 *   `pods insecure` mode: the address is not checked against a pod).
 * - PTR for ClusterIPs and endpoint addresses.
 *
 * A name in the cluster domain that does not exist is NXDOMAIN; an
 * existing name asked for another type has no data; both carry the zone's
 * SOA in the authority section. Everything is pure: the server feeds the
 * informers' events in, and {@linkcode ClusterRecords.resolve} answers.
 *
 * @module
 */

import { isIPv4, isIPv6 } from "node:net";
import { CLUSTER_DOMAIN, type EndpointSlice, LABEL_SERVICE_NAME, type Service } from "@skiff/api";
import { type Answer, RCODE, type RecordType } from "./_packet.ts";

/** TTL of every cluster record, in seconds. */
export const CLUSTER_RECORD_TTL = 5;

/** The result of looking a name up in the cluster zone. */
export interface ClusterAnswer {
  /** `RCODE.NOERROR` or `RCODE.NXDOMAIN`. */
  rcode: number;
  /** The answer section. */
  answers: Answer[];
  /** The authority section (the SOA when there is no answer). */
  authorities: Answer[];
  /** The additional section (A records of SRV targets). */
  additionals: Answer[];
  /** For an ExternalName Service: the name its CNAME points to, for the server to resolve further. */
  alias?: string;
}

/** Options of {@linkcode ClusterRecords}. */
export interface ClusterRecordsOptions {
  /** The cluster domain (default `cluster.local`). */
  clusterDomain?: string;
  /** The DNS server's own address, published as `ns.dns.<domain>` (the zone's NS). */
  nameserver?: string;
}

/** One ready address of a Service's endpoints. */
interface ReadyEndpoint {
  address: string;
  /** The endpoint's DNS label: its hostname, else its address with dashes. */
  label: string;
  slice: EndpointSlice;
}

/** What a name in the zone holds. */
interface Node {
  records: Answer[];
  additionals?: Answer[];
  alias?: string;
}

const serviceKey = (namespace: string, name: string) => `${namespace}/${name}`;

/** `10.42.0.5` → `10-42-0-5`; IPv6 colons become dashes too. */
function dashed(address: string): string {
  return address.replaceAll(/[.:]/g, "-");
}

/** `10-42-0-5` → `10.42.0.5`, or undefined when the label is not a dashed IPv4 address. */
function undashed(label: string): string | undefined {
  const address = label.replaceAll("-", ".");
  if (!/^(0|[1-9]\d{0,2})(\.(0|[1-9]\d{0,2})){3}$/.test(address)) return undefined;
  return isIPv4(address) ? address : undefined;
}

/** `5.0.42.10.in-addr.arpa` → `10.42.0.5`, or undefined. */
function reverseAddress(name: string): string | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa$/.exec(name);
  if (!match) return undefined;
  const address = `${match[4]}.${match[3]}.${match[2]}.${match[1]}`;
  return isIPv4(address) ? address : undefined;
}

/** A DNS name that dns-packet can encode: labels of 1-63 bytes, 253 in all. */
function isEncodableName(name: string): boolean {
  const bare = name.replace(/\.$/, "");
  return bare.length > 0 && bare.length <= 253 && bare.split(".").every((l) => /^[A-Za-z0-9_-]{1,63}$/.test(l));
}

/**
 * The DNS records of a cluster, kept current by feeding it Services and
 * EndpointSlices as they change.
 *
 * @example
 * ```ts
 * const records = ClusterRecords.from(services, slices);
 * const web = records.resolve("web.shop.svc.cluster.local", "A");
 * // web?.answers: [{ type: "A", name: "web.shop.svc.cluster.local", ttl: 5, data: "10.43.0.12" }]
 * ```
 */
export class ClusterRecords {
  /** The cluster domain, lower case, without a trailing dot. */
  readonly domain: string;
  #nameserver: string | undefined;
  #services = new Map<string, Service>();
  /** Per Service key, its slices by slice key. */
  #slices = new Map<string, Map<string, EndpointSlice>>();
  /** Which Service each slice was filed under (the label can change). */
  #sliceOwners = new Map<string, string>();
  /** How many Services each namespace has. */
  #namespaces = new Map<string, number>();
  #serial = 1;

  /** Creates an empty record set. */
  constructor(options: ClusterRecordsOptions = {}) {
    this.domain = (options.clusterDomain ?? CLUSTER_DOMAIN).toLowerCase().replace(/\.$/, "");
    if (!isEncodableName(this.domain)) {
      throw new TypeError(`Invalid option "clusterDomain": "${options.clusterDomain}" is not a DNS name`);
    }
    if (options.nameserver !== undefined && !isIPv4(options.nameserver)) {
      throw new TypeError(`Invalid option "nameserver": "${options.nameserver}" is not an IPv4 address`);
    }
    this.#nameserver = options.nameserver;
  }

  /** A record set holding `services` and `slices`. */
  static from(
    services: readonly Service[],
    slices: readonly EndpointSlice[],
    options: ClusterRecordsOptions = {},
  ): ClusterRecords {
    const records = new ClusterRecords(options);
    for (const svc of services) records.setService(svc);
    for (const slice of slices) records.setSlice(slice);
    return records;
  }

  /** The SOA serial: it grows with every change. */
  get serial(): number {
    return this.#serial;
  }

  #changed(): void {
    this.#serial = this.#serial >= 0xffffffff ? 1 : this.#serial + 1;
  }

  /** Adds or replaces a Service. */
  setService(svc: Service): void {
    const namespace = svc.metadata.namespace ?? "default";
    const name = svc.metadata.name;
    if (!name) return;
    const key = serviceKey(namespace, name);
    if (!this.#services.has(key)) this.#namespaces.set(namespace, (this.#namespaces.get(namespace) ?? 0) + 1);
    this.#services.set(key, svc);
    this.#changed();
  }

  /** Removes a Service (its slices stay until they are deleted too). */
  deleteService(svc: Service): void {
    const namespace = svc.metadata.namespace ?? "default";
    const key = serviceKey(namespace, svc.metadata.name ?? "");
    if (!this.#services.delete(key)) return;
    const left = (this.#namespaces.get(namespace) ?? 1) - 1;
    if (left > 0) this.#namespaces.set(namespace, left);
    else this.#namespaces.delete(namespace);
    this.#changed();
  }

  /** Adds or replaces an EndpointSlice (filed under its `kubernetes.io/service-name` label). */
  setSlice(slice: EndpointSlice): void {
    this.deleteSlice(slice);
    const service = slice.metadata.labels?.[LABEL_SERVICE_NAME];
    if (!service || !slice.metadata.name) return;
    const namespace = slice.metadata.namespace ?? "default";
    const owner = serviceKey(namespace, service);
    const key = serviceKey(namespace, slice.metadata.name);
    let slices = this.#slices.get(owner);
    if (!slices) this.#slices.set(owner, slices = new Map());
    slices.set(key, slice);
    this.#sliceOwners.set(key, owner);
    this.#changed();
  }

  /** Removes an EndpointSlice. */
  deleteSlice(slice: EndpointSlice): void {
    const key = serviceKey(slice.metadata.namespace ?? "default", slice.metadata.name ?? "");
    const owner = this.#sliceOwners.get(key);
    if (owner === undefined) return;
    this.#sliceOwners.delete(key);
    const slices = this.#slices.get(owner);
    slices?.delete(key);
    if (slices?.size === 0) this.#slices.delete(owner);
    this.#changed();
  }

  /** The zone's SOA record. */
  soa(): Answer {
    return {
      type: "SOA",
      name: this.domain,
      ttl: CLUSTER_RECORD_TTL,
      class: "IN",
      data: {
        mname: `ns.dns.${this.domain}`,
        rname: `hostmaster.${this.domain}`,
        serial: this.#serial,
        refresh: 7200,
        retry: 1800,
        expire: 86400,
        minimum: CLUSTER_RECORD_TTL,
      },
    };
  }

  /** True when `name` (lower case, no trailing dot) is the cluster domain or under it. */
  inZone(name: string): boolean {
    return name === this.domain || name.endsWith(`.${this.domain}`);
  }

  /**
   * Answers a question of class IN about `name` (any case, with or without
   * the final dot), or undefined when the name is not the cluster's to
   * answer (outside the cluster domain, or a PTR for an address it does not
   * know): the server forwards those.
   */
  resolve(name: string, type: RecordType | string): ClusterAnswer | undefined {
    const owner = name.replace(/\.$/, "");
    const lower = owner.toLowerCase();
    let node: Node | undefined;
    if (lower.endsWith(".in-addr.arpa")) {
      if (type !== "PTR" && type !== "ANY") return undefined;
      node = this.#reverse(owner, lower);
      if (!node) return undefined;
    } else if (!this.inZone(lower)) {
      return undefined;
    } else {
      const relative = lower === this.domain ? [] : lower.slice(0, -this.domain.length - 1).split(".").reverse();
      node = this.#lookup(owner, relative);
    }
    if (!node) return { rcode: RCODE.NXDOMAIN, answers: [], authorities: [this.soa()], additionals: [] };
    if (node.alias !== undefined) {
      const cname = node.records.filter((r) => r.type === "CNAME");
      return { rcode: RCODE.NOERROR, answers: cname, authorities: [], additionals: [], alias: node.alias };
    }
    const answers = type === "ANY" ? node.records : node.records.filter((r) => r.type === type);
    if (answers.length === 0) return { rcode: RCODE.NOERROR, answers: [], authorities: [this.soa()], additionals: [] };
    return {
      rcode: RCODE.NOERROR,
      answers,
      authorities: [],
      additionals: type === "SRV" || type === "ANY" ? node.additionals ?? [] : [],
    };
  }

  /** The node at `labels` (reversed, relative to the domain), or undefined when no such name exists. */
  #lookup(owner: string, labels: string[]): Node | undefined {
    const [top, second, third, fourth, fifth, ...rest] = labels;
    if (top === undefined) {
      const records: Answer[] = [{ ...this.soa(), name: owner }, {
        type: "NS",
        name: owner,
        ttl: CLUSTER_RECORD_TTL,
        data: this.#nsName,
      }];
      return { records };
    }
    if (top === "dns") {
      if (second === undefined) return { records: [] };
      if (second === "ns" && third === undefined && this.#nameserver) {
        return { records: [{ type: "A", name: owner, ttl: CLUSTER_RECORD_TTL, data: this.#nameserver }] };
      }
      return undefined;
    }
    if (top === "pod") {
      if (second === undefined) return { records: [] };
      if (third === undefined) return { records: [] };
      const address = fourth === undefined ? undashed(third) : undefined;
      return address ? { records: [{ type: "A", name: owner, ttl: CLUSTER_RECORD_TTL, data: address }] } : undefined;
    }
    if (top !== "svc") return undefined;
    if (second === undefined) return { records: [] };
    if (third === undefined) return this.#namespaces.has(second) ? { records: [] } : undefined;
    const svc = this.#services.get(serviceKey(second, third));
    if (!svc) return undefined;
    if (fourth === undefined) return this.#serviceNode(owner, svc);
    if (rest.length > 0) return undefined;
    if (svc.spec?.type === "ExternalName") return undefined;
    if (fourth.startsWith("_")) {
      const protocol = fourth.slice(1).toUpperCase();
      if (fifth === undefined) {
        return this.#srv(owner, svc, { protocol }).records.length > 0 ? { records: [] } : undefined;
      }
      if (!fifth.startsWith("_")) return undefined;
      const node = this.#srv(owner, svc, { protocol, port: fifth.slice(1) });
      return node.records.length > 0 ? node : undefined;
    }
    if (fifth !== undefined || svc.spec?.clusterIP !== "None") return undefined;
    const records = this.#ready(svc)
      .filter((e) => e.label === fourth)
      .map((e) => this.#addressRecord(owner, e.address));
    return records.length > 0 ? { records: dedupe(records) } : undefined;
  }

  get #nsName(): string {
    return `ns.dns.${this.domain}`;
  }

  #fqdn(svc: Service): string {
    return `${svc.metadata.name}.${svc.metadata.namespace ?? "default"}.svc.${this.domain}`;
  }

  #addressRecord(owner: string, address: string): Answer {
    return { type: isIPv6(address) ? "AAAA" : "A", name: owner, ttl: CLUSTER_RECORD_TTL, data: address };
  }

  /** The ready endpoint addresses of a Service, in a stable order. */
  #ready(svc: Service): ReadyEndpoint[] {
    const slices = this.#slices.get(serviceKey(svc.metadata.namespace ?? "default", svc.metadata.name ?? ""));
    const out: ReadyEndpoint[] = [];
    for (const slice of slices?.values() ?? []) {
      if (slice.addressType !== "IPv4" && slice.addressType !== "IPv6") continue;
      for (const endpoint of slice.endpoints ?? []) {
        if (endpoint.conditions?.ready === false) continue;
        for (const address of endpoint.addresses ?? []) {
          if (!(slice.addressType === "IPv4" ? isIPv4(address) : isIPv6(address))) continue;
          const hostname = endpoint.hostname && isEncodableName(endpoint.hostname) && !endpoint.hostname.includes(".")
            ? endpoint.hostname.toLowerCase()
            : undefined;
          out.push({ address, label: hostname ?? dashed(address), slice });
        }
      }
    }
    return out.sort((a, b) => a.label.localeCompare(b.label) || a.address.localeCompare(b.address));
  }

  /** The records at a Service's own name. */
  #serviceNode(owner: string, svc: Service): Node | undefined {
    const spec = svc.spec ?? {};
    if (spec.type === "ExternalName") {
      const target = (spec.externalName ?? "").replace(/\.$/, "");
      if (!isEncodableName(target)) return { records: [] };
      return { records: [{ type: "CNAME", name: owner, ttl: CLUSTER_RECORD_TTL, data: target }], alias: target };
    }
    let records: Answer[];
    if (spec.clusterIP === "None") {
      records = this.#ready(svc).map((e) => this.#addressRecord(owner, e.address));
    } else {
      const ips = [spec.clusterIP, ...(spec.clusterIPs ?? [])]
        .filter((ip): ip is string => typeof ip === "string" && (isIPv4(ip) || isIPv6(ip)));
      records = ips.map((ip) => this.#addressRecord(owner, ip));
    }
    const srv = this.#srv(owner, svc, {});
    return { records: dedupe([...records, ...srv.records]), additionals: srv.additionals ?? [] };
  }

  /**
   * SRV records of a Service's ports matching `protocol` and the port name
   * `port` (both optional), with the targets' address records.
   */
  #srv(owner: string, svc: Service, filter: { protocol?: string; port?: string }): Node {
    const matches = (p: { name?: string; protocol?: string }) =>
      (filter.protocol === undefined || (p.protocol ?? "TCP").toUpperCase() === filter.protocol) &&
      (filter.port === undefined || (p.name ?? "").toLowerCase() === filter.port);
    const records: Answer[] = [];
    const additionals: Answer[] = [];
    const fqdn = this.#fqdn(svc);
    if (svc.spec?.clusterIP !== "None") {
      const ports = (svc.spec?.ports ?? []).filter((p) => filter.port === undefined || p.name).filter(matches);
      for (const port of ports) {
        records.push(srvRecord(owner, { port: port.port, target: fqdn, weight: Math.floor(100 / ports.length) }));
      }
      if (records.length > 0) {
        for (const ip of [svc.spec?.clusterIP].filter((ip): ip is string => !!ip && (isIPv4(ip) || isIPv6(ip)))) {
          additionals.push(this.#addressRecord(fqdn, ip));
        }
      }
      return { records, additionals };
    }
    const targets: { port: number; endpoint: ReadyEndpoint }[] = [];
    for (const endpoint of this.#ready(svc)) {
      for (const port of endpoint.slice.ports ?? []) {
        if (port.port === undefined || (filter.port !== undefined && !port.name) || !matches(port)) continue;
        targets.push({ port: port.port, endpoint });
      }
    }
    for (const { port, endpoint } of targets) {
      const target = `${endpoint.label}.${fqdn}`;
      records.push(srvRecord(owner, { port, target, weight: Math.floor(100 / targets.length) || 1 }));
      additionals.push(this.#addressRecord(target, endpoint.address));
    }
    return { records: dedupe(records), additionals: dedupe(additionals) };
  }

  /** PTR records for an address the cluster knows, or undefined. */
  #reverse(owner: string, lower: string): Node | undefined {
    const address = reverseAddress(lower);
    if (!address) return undefined;
    const names: string[] = [];
    for (const svc of this.#services.values()) {
      const ips = [svc.spec?.clusterIP, ...(svc.spec?.clusterIPs ?? [])];
      if (svc.spec?.type !== "ExternalName" && ips.includes(address)) names.push(this.#fqdn(svc));
    }
    for (const svc of this.#services.values()) {
      if (svc.spec?.clusterIP !== "None") continue;
      for (const endpoint of this.#ready(svc)) {
        if (endpoint.address === address) names.push(`${endpoint.label}.${this.#fqdn(svc)}`);
      }
    }
    if (names.length === 0) return undefined;
    return {
      records: [...new Set(names)].map((data) => ({ type: "PTR", name: owner, ttl: CLUSTER_RECORD_TTL, data })),
    };
  }
}

function srvRecord(owner: string, data: { port: number; target: string; weight: number }): Answer {
  return { type: "SRV", name: owner, ttl: CLUSTER_RECORD_TTL, data: { priority: 0, ...data } };
}

/** Records without repeats (same type, owner and data). */
function dedupe(records: Answer[]): Answer[] {
  const seen = new Set<string>();
  return records.filter((r) => {
    const key = JSON.stringify([r.type, r.name, "data" in r ? r.data : null]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
