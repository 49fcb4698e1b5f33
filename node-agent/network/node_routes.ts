/**
 * Host-gw routes that follow the cluster: {@linkcode NodeRoutes} watches
 * every Node and keeps this node's routes to the other nodes' pod CIDRs
 * (each through that node's InternalIP) equal to what the Nodes say, with
 * {@linkcode HostGwRoutes} doing the work. A node that joins gets a route,
 * one whose address or CIDR changes gets it moved, one that is deleted
 * loses it; routes stay while their node is NotReady, as flannel's do.
 *
 * @module
 */

import { SerialSync } from "./_serial_sync.ts";
import { isIPv4 } from "node:net";
import { type Clock, type Node, systemClock } from "@skiff/api";
import { type ApiClient, type Informer, SharedInformers } from "@skiff/client";
import { HostGwRoutes, type RouteSyncReport } from "./routes.ts";

/** What {@linkcode nodePodCidrs} found in the Nodes. */
export interface NodePodCidrs {
  /** Every usable node's pod CIDR by its InternalIP. */
  podCidrsByNodeAddress: Map<string, string>;
  /** Nodes left out and why, one sentence each (a node still waiting for its CIDR is not a problem). */
  problems: string[];
}

/**
 * Each Node's `spec.podCIDR` by its first IPv4 InternalIP, for
 * {@linkcode HostGwRoutes.syncRoutes}. Nodes without a pod CIDR yet are
 * skipped; nodes without an IPv4 InternalIP, and a second node claiming an
 * address already taken (the first by name keeps it), are skipped and
 * reported.
 */
export function nodePodCidrs(nodes: readonly Node[]): NodePodCidrs {
  const podCidrsByNodeAddress = new Map<string, string>();
  const owners = new Map<string, string>();
  const problems: string[] = [];
  const sorted = [...nodes].sort((a, b) => (a.metadata.name ?? "").localeCompare(b.metadata.name ?? ""));
  for (const node of sorted) {
    const name = node.metadata.name ?? "";
    const podCidr = node.spec?.podCIDR;
    if (!podCidr) continue;
    const address = node.status?.addresses?.find((a) => a.type === "InternalIP" && isIPv4(a.address))?.address;
    if (address === undefined) {
      problems.push(`Node "${name}" has no IPv4 InternalIP: no route to its pods (${podCidr})`);
      continue;
    }
    const owner = owners.get(address);
    if (owner !== undefined) {
      problems.push(
        `Node "${name}" has the InternalIP ${address} of node "${owner}": no route to its pods (${podCidr})`,
      );
      continue;
    }
    owners.set(address, name);
    podCidrsByNodeAddress.set(address, podCidr);
  }
  return { podCidrsByNodeAddress, problems };
}

/** Options of {@linkcode NodeRoutes}. */
export interface NodeRoutesOptions {
  /**
   * Where Nodes come from: a client (it makes and stops its own informer)
   * or the process's shared informers (it starts them, their owner stops them).
   */
  source: { client: ApiClient } | { informers: SharedInformers };
  /** This node's InternalIP: its own entry gets no route. */
  ownAddress: string;
  /** The routes to keep (default: a {@linkcode HostGwRoutes} in the agent's own namespace). */
  routes?: HostGwRoutes;
  /** Changes coming sooner than this after a sync are synced together (default 50 ms). */
  debounceMs?: number;
  /** First delay before syncing again after a failure; doubles up to 30 s (default 1 s). */
  retryMs?: number;
  /** Time source for the timers. */
  clock?: Clock;
  /** Where changes and problems are told (default: stderr). */
  log?: (line: string) => void;
}

const MAX_RETRY_MS = 30_000;

/**
 * This node's routes to every other node's pods, kept in step with the Nodes.
 *
 * @example
 * ```ts
 * import { ApiClient } from "@skiff/client";
 * import { NodeRoutes } from "./node_routes.ts";
 *
 * const { client } = await ApiClient.fromKubeconfig({ kubeconfig: "/var/lib/skiff/node.kubeconfig" });
 * const routes = new NodeRoutes({ source: { client }, ownAddress: "192.168.1.13" });
 * await routes.start(); // forwarding on, routes in place
 * await routes.stop(); // routes stay for the next start
 * ```
 */
export class NodeRoutes {
  readonly #informers: SharedInformers;
  readonly #ownInformers: boolean;
  readonly #nodes: Informer<Node>;
  readonly #routes: HostGwRoutes;
  readonly #own: string;
  readonly #clock: Clock;
  readonly #log: (line: string) => void;
  readonly #retryMs: number;
  readonly #syncs: SerialSync;
  #failures = 0;
  #lastProblems = "";
  #lastReport: RouteSyncReport | undefined;

