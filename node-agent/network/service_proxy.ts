/**
 * The service proxy (Kubernetes' kube-proxy role, nftables only): watches
 * Services and discovery.k8s.io/v1 EndpointSlices, and keeps this node's
 * `ip skiff` nftables table equal to what they say, so that a ClusterIP,
 * a NodePort on any node address, an external IP or a load-balancer IP
 * reaches a ready endpoint wherever it runs.
 *
 * Changes are coalesced (applies at least `debounceMs` apart), rendered by a
 * {@linkcode RulesetBuilder} and applied by an {@linkcode NftTable} in one
 * `nft -f` transaction each. Each Service is converted and rendered again
 * only when its resourceVersion or one of its EndpointSlices' changes, and
 * only the chains and map elements that differ from the last apply are
 * written, so one endpoint change costs about one Service's work whatever
 * the number of Services. Every `fullSyncMs` the whole table is rendered
 * from nothing and rewritten, to repair anything changed behind the proxy's
 * back. A failed apply is retried with backoff.
 *
 * @module
 */

import { SerialSync } from "./_serial_sync.ts";
import { isIPv4 } from "node:net";
import { type Clock, type EndpointSlice, LABEL_SERVICE_NAME, type Service, systemClock } from "@skiff/api";
import { type ApiClient, type Informer, SharedInformers } from "@skiff/client";
import type { Exec } from "../_exec.ts";
import {
  buildRuleset,
  DEFAULT_AFFINITY_TIMEOUT_SECONDS,
  type NftRuleset,
  type ProxyEndpoint,
  type ProxyProtocol,
  type ProxyService,
  type ProxyState,
  RulesetBuilder,
} from "./nft_ruleset.ts";
import { type NftApplyReport, NftTable } from "./nft_table.ts";

/** Options of {@linkcode ServiceProxy}. */
export interface ServiceProxyOptions {
  /**
   * Where Services and EndpointSlices come from: a client (the proxy makes
   * and stops its own informers) or the process's shared informers (the
   * proxy starts them but leaves stopping them to their owner).
   */
  source: { client: ApiClient } | { informers: SharedInformers };
  /** This node's addresses, where NodePorts answer; empty: every local address but loopback. */
  nodeAddresses?: string[];
  /** This node's pod range (`node.spec.podCIDR`), e.g. `10.42.3.0/24`. */
  podCidr: string;
  /** The cluster's pod range (default 10.42.0.0/16). */
  clusterCidr?: string;
  /** The Service range (default 10.43.0.0/16). */
  serviceCidr?: string;
  /** Runs `nft` (default: the agent's `run`). */
  exec?: Exec;
  /** Work inside this named network namespace (a simulated host); default: the agent's own. */
  netns?: string;
  /**
   * Applies are at least this far apart (default 50 ms): a change after a
   * quiet spell is applied at once, changes that come sooner are applied
   * together when the interval is over.
   */
  debounceMs?: number;
  /** Rewrite the whole table this often even without changes (default 1 hour; 0: never). */
  fullSyncMs?: number;
  /** First delay before retrying a failed apply; doubles up to 30 s (default 1 s). */
  retryMs?: number;
  /** Time source for the debounce, resync and retry timers. */
  clock?: Clock;
  /** Where progress and problems are reported (default: stderr). */
  log?: (line: string) => void;
  /** Called after every apply that succeeded, with how it went. */
  onApply?: (report: ServiceProxyApplyReport) => void;
}

/** How one sync of the proxy went. */
export interface ServiceProxyApplyReport extends NftApplyReport {
  /** Milliseconds to turn the caches into a ruleset. */
  renderMs: number;
  /** Service ports in the table. */
  servicePorts: number;
  /** Endpoints across them. */
  endpoints: number;
}

/** Services and EndpointSlices as the proxy needs them, and what it had to leave out. */
export interface ProxyServicesResult {
  /** One entry per Service that gets rules. */
  services: ProxyService[];
  /** What was left out and why, one sentence each. */
  problems: string[];
}

