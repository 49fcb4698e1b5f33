/**
 * Host-gw routing between nodes, as flannel's host-gw backend does it: every
 * node routes each other node's pod CIDR through that node's address, so pod
 * traffic crosses the LAN unencapsulated. It needs the nodes on one L2
 * segment (the next hop must be directly reachable).
 *
 * Routes Skiff adds carry their own routing protocol number
 * ({@linkcode SKIFF_ROUTE_PROTOCOL}), so a sync only ever removes routes it
 * added itself.
 *
 * @module
 */

import { CLUSTER_POD_CIDR } from "@skiff/api";
import { type Exec, run } from "../_exec.ts";
import { cidrContains, cidrsOverlap, type Ipv4Cidr, parseIpv4, parseIpv4Cidr } from "./_cidr.ts";

/**
 * The `proto` number on every route Skiff adds (`ip route show proto 152`);
 * not one of the numbers in iproute2's rt_protos list.
 */
export const SKIFF_ROUTE_PROTOCOL = 152;

/** A route to one node's pods. */
export interface HostGwRoute {
  /** The node's pod CIDR, e.g. `10.42.2.0/24`. */
  cidr: string;
  /** The node's address: the next hop. */
  via: string;
}

/** Input of {@linkcode HostGwRoutes.syncRoutes}. */
export interface SyncRoutesRequest {
  /**
   * Every node's pod CIDR by the node's address (`status.addresses`
   * InternalIP → `spec.podCIDR`); may include this node, which is skipped.
   */
  podCidrsByNodeAddress: ReadonlyMap<string, string> | Readonly<Record<string, string>>;
  /** This node's own address. */
  own: string;
}

/** What {@linkcode HostGwRoutes.syncRoutes} changed. */
export interface RouteSyncReport {
  /** Routes added or pointed at a new next hop. */
  added: HostGwRoute[];
  /** Routes removed: their node is gone or its CIDR changed. */
  removed: HostGwRoute[];
  /** Routes already right. */
  unchanged: HostGwRoute[];
  /** Routes that could not be added or removed; the others were still synced. */
  failures: { route: HostGwRoute; error: Error }[];
}

/** Options of {@linkcode HostGwRoutes}. */
export interface HostGwRoutesOptions {
  /** Runs commands (default: {@linkcode run}); tests pass a recorder. */
  exec?: Exec;
  /** Work inside this named network namespace (a simulated host); default: the agent's own. */
  netns?: string;
  /** The routes' protocol number, 1 to 255 (default {@linkcode SKIFF_ROUTE_PROTOCOL}). */
  protocol?: number;
}

/** A node's routes to the other nodes' pods, in its main routing table. */
export class HostGwRoutes {
  readonly #exec: Exec;
  readonly #netns: string | undefined;
  readonly #protocol: string;

  /**
   * Checks the options; nothing touches the system until the first call.
   *
   * @throws {TypeError} naming the option that is not valid.
   */
  constructor(options: HostGwRoutesOptions = {}) {
    const protocol = options.protocol ?? SKIFF_ROUTE_PROTOCOL;
    if (!Number.isInteger(protocol) || protocol < 1 || protocol > 255) {
      throw new TypeError(`Invalid option "protocol": ${protocol} is not a whole number from 1 to 255`);
    }
    if (options.netns !== undefined && !/^[^/\s\0]{1,255}$/.test(options.netns)) {
      throw new TypeError(`Invalid option "netns": "${options.netns}" is not a network namespace name`);
    }
    this.#exec = options.exec ?? run;
    this.#netns = options.netns;
    this.#protocol = String(protocol);
  }

