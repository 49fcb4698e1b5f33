/**
 * The service proxy's nftables table, rendered from what the node knows
 * about Services: a pure function of a {@linkcode ProxyState}, with no I/O.
 *
 * {@linkcode buildRuleset} turns the state into a model of the `ip skiff`
 * table (its sets, maps and chains); {@linkcode renderTransaction} turns a
 * model into one `nft -f` script that replaces the table atomically, either
 * wholesale or as the difference from the model applied before; and
 * {@linkcode renderRuleset} is both at once, for a node whose table is empty.
 * A {@linkcode RulesetBuilder} does what `buildRuleset` does, but keeps each
 * Service's rendered part between calls and renders again only the Services
 * that changed; the difference {@linkcode renderTransaction} writes then
 * skips the unchanged chains without comparing them.
 *
 * What the table does, per packet:
 *
 * - `nat-prerouting` and `nat-output` jump to `services`, which looks the
 *   packet's `daddr . l4proto . dport` up in the verdict map `service-ips`
 *   (ClusterIPs, external IPs and load-balancer IPs of ports that have
 *   endpoints) and `l4proto . dport` in `service-nodeports` for packets to a
 *   node address (`node-ips`, or `fib daddr type local` when the node
 *   addresses are not known).
 * - A Service port's chain `svc-…` picks one ready endpoint at random and
 *   DNATs to it. The pick is a row of `numgen random mod K 0` rules, the
 *   k-th of N with probability 1/(N-k), which is uniform: an anonymous
 *   `numgen … vmap` per Service (or one shared map referenced by every
 *   Service) makes the kernel's work quadratic in the number of Services
 *   when the table is loaded, and 5,000 Services then take tens of seconds.
 * - With `sessionAffinity: ClientIP`, each endpoint has a chain `ep-…` that
 *   records the client in a timed set `aff-…` before the DNAT, and the
 *   Service's chain first sends clients found in one of those sets back to
 *   the same endpoint.
 * - NodePorts, external IPs and load-balancer IPs go through `ext-…`:
 *   masquerade and any endpoint (`externalTrafficPolicy: Cluster`), or only
 *   endpoints on this node's pod CIDR and the client's address kept
 *   (`Local`; dropped when there is none here).
 * - A port with no ready endpoint is not in `service-ips`; the filter
 *   chains find it in `no-endpoint-services` / `no-endpoint-nodeports`
 *   and reject the connection at once (TCP reset, ICMP port unreachable
 *   otherwise), as they do for any other address in the service CIDR.
 * - `nat-postrouting` masquerades packets marked on the way (traffic to a
 *   Service from outside the cluster CIDR, external traffic), a pod that
 *   reached itself through its own Service (hairpin: `ct status dnat` with
 *   source and destination both the pod), and traffic from the cluster CIDR
 *   to anywhere outside it.
 *
 * Names are deterministic: `svc-<namespace>/<name>/<protocol>/<port name or
 * number>`, and a hash instead when that would be long or hold characters
 * nft does not take in a name.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { CLUSTER_POD_CIDR, SERVICE_CIDR, type ServiceType } from "@skiff/api";
import { cidrContains, cidrsOverlap, ipv4ToInt, parseIpv4, parseIpv4Cidr } from "./_cidr.ts";

/** The nftables table the service proxy owns (family `ip`). */
export const SKIFF_TABLE = "skiff";
/** The packet mark bit that asks `nat-postrouting` to masquerade. */
export const MASQUERADE_MARK = 0x4000;
/** Session affinity timeout when a Service names none, as Kubernetes: 3 hours. */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800;

/** A transport protocol a Service port carries. */
export type ProxyProtocol = "TCP" | "UDP" | "SCTP";

/** One ready endpoint of a Service port: a pod address and the port it serves on. */
export interface ProxyEndpoint {
  /** The pod's IPv4 address. */
  address: string;
  /** The target port, resolved for this endpoint. */
  port: number;
}

/** One port of a Service, with its ready endpoints. */
export interface ProxyServicePort {
  /** The port's name (`""` when the Service has one unnamed port). */
  name: string;
  /** `TCP`, `UDP` or `SCTP`. */
  protocol: ProxyProtocol;
  /** The port on the ClusterIP and external addresses. */
  port: number;
  /** The port on every node address, for NodePort and LoadBalancer Services. */
  nodePort?: number;
  /** Ready, not terminating endpoints; none makes connections fail at once. */
  endpoints: ProxyEndpoint[];
}