const MAX_RETRY_MS = 30_000;

/** A Service converted for the proxy, with the resourceVersions it was converted at. */
interface ConvertedService {
  version: string | undefined;
  service: ProxyService | undefined;
  problems: string[];
}

/**
 * Turns Services and their EndpointSlices into the proxy's view: ClusterIP
 * and external addresses (IPv4 only), node ports, affinity, and per port the
 * endpoints that are ready and not terminating, with the port each serves on
 * (slices are matched by the `kubernetes.io/service-name` label and ports
 * by name and protocol). Headless and ExternalName Services get no rules.
 */
export function proxyServices(services: readonly Service[], slices: readonly EndpointSlice[]): ProxyServicesResult {
  const slicesOf = slicesByService(slices);
  const result: ProxyService[] = [];
  const problems: string[] = [];
  for (const svc of services) {
    const converted = proxyService(svc, slicesOf.get(serviceKey(svc)) ?? []);
    if (converted.service) result.push(converted.service);
    problems.push(...converted.problems);
  }
  return { services: result, problems };
}

/** `namespace/name` of a Service. */
function serviceKey(svc: Service): string {
  return `${svc.metadata.namespace}/${svc.metadata.name}`;
}

/** The IPv4 EndpointSlices of each Service, by `namespace/name`. */
function slicesByService(slices: readonly EndpointSlice[]): Map<string, EndpointSlice[]> {
  const slicesOf = new Map<string, EndpointSlice[]>();
  for (const slice of slices) {
    const service = slice.metadata.labels?.[LABEL_SERVICE_NAME];
    if (!service || slice.addressType !== "IPv4") continue;
    const key = `${slice.metadata.namespace}/${service}`;
    const list = slicesOf.get(key);
    if (list) list.push(slice);
    else slicesOf.set(key, [slice]);
  }
  return slicesOf;
}

/** One Service as {@linkcode proxyServices} sees it, with its slices; no `service` when it gets no rules. */
function proxyService(
  svc: Service,
  slices: readonly EndpointSlice[],
): { service: ProxyService | undefined; problems: string[] } {
  const problems: string[] = [];
  const spec = svc.spec ?? {};
  const key = serviceKey(svc);
  const type = spec.type ?? "ClusterIP";
  if (type === "ExternalName") return { service: undefined, problems };
  const clusterIP = spec.clusterIP && isIPv4(spec.clusterIP) ? spec.clusterIP : undefined;
  if (spec.clusterIP && spec.clusterIP !== "None" && !clusterIP) {
    problems.push(
      `Service "${key}" has a clusterIP "${spec.clusterIP}" that is not IPv4: it gets no ClusterIP rules`,
    );
  }
  const externalAddresses = [
    ...(spec.externalIPs ?? []),
    ...(svc.status?.loadBalancer?.ingress ?? []).flatMap((ingress) =>
      ingress.ip && ingress.ipMode !== "Proxy" ? [ingress.ip] : []
    ),
  ].filter((address) => isIPv4(address));
  if (!clusterIP && externalAddresses.length === 0 && !(spec.ports ?? []).some((p) => p.nodePort)) {
    return { service: undefined, problems };
  }
  const ports = (spec.ports ?? []).flatMap((port) => {
    const protocol = (port.protocol ?? "TCP") as ProxyProtocol;
    if (!validPort(port.port) || !["TCP", "UDP", "SCTP"].includes(protocol)) {
      problems.push(`Service "${key}" has a port ${JSON.stringify(port)} that is not valid: it is left out`);
      return [];
    }
    const name = port.name ?? "";
    const endpoints: ProxyEndpoint[] = [];
    for (const slice of slices) {
      const match = (slice.ports ?? []).find((p) => (p.name ?? "") === name && (p.protocol ?? "TCP") === protocol);
      if (!match || !validPort(match.port)) continue;
      for (const endpoint of slice.endpoints ?? []) {
        const conditions = endpoint.conditions ?? {};
        if (conditions.ready === false || conditions.terminating === true) continue;
        for (const address of endpoint.addresses ?? []) {
          if (isIPv4(address)) endpoints.push({ address, port: match.port });
        }
      }
    }
    return [{
      name,
      protocol,
      port: port.port,
      ...(validPort(port.nodePort) ? { nodePort: port.nodePort } : {}),
      endpoints,
    }];
  });
  let timeout = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS;
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > 86400) {
    problems.push(
      `Service "${key}" has a session affinity timeout ${JSON.stringify(timeout)} that is not 1 to 86400 seconds: ` +
        `${DEFAULT_AFFINITY_TIMEOUT_SECONDS} is used`,
    );
    timeout = DEFAULT_AFFINITY_TIMEOUT_SECONDS;
  }
  return {
    service: {
      namespace: svc.metadata.namespace ?? "default",
      name: svc.metadata.name ?? "",
      type,
      ...(clusterIP ? { clusterIP } : {}),
      externalAddresses,
      sessionAffinity: spec.sessionAffinity === "ClientIP" ? "ClientIP" : "None",
      sessionAffinityTimeoutSeconds: timeout,
      externalTrafficPolicy: spec.externalTrafficPolicy === "Local" ? "Local" : "Cluster",
      ports,
    },
    problems,
  };
}