  /**
   * Turns on IPv4 forwarding and sets reverse-path filtering to loose (2)
   * for `all` and `default` interfaces, so the node forwards pod traffic and
   * does not drop packets that come back on another path than they left.
   *
   * @throws {CommandError} when `sysctl` fails.
   */
  async prepare(): Promise<void> {
    await this.#run([
      "sysctl",
      "-w",
      "net.ipv4.ip_forward=1",
      "net.ipv4.conf.all.rp_filter=2",
      "net.ipv4.conf.default.rp_filter=2",
    ]);
  }

  /**
   * Makes the routes to other nodes' pods exactly those in
   * `podCidrsByNodeAddress`: `ip route replace <cidr> via <address>` for
   * every other node, and removes routes this class added before that are
   * no longer wanted. Routes anyone else added are never removed.
   *
   * @throws {TypeError} naming an address or CIDR that is not valid, or two
   *   nodes whose CIDRs overlap; nothing is changed then.
   * @throws {CommandError} when the current routes cannot be listed.
   */
  async syncRoutes(request: SyncRoutesRequest): Promise<RouteSyncReport> {
    const desired = desiredRoutes(request);
    const current = await this.list();
    const report: RouteSyncReport = { added: [], removed: [], unchanged: [], failures: [] };
    for (const route of desired) {
      if (current.some((c) => c.cidr === route.cidr && c.via === route.via)) {
        report.unchanged.push(route);
        continue;
      }
      try {
        await this.#run(["ip", "route", "replace", route.cidr, "via", route.via, "proto", this.#protocol]);
        report.added.push(route);
      } catch (error) {
        report.failures.push({ route, error: asError(error) });
      }
    }
    for (const route of current) {
      if (desired.some((d) => d.cidr === route.cidr)) continue;
      try {
        await this.#remove(route);
        report.removed.push(route);
      } catch (error) {
        report.failures.push({ route, error: asError(error) });
      }
    }
    return report;
  }

  /** The routes this class added, as the main routing table has them now. */
  async list(): Promise<HostGwRoute[]> {
    const { stdout } = await this.#run(["ip", "-j", "-4", "route", "show", "table", "main", "proto", this.#protocol]);
    const routes = stdout.trim() === "" ? [] : JSON.parse(stdout) as { dst?: string; gateway?: string }[];
    return routes.flatMap((route) => {
      if (route.dst === undefined || route.gateway === undefined) return [];
      return [{ cidr: route.dst.includes("/") ? route.dst : `${route.dst}/32`, via: route.gateway }];
    });
  }

  /** Removes every route this class added; returns them. */
  async clear(): Promise<HostGwRoute[]> {
    const routes = await this.list();
    for (const route of routes) await this.#remove(route);
    return routes;
  }

  async #remove(route: HostGwRoute): Promise<void> {
    try {
      await this.#run(["ip", "route", "del", route.cidr, "via", route.via, "proto", this.#protocol]);
    } catch (error) {
      const stillThere = (await this.list()).some((r) => r.cidr === route.cidr && r.via === route.via);
      if (stillThere) throw error;
    }
  }

  #run(cmd: string[]) {
    return this.#exec(cmd, this.#netns === undefined ? {} : { netns: this.#netns });
  }
}

/**
 * Which traffic a node masquerades: anything from the cluster's pod range
 * to an address outside it (as flannel's host-gw does), so that pod-to-pod
 * traffic across nodes keeps pod addresses.
 */
export interface MasqueradeScope {
  /** The node's pod CIDR: inside the cluster's pod range. */
  podCidr: string;
  /** The cluster's pod range: traffic from it to anywhere outside it takes the node's address. */
  clusterCidr: string;
}

/**
 * Checks and normalizes what a node's masquerade rule needs: the nftables
 * service proxy renders `ip saddr <clusterCidr> ip daddr != <clusterCidr>
 * masquerade` from it (and the bridge plugin's own masquerading stays off),
 * so pod-to-pod traffic across nodes keeps pod addresses and traffic
 * leaving the cluster takes the node's.
 *
 * @throws {TypeError} when either CIDR is not valid or the pod CIDR is not
 *   inside the cluster's.
 */
export function masqueradeScope(options: { podCidr: string; clusterCidr?: string }): MasqueradeScope {
  const cluster = parseIpv4Cidr(options.clusterCidr ?? CLUSTER_POD_CIDR, { field: 'option "clusterCidr"', minBits: 1 });
  const pod = parseIpv4Cidr(options.podCidr, { field: 'option "podCidr"', minBits: 1 });
  if (!cidrContains(cluster, pod)) {
    throw new TypeError(`Invalid option "podCidr": ${pod.text} is not inside the cluster CIDR ${cluster.text}`);
  }
  return { podCidr: pod.text, clusterCidr: cluster.text };
}

/** The validated routes a request asks for: one per other node, by CIDR. */
function desiredRoutes(request: SyncRoutesRequest): HostGwRoute[] {
  const own = parseIpv4("own address", request.own);
  const source = request.podCidrsByNodeAddress;
  const entries: [string, string][] = source instanceof Map ? [...source.entries()] : Object.entries(source ?? {});
  const parsed: { address: string; cidr: Ipv4Cidr }[] = entries.map(([address, cidr]) => ({
    address: parseIpv4("node address", address),
    cidr: parseIpv4Cidr(cidr, { field: `pod CIDR of node ${address}`, minBits: 8 }),
  }));
  for (const [i, a] of parsed.entries()) {
    for (const b of parsed.slice(i + 1)) {
      if (cidrsOverlap(a.cidr, b.cidr)) {
        throw new TypeError(
          `Invalid podCidrsByNodeAddress: node ${a.address} (${a.cidr.text}) and node ${b.address} (${b.cidr.text}) have overlapping pod CIDRs`,
        );
      }
    }
  }
  return parsed.filter((entry) => entry.address !== own).map((entry) => ({
    cidr: entry.cidr.text,
    via: entry.address,
  }));
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