/** A Service as the proxy needs it. */
export interface ProxyService {
  /** The Service's namespace. */
  namespace: string;
  /** The Service's name. */
  name: string;
  /**
   * Changes whenever anything below does, e.g. the resourceVersions of the
   * Service and its EndpointSlices: a {@linkcode RulesetBuilder} renders a
   * Service again only when this changes (without it: when its content does).
   */
  version?: string;
  /** `ClusterIP` (default), `NodePort` or `LoadBalancer`; `ExternalName` Services get no rules. */
  type?: ServiceType;
  /** The virtual IPv4 address; absent for a headless Service or one not allocated yet. */
  clusterIP?: string;
  /** Other addresses the Service answers on: `spec.externalIPs` and load-balancer ingress IPs. */
  externalAddresses?: string[];
  /** `None` (default) or `ClientIP`: each client sticks to one endpoint. */
  sessionAffinity?: "None" | "ClientIP";
  /** How long a ClientIP affinity lasts without a new connection (default 10800 s). */
  sessionAffinityTimeoutSeconds?: number;
  /** `Cluster` (default) or `Local`: external traffic only to this node's endpoints, client address kept. */
  externalTrafficPolicy?: "Cluster" | "Local";
  /** The ports. */
  ports: ProxyServicePort[];
}

/** Everything the table is rendered from. */
export interface ProxyState {
  /** The Services. */
  services: ProxyService[];
  /** This node's addresses, where NodePorts answer; empty: every local address but loopback. */
  nodeAddresses: string[];
  /** This node's pod range (`node.spec.podCIDR`): its endpoints are the local ones. */
  podCidr: string;
  /** The cluster's pod range (default 10.42.0.0/16). */
  clusterCidr?: string;
  /** The Service range (default 10.43.0.0/16): addresses in it that no Service port owns are rejected. */
  serviceCidr?: string;
}

/** One element of a set (`key`) or map (`key : value`). */
export interface NftElement {
  /** The key, in nft syntax. */
  key: string;
  /** The value of a map element, in nft syntax. */
  value?: string;
}

/** A named set or map of the table. */
export interface NftSet {
  /** `set` or `map`. */
  kind: "set" | "map";
  /** Its name. */
  name: string;
  /** Its declaration lines, e.g. `["type ipv4_addr", "flags dynamic,timeout", "timeout 10800s"]`. */
  spec: string[];
  /** Filled by the rules themselves (affinity): never flushed, elements not managed. */
  dynamic: boolean;
  /** The elements (empty for a dynamic set). */
  elements: NftElement[];
}

/** A chain of the table. */
export interface NftChain {
  /** Its name. */
  name: string;
  /** For a base chain, its hook line, e.g. `type nat hook prerouting priority -100; policy accept;`. */
  hook?: string;
  /** Its rules, in order. */
  rules: string[];
}

/** A model of the whole `ip skiff` table. */
export interface NftRuleset {
  /** The table's name. */
  table: string;
  /** Its sets and maps. */
  sets: NftSet[];
  /** Its chains. */
  chains: NftChain[];
}

/** What the table holds now, by name, when no model of it is at hand (`nft list`). */
export interface NftTableContents {
  /** Chain names. */
  chains: string[];
  /** Set and map names, with their kind. */
  sets: { name: string; kind: "set" | "map" }[];
}

/** Where a transaction starts from, for {@linkcode renderTransaction}. */
export type TransactionBase =
  /** The model applied last: only the difference is written. */
  | { previous: NftRuleset }
  /** The table as listed (or absent: `undefined`): everything is rewritten, what is not wanted deleted. */
  | { existing: NftTableContents | undefined }
  /** Delete the table and create it anew (loses affinity memory). */
  | { recreate: true };

const PROTOCOLS: ReadonlySet<string> = new Set(["TCP", "UDP", "SCTP"]);
const NAME_LIMIT = 128;
const SAFE_IDENTITY = /^[a-z0-9][a-z0-9._/-]*$/;
const MARK = `0x${MASQUERADE_MARK.toString(16).padStart(8, "0")}`;
const UNMARK = `0x${(~MASQUERADE_MARK >>> 0).toString(16).padStart(8, "0")}`;

/**
 * The table for `state`: a model {@linkcode renderTransaction} writes out.
 * Renders every Service afresh; a {@linkcode RulesetBuilder} kept between
 * calls renders only the Services that changed.
 *
 * @throws {TypeError} naming the field of `state` that is not valid.
 */
export function buildRuleset(state: ProxyState): NftRuleset {
  return new RulesetBuilder().build(state);
}