  /**
   * Checks the options; nothing is watched or changed before {@linkcode start}.
   *
   * @throws {TypeError} naming the option that is not valid.
   */
  constructor(options: NodeRoutesOptions) {
    const source = options.source as { client?: ApiClient; informers?: SharedInformers } | undefined;
    if (!source || (!source.client && !source.informers)) {
      throw new TypeError('Invalid option "source": expected { client } or { informers }');
    }
    if (typeof options.ownAddress !== "string" || !isIPv4(options.ownAddress)) {
      throw new TypeError(`Invalid option "ownAddress": ${JSON.stringify(options.ownAddress)} is not an IPv4 address`);
    }
    for (const name of ["debounceMs", "retryMs"] as const) {
      const value = options[name];
      if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
        throw new TypeError(`Invalid option "${name}": ${value} is not a number of milliseconds`);
      }
    }
    this.#clock = options.clock ?? systemClock;
    this.#own = options.ownAddress;
    this.#routes = options.routes ?? new HostGwRoutes();
    this.#informers = source.informers ?? new SharedInformers(source.client!, { clock: this.#clock });
    this.#ownInformers = source.informers === undefined;
    this.#nodes = this.#informers.for<Node>("v1", "Node");
    this.#log = options.log ?? ((line) => console.error(line));
    this.#retryMs = options.retryMs ?? 1000;
    this.#syncs = new SerialSync(() => this.#syncOnce(), { clock: this.#clock, debounceMs: options.debounceMs ?? 50 });
    const changed = () => this.#syncs.request();
    this.#nodes.on({
      add: changed,
      update: (old, obj) => routeFields(old) !== routeFields(obj) && changed(),
      delete: changed,
    });
  }

  /**
   * Turns on forwarding ({@linkcode HostGwRoutes.prepare}), waits for the
   * Nodes to be listed and syncs the routes once.
   *
   * @throws {CommandError} when forwarding cannot be turned on or the routes cannot be listed (syncs keep being retried).
   */
  async start(): Promise<RouteSyncReport | undefined> {
    if (this.#syncs.stopped) throw new Error("Cannot start NodeRoutes that were stopped");
    this.#syncs.activate();
    await this.#routes.prepare();
    if (this.#ownInformers) await this.#informers.start();
    else await this.#nodes.start();
    return await this.sync();
  }

  /** How the last sync that ran went. */
  get lastSync(): RouteSyncReport | undefined {
    return this.#lastReport;
  }

  /**
   * Syncs now (after any sync under way), whether or not a Node changed.
   *
   * @throws {CommandError} when the routes cannot be listed; a retry is scheduled.
   */
  async sync(): Promise<RouteSyncReport | undefined> {
    await this.#syncs.now();
    return this.#lastReport;
  }

  /**
   * Stops following the Nodes (and the informer it made itself) and waits
   * for a sync under way. The routes stay, so pods keep reaching other
   * nodes while the agent restarts; {@linkcode HostGwRoutes.clear} removes them.
   */
  async stop(): Promise<void> {
    if (this.#syncs.stopped) return;
    const stopping = this.#syncs.stop();
    if (this.#ownInformers) this.#informers.stop();
    await stopping;
  }

  async #syncOnce(): Promise<void> {
    const { podCidrsByNodeAddress, problems } = nodePodCidrs(this.#nodes.list());
    const text = problems.join("\n");
    if (text !== this.#lastProblems) {
      this.#lastProblems = text;
      for (const problem of problems) this.#log(`Routes to other nodes' pods: ${problem}`);
    }
    let report: RouteSyncReport;
    try {
      report = await this.#routes.syncRoutes({ podCidrsByNodeAddress, own: this.#own });
    } catch (error) {
      this.#failed(`syncing them failed (${messageOf(error)})`);
      throw error;
    }
    this.#lastReport = report;
    for (const route of report.added) this.#log(`Route to pods ${route.cidr} via node ${route.via}: added`);
    for (const route of report.removed) this.#log(`Route to pods ${route.cidr} via node ${route.via}: removed`);
    if (report.failures.length > 0) {
      const what = report.failures.map((f) => `${f.route.cidr} via ${f.route.via}: ${f.error.message}`).join("; ");
      this.#failed(`some could not be changed (${what})`);
      return;
    }
    this.#failures = 0;
  }

  /** Logs a failed sync and schedules the next try with a growing delay. */
  #failed(what: string): void {
    this.#failures++;
    const delay = Math.min(MAX_RETRY_MS, this.#retryMs * 2 ** (this.#failures - 1));
    this.#log(
      `Routes to other nodes' pods: ${what}; retrying in ${Math.round(delay)} ms. ` +
        "Check that ip works on this node (ip route show).",
    );
    this.#syncs.retryIn(delay);
  }
}

/** The fields of a Node its route depends on. */
function routeFields(node: Node): string {
  return JSON.stringify([node.spec?.podCIDR, node.status?.addresses?.filter((a) => a.type === "InternalIP")]);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