/**
 * The resourceVersions a Service's rules depend on (its own and its slices'),
 * or `undefined` when one of them has none.
 */
function versionOf(svc: Service, slices: readonly EndpointSlice[]): string | undefined {
  const own = svc.metadata.resourceVersion;
  if (!own) return undefined;
  const parts: string[] = [];
  for (const slice of slices) {
    if (!slice.metadata.resourceVersion) return undefined;
    parts.push(`${slice.metadata.name}@${slice.metadata.resourceVersion}`);
  }
  return `${own} ${parts.sort().join(" ")}`;
}

/**
 * The node's service proxy.
 *
 * @example
 * ```ts
 * import { ApiClient } from "@skiff/client";
 * import { ServiceProxy } from "./service_proxy.ts";
 *
 * const { client } = await ApiClient.fromKubeconfig({ kubeconfig: "/var/lib/skiff/node.kubeconfig" });
 * const proxy = new ServiceProxy({
 *   source: { client },
 *   nodeAddresses: ["192.168.1.13"],
 *   podCidr: "10.42.3.0/24",
 * });
 * await proxy.start(); // rules are in place
 * // …
 * await proxy.stop(); // the table is gone
 * ```
 */
export class ServiceProxy {
  readonly #informers: SharedInformers;
  readonly #ownInformers: boolean;
  readonly #services: Informer<Service>;
  readonly #slices: Informer<EndpointSlice>;
  readonly #table: NftTable;
  readonly #clock: Clock;
  readonly #log: (line: string) => void;
  readonly #onApply: ((report: ServiceProxyApplyReport) => void) | undefined;
  readonly #fullSyncMs: number;
  readonly #retryMs: number;
  readonly #base: Omit<ProxyState, "services">;
  #nodeAddresses: string[];
  readonly #syncs: SerialSync;
  #fullSyncTimer: number | undefined;
  #fullDue = false;
  #failures = 0;
  #lastProblems = "";
  #lastReport: ServiceProxyApplyReport | undefined;
  #converted = new Map<string, ConvertedService>();
  #builder = new RulesetBuilder();