/**
 * Builds rulesets one after another, keeping each Service's rendered chains,
 * affinity sets and map entries between calls: a Service whose
 * {@linkcode ProxyService.version} (or, without one, whose content) is the
 * same as in the previous call is not rendered again, and its chains are the
 * very objects of the previous model, which {@linkcode renderTransaction}
 * then skips without comparing their rules. One changed Service among
 * thousands costs about as much as one Service.
 *
 * The models it returns share objects with each other and must not be
 * modified.
 *
 * @example
 * ```ts
 * import { RulesetBuilder } from "./nft_ruleset.ts";
 *
 * const builder = new RulesetBuilder();
 * const web = {
 *   namespace: "default",
 *   name: "web",
 *   version: "41",
 *   clusterIP: "10.43.0.10",
 *   ports: [{ name: "", protocol: "TCP" as const, port: 80, endpoints: [{ address: "10.42.1.5", port: 8080 }] }],
 * };
 * const first = builder.build({ services: [web], nodeAddresses: [], podCidr: "10.42.1.0/24" });
 * const second = builder.build({ services: [web], nodeAddresses: [], podCidr: "10.42.1.0/24" });
 * // second.chains holds first's svc-default/web/tcp/ chain object: nothing was rendered again.
 * ```
 */
export class RulesetBuilder {
  #context = "";
  #fragments = new Map<string, { version: string; fragment: ServiceFragment }>();

  /**
   * The table for `state`, reusing what the previous call rendered for the
   * Services that did not change.
   *
   * @throws {TypeError} naming the field of `state` that is not valid (the
   *   cache is then left as it was).
   */
  build(state: ProxyState): NftRuleset {
    const context = checkContext(state);
    if (!Array.isArray(state.services)) throw new TypeError("Invalid services: expected an array");
    const contextKey = `${context.podCidr} ${context.clusterCidr}`;
    const previous = contextKey === this.#context ? this.#fragments : new Map<string, never>();
    const next = new Map<string, { version: string; fragment: ServiceFragment }>();
    state.services.forEach((service, i) => {
      if (typeof service !== "object" || service === null) {
        throw new TypeError(`Invalid services[${i}]: expected an object`);
      }
      if (service.version !== undefined && typeof service.version !== "string") {
        throw new TypeError(`Invalid services[${i}].version ${JSON.stringify(service.version)}: expected a string`);
      }
      const key = `${service.namespace}/${service.name}`;
      if (next.has(key)) {
        // The same Service listed twice: the first one counts, once the second is found valid too.
        checkService(service, `services[${i}]`);
        return;
      }
      const version = service.version ?? JSON.stringify(service);
      const cached = previous.get(key);
      if (cached && cached.version === version) {
        next.set(key, cached);
        return;
      }
      next.set(key, { version, fragment: renderService(checkService(service, `services[${i}]`), context) });
    });
    this.#context = contextKey;
    this.#fragments = next;
    const keys = [...next.keys()].sort(compare);
    return assemble(context, keys.map((key) => next.get(key)!.fragment));
  }
}

/** A map entry a Service asks for; the first Service (by namespace and name) to ask for a key gets it. */
interface Claim {
  /** `ip`: service-ips or no-endpoint-services; `nodePort`: service-nodeports or no-endpoint-nodeports. */
  space: "ip" | "nodePort";
  /** Whether the port has endpoints (otherwise the entry rejects). */
  served: boolean;
  key: string;
  verdict: string;
}

/** What one Service adds to the table. */
interface ServiceFragment {
  chains: NftChain[];
  sets: NftSet[];
  claims: Claim[];
  hairpin: string[];
}

/** Renders one Service's chains, affinity sets and map entries. */
function renderService(service: CheckedService, context: CheckedContext): ServiceFragment {
  const fragment: ServiceFragment = { chains: [], sets: [], claims: [], hairpin: [] };
  if (service.type === "ExternalName") return fragment;
  const { chains, sets, claims } = fragment;
  const { clusterCidr, isLocal } = context;
  const exposed = service.type === "NodePort" || service.type === "LoadBalancer";
  const seen = new Set<string>();
  for (const port of service.ports) {
    const proto = port.protocol.toLowerCase();
    const identity = `${service.namespace}/${service.name}/${proto}/${port.name || port.port}`;
    if (seen.has(identity)) continue;
    seen.add(identity);
    const nodePort = exposed ? port.nodePort : undefined;
    const external = service.externalAddresses;
    const hasExternal = nodePort !== undefined || external.length > 0;
    if (service.clusterIP === undefined && !hasExternal) continue;
    const ipKey = (address: string) => `${address} . ${proto} . ${port.port}`;
    if (port.endpoints.length === 0) {
      for (const address of [...(service.clusterIP ? [service.clusterIP] : []), ...external]) {
        claims.push({ space: "ip", served: false, key: ipKey(address), verdict: "goto reject-service" });
      }
      if (nodePort !== undefined) {
        claims.push({
          space: "nodePort",
          served: false,
          key: `${proto} . ${nodePort}`,
          verdict: "goto reject-service",
        });
      }
      continue;
    }
    for (const endpoint of port.endpoints) {
      if (isLocal(endpoint.address)) fragment.hairpin.push(`${endpoint.address} . ${endpoint.address}`);
    }

    const dnat = (endpoint: ProxyEndpoint) => `meta l4proto ${proto} dnat to ${endpoint.address}:${endpoint.port}`;
    const affinity = new Map<ProxyEndpoint, { chain: string; set: string }>();
    if (service.sessionAffinity === "ClientIP") {
      const timeout = service.sessionAffinityTimeoutSeconds;
      for (const endpoint of port.endpoints) {
        const key = `${identity}__${endpoint.address}/${endpoint.port}`;
        const names = { chain: objectName("ep", key), set: objectName("aff", `${key}/${timeout}s`) };
        affinity.set(endpoint, names);
        sets.push({
          kind: "set",
          name: names.set,
          spec: ["type ipv4_addr", "flags dynamic,timeout", `timeout ${timeout}s`],
          dynamic: true,
          elements: [],
        });
        chains.push({ name: names.chain, rules: [`update @${names.set} { ip saddr }`, dnat(endpoint)] });
      }
    }
    /** Rules that send a connection to one of `endpoints`, uniformly at random (or back to the client's own). */
    const pick = (endpoints: ProxyEndpoint[]): string[] => {
      const sticky = endpoints.flatMap((e) => {
        const names = affinity.get(e);
        return names ? [`ip saddr @${names.set} goto ${names.chain}`] : [];
      });
      return [
        ...sticky,
        ...endpoints.map((endpoint, i) => {
          const names = affinity.get(endpoint);
          const action = names ? `goto ${names.chain}` : dnat(endpoint);
          const left = endpoints.length - i;
          return left > 1 ? `numgen random mod ${left} 0 ${action}` : action;
        }),
      ];
    };

    const svcChain = objectName("svc", identity);
    chains.push({
      name: svcChain,
      rules: [`ip saddr != ${clusterCidr} jump mark-for-masquerade`, ...pick(port.endpoints)],
    });
    if (service.clusterIP) {
      claims.push({ space: "ip", served: true, key: ipKey(service.clusterIP), verdict: `goto ${svcChain}` });
    }
    if (!hasExternal) continue;

    const extChain = objectName("ext", identity);
    for (const address of external) {
      claims.push({ space: "ip", served: true, key: ipKey(address), verdict: `goto ${extChain}` });
    }
    if (nodePort !== undefined) {
      claims.push({ space: "nodePort", served: true, key: `${proto} . ${nodePort}`, verdict: `goto ${extChain}` });
    }
    if (service.externalTrafficPolicy === "Local") {
      const local = port.endpoints.filter((endpoint) => isLocal(endpoint.address));
      const localChain = objectName("local", identity);
      chains.push({
        name: extChain,
        rules: [
          `ip saddr ${clusterCidr} goto ${svcChain}`,
          "fib saddr type local jump mark-for-masquerade",
          `fib saddr type local goto ${svcChain}`,
          local.length > 0 ? `goto ${localChain}` : "drop",
        ],
      });
      if (local.length > 0) chains.push({ name: localChain, rules: pick(local) });
    } else {
      chains.push({ name: extChain, rules: ["jump mark-for-masquerade", `goto ${svcChain}`] });
    }
  }
  return fragment;
}