  /**
   * Checks the options; nothing is watched or applied before {@linkcode start}.
   *
   * @throws {TypeError} naming the option that is not valid.
   */
  constructor(options: ServiceProxyOptions) {
    const source = options.source as { client?: ApiClient; informers?: SharedInformers } | undefined;
    if (!source || (!source.client && !source.informers)) {
      throw new TypeError('Invalid option "source": expected { client } or { informers }');
    }
    for (const name of ["debounceMs", "fullSyncMs", "retryMs"] as const) {
      const value = options[name];
      if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
        throw new TypeError(`Invalid option "${name}": ${value} is not a number of milliseconds`);
      }
    }
    this.#clock = options.clock ?? systemClock;
    this.#base = {
      nodeAddresses: [],
      podCidr: options.podCidr,
      ...(options.clusterCidr === undefined ? {} : { clusterCidr: options.clusterCidr }),
      ...(options.serviceCidr === undefined ? {} : { serviceCidr: options.serviceCidr }),
    };
    this.#nodeAddresses = [...(options.nodeAddresses ?? [])];
    this.#checkState(this.#nodeAddresses);
    this.#table = new NftTable({
      ...(options.exec ? { exec: options.exec } : {}),
      ...(options.netns === undefined ? {} : { netns: options.netns }),
    });
    this.#informers = source.informers ?? new SharedInformers(source.client!, { clock: this.#clock });
    this.#ownInformers = source.informers === undefined;
    this.#services = this.#informers.for<Service>("v1", "Service");
    this.#slices = this.#informers.for<EndpointSlice>("discovery.k8s.io/v1", "EndpointSlice");
    this.#log = options.log ?? ((line) => console.error(line));
    this.#onApply = options.onApply;
    this.#syncs = new SerialSync(() => this.#applyOnce(), { clock: this.#clock, debounceMs: options.debounceMs ?? 50 });
    this.#fullSyncMs = options.fullSyncMs ?? 3_600_000;
    this.#retryMs = options.retryMs ?? 1000;
    const changed = () => this.#syncs.request();
    this.#services.on({ add: changed, update: (old, obj) => old !== obj && changed(), delete: changed });
    this.#slices.on({ add: changed, update: (old, obj) => old !== obj && changed(), delete: changed });
  }

  /**
   * Starts watching and applies the table once the caches are filled;
   * resolves when the first apply is done.
   *
   * @throws {CommandError} when the first apply fails (the proxy keeps retrying).
   */
  async start(): Promise<void> {
    if (this.#syncs.stopped) throw new Error("Cannot start a ServiceProxy that was stopped");
    // Changes sync only once every cache is filled: Services listed before their
    // EndpointSlices would render as having no endpoints and reject connections.
    await this.#informers.start();
    if (this.#syncs.stopped) return;
    this.#syncs.activate();
    this.#scheduleFullSync();
    await this.sync();
  }

  /** The node addresses NodePorts answer on (empty: every local address but loopback). */
  get nodeAddresses(): string[] {
    return [...this.#nodeAddresses];
  }

  /**
   * Changes the node addresses NodePorts answer on (empty: every local
   * address but loopback) and schedules an apply.
   *
   * @throws {TypeError} naming an address that is not IPv4.
   */
  setNodeAddresses(addresses: readonly string[]): void {
    this.#checkState([...addresses]);
    this.#nodeAddresses = [...addresses];
    this.#syncs.request();
  }

  /** How the last successful apply went. */
  get lastApply(): ServiceProxyApplyReport | undefined {
    return this.#lastReport;
  }

  /** The ruleset in the kernel now, as last applied. */
  get ruleset(): NftRuleset | undefined {
    return this.#table.applied;
  }

  /** The state the next apply renders, from the caches as they are. */
  state(): ProxyState {
    return this.#collect().state;
  }

  /**
   * The state from the caches. A Service whose resourceVersion and slices'
   * resourceVersions are those of the previous call is not converted again,
   * and carries them as its `version`, so the builder does not render it again.
   */
  #collect(): { state: ProxyState; problems: string[] } {
    const slicesOf = slicesByService(this.#slices.list());
    const converted = new Map<string, ConvertedService>();
    const services: ProxyService[] = [];
    const problems: string[] = [];
    for (const svc of this.#services.list()) {
      const key = serviceKey(svc);
      const slices = slicesOf.get(key) ?? [];
      const version = versionOf(svc, slices);
      const cached = this.#converted.get(key);
      const entry: ConvertedService = cached !== undefined && version !== undefined && cached.version === version
        ? cached
        : { version, ...proxyService(svc, slices) };
      if (entry.service && version !== undefined) entry.service.version = version;
      converted.set(key, entry);
      if (entry.service) services.push(entry.service);
      problems.push(...entry.problems);
    }
    this.#converted = converted;
    return { state: { ...this.#base, nodeAddresses: [...this.#nodeAddresses], services }, problems };
  }

  /**
   * Renders and applies now (after any apply under way), whether or not
   * something changed; with `full`, rewrites every rule of the table.
   *
   * @throws {CommandError} when `nft` refuses the table; a retry is scheduled.
   */
  async sync(options: { full?: boolean } = {}): Promise<ServiceProxyApplyReport | undefined> {
    if (options.full) this.#fullDue = true;
    await this.#syncs.now();
    return this.#lastReport;
  }

  /**
   * Stops watching (informers the proxy made itself), cancels its timers,
   * waits for an apply under way and deletes the table: Services no longer
   * answer through this node, and connections it translated stop too (the
   * kernel keeps applying conntrack's NAT only while a NAT chain exists).
   * With `keepTable` the rules stay, for an agent that restarts: its next
   * proxy takes the table over without disturbing a connection.
   */
  async stop(options: { keepTable?: boolean } = {}): Promise<void> {
    if (this.#syncs.stopped) return;
    const stopping = this.#syncs.stop();
    if (this.#fullSyncTimer !== undefined) this.#clock.clearTimeout(this.#fullSyncTimer);
    if (this.#ownInformers) this.#informers.stop();
    await stopping;
    if (!options.keepTable) await this.#table.remove();
  }

  #checkState(nodeAddresses: string[]): void {
    buildRuleset({ ...this.#base, nodeAddresses, services: [] });
  }

  #scheduleFullSync(): void {
    if (this.#fullSyncMs <= 0 || this.#syncs.stopped) return;
    this.#fullSyncTimer = this.#clock.setTimeout(() => {
      this.#fullSyncTimer = undefined;
      this.#fullDue = true;
      this.#syncs.request(0);
      this.#scheduleFullSync();
    }, this.#fullSyncMs);
  }

  async #applyOnce(): Promise<void> {
    const started = performance.now();
    const full = this.#fullDue;
    if (full) {
      // A full sync renders everything again too, from nothing cached.
      this.#converted = new Map();
      this.#builder = new RulesetBuilder();
    }
    const { state, problems } = this.#collect();
    const text = problems.join("\n");
    if (text !== this.#lastProblems) {
      this.#lastProblems = text;
      for (const problem of problems) this.#log(`service proxy: ${problem}`);
    }
    const ruleset = this.#builder.build(state);
    const renderMs = performance.now() - started;
    this.#fullDue = false;
    try {
      const report = await this.#table.apply(ruleset, { full });
      this.#failures = 0;
      const servicePorts = state.services.reduce((n, s) => n + s.ports.length, 0);
      const endpoints = state.services.reduce((n, s) => n + s.ports.reduce((m, p) => m + p.endpoints.length, 0), 0);
      this.#lastReport = { ...report, renderMs, servicePorts, endpoints };
      for (const reason of report.fallbackReasons) {
        this.#log(`service proxy: the nftables table was rewritten because an easier apply failed: ${reason}`);
      }
      this.#onApply?.(this.#lastReport);
    } catch (error) {
      this.#failures++;
      const delay = Math.min(MAX_RETRY_MS, this.#retryMs * 2 ** (this.#failures - 1));
      this.#log(
        `service proxy: applying the nftables table failed (${messageOf(error)}); ` +
          `retrying in ${Math.round(delay)} ms. Check that nft works on this node (nft list ruleset).`,
      );
      this.#syncs.retryIn(delay);
      throw error;
    }
  }
}

function validPort(port: unknown): port is number {
  return Number.isInteger(port) && (port as number) >= 1 && (port as number) <= 65535;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