/** The whole table: the fixed chains and sets, then the Services' fragments in namespace/name order. */
function assemble(context: CheckedContext, fragments: ServiceFragment[]): NftRuleset {
  const { clusterCidr, serviceCidr } = context;
  const serviceIps = new Map<string, string>();
  const nodePorts = new Map<string, string>();
  const noEndpointIps = new Map<string, string>();
  const noEndpointNodePorts = new Map<string, string>();
  const hairpin = new Set<string>();
  const chains: NftChain[] = [];
  const sets: NftSet[] = [];
  for (const fragment of fragments) {
    for (const { space, served, key, verdict } of fragment.claims) {
      const [withEndpoints, without] = space === "ip" ? [serviceIps, noEndpointIps] : [nodePorts, noEndpointNodePorts];
      if (!withEndpoints.has(key) && !without.has(key)) (served ? withEndpoints : without).set(key, verdict);
    }
    for (const pair of fragment.hairpin) hairpin.add(pair);
    for (const chain of fragment.chains) chains.push(chain);
    for (const set of fragment.sets) sets.push(set);
  }

  const nodeMatch = context.nodeAddresses.length > 0
    ? "ip daddr @node-ips"
    : "fib daddr type local ip daddr != 127.0.0.0/8";
  const verdictMap = (name: string, type: string, entries: Map<string, string>): NftSet => ({
    kind: "map",
    name,
    spec: [`type ${type} : verdict`],
    dynamic: false,
    elements: [...entries].map(([key, value]) => ({ key, value })),
  });
  const fixedSets: NftSet[] = [
    verdictMap("service-ips", "ipv4_addr . inet_proto . inet_service", serviceIps),
    verdictMap("service-nodeports", "inet_proto . inet_service", nodePorts),
    verdictMap("no-endpoint-services", "ipv4_addr . inet_proto . inet_service", noEndpointIps),
    verdictMap("no-endpoint-nodeports", "inet_proto . inet_service", noEndpointNodePorts),
    {
      kind: "set",
      name: "hairpin",
      spec: ["type ipv4_addr . ipv4_addr"],
      dynamic: false,
      elements: [...hairpin].map((key) => ({ key })),
    },
  ];
  if (context.nodeAddresses.length > 0) {
    fixedSets.push({
      kind: "set",
      name: "node-ips",
      spec: ["type ipv4_addr"],
      dynamic: false,
      elements: context.nodeAddresses.map((key) => ({ key })),
    });
  }
  const fixedChains: NftChain[] = [
    {
      name: "nat-prerouting",
      hook: "type nat hook prerouting priority -100; policy accept;",
      rules: ["jump services"],
    },
    { name: "nat-output", hook: "type nat hook output priority -100; policy accept;", rules: ["jump services"] },
    {
      name: "nat-postrouting",
      hook: "type nat hook postrouting priority 100; policy accept;",
      rules: [
        `meta mark & ${MARK} == ${MARK} meta mark set meta mark & ${UNMARK} masquerade`,
        "ct status dnat ip saddr . ip daddr @hairpin masquerade",
        `ip saddr ${clusterCidr} ip daddr != ${clusterCidr} masquerade`,
      ],
    },
    {
      name: "filter-input",
      hook: "type filter hook input priority -10; policy accept;",
      rules: ["ct state new jump reject-unserved"],
    },
    {
      name: "filter-forward",
      hook: "type filter hook forward priority -10; policy accept;",
      rules: ["ct state new jump reject-unserved"],
    },
    {
      name: "filter-output",
      hook: "type filter hook output priority -10; policy accept;",
      rules: ["ct state new jump reject-unserved"],
    },
    {
      name: "services",
      rules: [
        "ip daddr . meta l4proto . th dport vmap @service-ips",
        `${nodeMatch} meta l4proto . th dport vmap @service-nodeports`,
      ],
    },
    { name: "mark-for-masquerade", rules: [`meta mark set meta mark | ${MARK}`] },
    {
      name: "reject-unserved",
      rules: [
        "ip daddr . meta l4proto . th dport vmap @no-endpoint-services",
        `${nodeMatch} meta l4proto . th dport vmap @no-endpoint-nodeports`,
        `ip daddr ${serviceCidr} goto reject-service`,
      ],
    },
    { name: "reject-service", rules: ["meta l4proto tcp reject with tcp reset", "reject with icmp port-unreachable"] },
  ];
  return { table: SKIFF_TABLE, sets: [...fixedSets, ...sets], chains: [...fixedChains, ...chains] };
}

/**
 * The `nft -f` script that takes the table from `base` to `next` in one
 * transaction; `""` when `base.previous` already equals `next`.
 *
 * - From `{ previous }`: only what changed. Chains whose rules changed are
 *   flushed and written again, map elements added and deleted one by one,
 *   affinity sets left alone (so clients keep their endpoints).
 * - From `{ existing }`: every rule and static element written anew after
 *   `flush table`; chains and sets not wanted any more are deleted; the
 *   affinity sets still wanted keep their contents.
 * - From `{ recreate: true }`: the table is deleted and declared anew.
 *
 * Established connections never notice: conntrack keeps their NAT.
 */
export function renderTransaction(next: NftRuleset, base: TransactionBase): string {
  const table = `ip ${next.table}`;
  if ("recreate" in base) {
    return [`add table ${table}`, `delete table ${table}`, renderTable(next, { elements: true, hooks: true })].join(
      "\n",
    ) +
      "\n";
  }
  if ("existing" in base) {
    const wantedChains = new Set(next.chains.map((c) => c.name));
    const wantedSets = new Set(next.sets.map((s) => s.name));
    const lines = [`add table ${table}`, `flush table ${table}`];
    for (const set of next.sets) {
      if (set.dynamic) continue;
      lines.push(
        `add ${set.kind} ${table} ${set.name} { ${set.spec.join("; ")}; }`,
        `flush ${set.kind} ${table} ${set.name}`,
      );
    }
    lines.push(renderTable(next, { elements: true, hooks: true }));
    for (const set of base.existing?.sets ?? []) {
      if (!wantedSets.has(set.name)) lines.push(`delete ${set.kind} ${table} ${set.name}`);
    }
    for (const chain of base.existing?.chains ?? []) {
      if (!wantedChains.has(chain)) lines.push(`delete chain ${table} ${chain}`);
    }
    return lines.join("\n") + "\n";
  }
  return renderDifference(base.previous, next);
}

/**
 * The whole `nft -f` script for `state`: creates or rewrites the table in
 * one transaction. A table that may hold chains from other states is
 * better replaced with {@linkcode renderTransaction}, which deletes them.
 *
 * @example
 * ```ts
 * import { renderRuleset } from "./nft_ruleset.ts";
 *
 * const script = renderRuleset({
 *   services: [{
 *     namespace: "default",
 *     name: "web",
 *     clusterIP: "10.43.0.10",
 *     ports: [{ name: "", protocol: "TCP", port: 80, endpoints: [{ address: "10.42.1.5", port: 8080 }] }],
 *   }],
 *   nodeAddresses: ["192.168.1.11"],
 *   podCidr: "10.42.1.0/24",
 * });
 * // `nft -f -` with `script` on stdin applies it.
 * ```
 * @throws {TypeError} naming the field of `state` that is not valid.
 */
export function renderRuleset(state: ProxyState): string {
  return renderTransaction(buildRuleset(state), { existing: undefined });
}

/**
 * Whether the table can go from `previous` to `next` by a difference: no
 * set or map changes its type or flags, and no base chain its hook. When it
 * cannot, {@linkcode renderTransaction} from `{ previous }` recreates the table.
 */
export function isUpdatable(previous: NftRuleset, next: NftRuleset): boolean {
  const sets = new Map(previous.sets.map((s) => [s.name, s]));
  const chains = new Map(previous.chains.map((c) => [c.name, c]));
  return previous.table === next.table &&
    next.sets.every((set) => {
      const old = sets.get(set.name);
      return !old ||
        (old.kind === set.kind && old.dynamic === set.dynamic && sameLines(old.spec, set.spec));
    }) &&
    next.chains.every((chain) => {
      const old = chains.get(chain.name);
      return !old || old.hook === chain.hook;
    });
}

/** The difference from `previous` to `next`, as a script; `""` when there is none. */
function renderDifference(previous: NftRuleset, next: NftRuleset): string {
  const table = `ip ${next.table}`;
  const before = {
    sets: new Map(previous.sets.map((s) => [s.name, s])),
    chains: new Map(previous.chains.map((c) => [c.name, c])),
  };
  const after = {
    sets: new Map(next.sets.map((s) => [s.name, s])),
    chains: new Map(next.chains.map((c) => [c.name, c])),
  };
  if (!isUpdatable(previous, next)) return renderTransaction(next, { recreate: true });

  const declare: NftRuleset = { table: next.table, sets: [], chains: [] };
  const removedElements: string[] = [];
  const addedElements: string[] = [];
  for (const set of next.sets) {
    const old = before.sets.get(set.name);
    if (!old) declare.sets.push({ ...set, elements: [] });
    if (set.dynamic) continue;
    const oldElements = new Map((old?.elements ?? []).map((e) => [e.key, e.value]));
    const newElements = new Map(set.elements.map((e) => [e.key, e.value]));
    const gone = [...oldElements].filter(([key, value]) => !newElements.has(key) || newElements.get(key) !== value);
    const added = set.elements.filter((e) => !oldElements.has(e.key) || oldElements.get(e.key) !== e.value);
    if (gone.length > 0) {
      removedElements.push(`delete element ${table} ${set.name} { ${gone.map(([key]) => key).join(", ")} }`);
    }
    if (added.length > 0) addedElements.push(`add element ${table} ${set.name} { ${added.map(element).join(", ")} }`);
  }
  const flushes: string[] = [];
  const rewritten: NftRuleset = { table: next.table, sets: [], chains: [] };
  for (const chain of next.chains) {
    const old = before.chains.get(chain.name);
    if (!old) {
      declare.chains.push({ ...chain, rules: [] });
      if (chain.rules.length > 0) rewritten.chains.push(chain);
    } else if (old !== chain && !sameLines(old.rules, chain.rules)) {
      flushes.push(`flush chain ${table} ${chain.name}`);
      if (chain.rules.length > 0) rewritten.chains.push(chain);
    }
  }
  const goneChains = previous.chains.filter((c) => !after.chains.has(c.name));
  const goneSets = previous.sets.filter((s) => !after.sets.has(s.name));
  for (const chain of goneChains) flushes.push(`flush chain ${table} ${chain.name}`);

  const lines: string[] = [];
  if (declare.sets.length > 0 || declare.chains.length > 0) {
    lines.push(renderTable(declare, { elements: false, hooks: true }));
  }
  lines.push(...removedElements, ...flushes);
  if (rewritten.chains.length > 0) lines.push(renderTable(rewritten, { elements: false, hooks: false }));
  lines.push(...addedElements);
  for (const set of goneSets) lines.push(`delete ${set.kind} ${table} ${set.name}`);
  for (const chain of goneChains) lines.push(`delete chain ${table} ${chain.name}`);
  return lines.length === 0 ? "" : lines.join("\n") + "\n";
}

/** A `table ip … { … }` block declaring the sets and chains of `ruleset` with their rules. */
function renderTable(ruleset: NftRuleset, options: { elements: boolean; hooks: boolean }): string {
  const out = [`table ip ${ruleset.table} {`];
  for (const set of ruleset.sets) {
    out.push(`\t${set.kind} ${set.name} {`);
    for (const line of set.spec) out.push(`\t\t${line}`);
    if (options.elements && set.elements.length > 0) {
      out.push("\t\telements = {");
      set.elements.forEach((e, i) => out.push(`\t\t\t${element(e)}${i < set.elements.length - 1 ? "," : ""}`));
      out.push("\t\t}");
    }
    out.push("\t}");
  }
  for (const chain of ruleset.chains) {
    out.push(`\tchain ${chain.name} {`);
    if (options.hooks && chain.hook) out.push(`\t\t${chain.hook}`);
    for (const rule of chain.rules) out.push(`\t\t${rule}`);
    out.push("\t}");
  }
  out.push("}");
  return out.join("\n");
}

function sameLines(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((line, i) => line === b[i]);
}

function element(e: NftElement): string {
  return e.value === undefined ? e.key : `${e.key} : ${e.value}`;
}

/** `<prefix>-<identity>`, or `<prefix>-<hash>` when the identity is long or holds other characters. */
function objectName(prefix: string, identity: string): string {
  const name = `${prefix}-${identity}`;
  if (name.length <= NAME_LIMIT && SAFE_IDENTITY.test(identity)) return name;
  return `${prefix}-${createHash("sha256").update(identity).digest("hex").slice(0, 20)}`;
}

interface CheckedService extends Required<Omit<ProxyService, "clusterIP" | "type" | "version">> {
  clusterIP: string | undefined;
  type: ServiceType;
}

/** What the table depends on besides the Services. */
interface CheckedContext {
  nodeAddresses: string[];
  podCidr: string;
  clusterCidr: string;
  serviceCidr: string;
  /** Whether an endpoint address is in this node's pod range. */
  isLocal: (address: string) => boolean;
}

/** Validates everything in `state` but the Services, and fills in defaults. */
function checkContext(state: ProxyState): CheckedContext {
  if (typeof state !== "object" || state === null) throw new TypeError("Invalid proxy state: expected an object");
  const clusterCidr = parseIpv4Cidr(state.clusterCidr ?? CLUSTER_POD_CIDR, { field: "clusterCidr", minBits: 1 });
  const serviceCidr = parseIpv4Cidr(state.serviceCidr ?? SERVICE_CIDR, { field: "serviceCidr", minBits: 1 });
  const podCidr = parseIpv4Cidr(state.podCidr, { field: "podCidr", minBits: 1 });
  if (!cidrContains(clusterCidr, podCidr)) {
    throw new TypeError(`Invalid podCidr "${podCidr.text}": it is not inside the cluster CIDR "${clusterCidr.text}"`);
  }
  if (cidrsOverlap(clusterCidr, serviceCidr)) {
    throw new TypeError(
      `Invalid serviceCidr "${serviceCidr.text}": it overlaps the cluster CIDR "${clusterCidr.text}"`,
    );
  }
  if (!Array.isArray(state.nodeAddresses)) {
    throw new TypeError("Invalid nodeAddresses: expected an array of IPv4 addresses");
  }
  const nodeAddresses = [...new Set(state.nodeAddresses.map((a, i) => parseIpv4(`nodeAddresses[${i}]`, a)))]
    .sort((a, b) => ipv4ToInt(a) - ipv4ToInt(b));
  const podMask = (~0 << (32 - podCidr.bits)) >>> 0;
  return {
    nodeAddresses,
    podCidr: podCidr.text,
    clusterCidr: clusterCidr.text,
    serviceCidr: serviceCidr.text,
    isLocal: (address) => ((ipv4ToInt(address) & podMask) >>> 0) === podCidr.base,
  };
}

/** Validates one Service and fills in defaults; endpoints sorted and de-duplicated. */
function checkService(service: ProxyService, at: string): CheckedService {
  if (typeof service !== "object" || service === null) throw new TypeError(`Invalid ${at}: expected an object`);
  for (const field of ["namespace", "name"] as const) {
    if (typeof service[field] !== "string" || service[field] === "") {
      throw new TypeError(`Invalid ${at}.${field} ${JSON.stringify(service[field])}: expected a non-empty string`);
    }
  }
  const type = service.type ?? "ClusterIP";
  if (!["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"].includes(type)) {
    throw new TypeError(
      `Invalid ${at}.type ${JSON.stringify(type)}: expected ClusterIP, NodePort, LoadBalancer or ExternalName`,
    );
  }
  const clusterIP = service.clusterIP === undefined ? undefined : parseIpv4(`${at}.clusterIP`, service.clusterIP);
  const externalAddresses = [
    ...new Set((service.externalAddresses ?? []).map((a, i) => parseIpv4(`${at}.externalAddresses[${i}]`, a))),
  ].filter((a) => a !== clusterIP);
  const sessionAffinity = service.sessionAffinity ?? "None";
  if (sessionAffinity !== "None" && sessionAffinity !== "ClientIP") {
    throw new TypeError(`Invalid ${at}.sessionAffinity ${JSON.stringify(sessionAffinity)}: expected None or ClientIP`);
  }
  const timeout = service.sessionAffinityTimeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS;
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > 86400) {
    throw new TypeError(
      `Invalid ${at}.sessionAffinityTimeoutSeconds ${JSON.stringify(timeout)}: expected a whole number from 1 to 86400`,
    );
  }
  const policy = service.externalTrafficPolicy ?? "Cluster";
  if (policy !== "Cluster" && policy !== "Local") {
    throw new TypeError(`Invalid ${at}.externalTrafficPolicy ${JSON.stringify(policy)}: expected Cluster or Local`);
  }
  if (!Array.isArray(service.ports)) throw new TypeError(`Invalid ${at}.ports: expected an array`);
  const ports = service.ports.map((port, j) => checkPort(port, `${at}.ports[${j}]`));
  return {
    namespace: service.namespace,
    name: service.name,
    type,
    clusterIP,
    externalAddresses,
    sessionAffinity,
    sessionAffinityTimeoutSeconds: timeout,
    externalTrafficPolicy: policy,
    ports,
  };
}

function checkPort(port: ProxyServicePort, at: string): ProxyServicePort {
  if (typeof port !== "object" || port === null) throw new TypeError(`Invalid ${at}: expected an object`);
  if (typeof port.name !== "string") throw new TypeError(`Invalid ${at}.name: expected a string ("" when unnamed)`);
  if (!PROTOCOLS.has(port.protocol)) {
    throw new TypeError(`Invalid ${at}.protocol ${JSON.stringify(port.protocol)}: expected TCP, UDP or SCTP`);
  }
  checkPortNumber(`${at}.port`, port.port);
  if (port.nodePort !== undefined) checkPortNumber(`${at}.nodePort`, port.nodePort);
  if (!Array.isArray(port.endpoints)) throw new TypeError(`Invalid ${at}.endpoints: expected an array`);
  const seen = new Set<string>();
  const sortable: { endpoint: ProxyEndpoint; order: number }[] = [];
  port.endpoints.forEach((endpoint, k) => {
    const address = parseIpv4(`${at}.endpoints[${k}].address`, endpoint?.address);
    checkPortNumber(`${at}.endpoints[${k}].port`, endpoint.port);
    const key = `${address}:${endpoint.port}`;
    if (seen.has(key)) return;
    seen.add(key);
    sortable.push({ endpoint: { address, port: endpoint.port }, order: ipv4ToInt(address) * 65536 + endpoint.port });
  });
  const endpoints = sortable.sort((a, b) => a.order - b.order).map((e) => e.endpoint);
  return {
    name: port.name,
    protocol: port.protocol,
    port: port.port,
    ...(port.nodePort === undefined ? {} : { nodePort: port.nodePort }),
    endpoints,
  };
}

function checkPortNumber(field: string, value: unknown): void {
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 65535) {
    throw new TypeError(`Invalid ${field} ${JSON.stringify(value)}: expected a port from 1 to 65535`);
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
