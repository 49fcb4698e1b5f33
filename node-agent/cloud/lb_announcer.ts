/**
 * The agent's half of LoadBalancer Services (L2 mode, as MetalLB's and
 * kube-vip's): for every address in a Service's
 * `status.loadBalancer.ingress`, each agent campaigns for the Lease
 * `kube-system/skiff-lb-<address with dashes>`; the holder adds the
 * address (as a /32, labelled `<iface>:lb`) to the interface that carries
 * the node's InternalIP and announces it with gratuitous ARP, so the LAN
 * sends that address's traffic to this node, where the service proxy's
 * nftables rules (which match LoadBalancer addresses like external IPs)
 * take it to the Service's endpoints. A holder that stops renewing (its
 * agent stopped, its machine down or cut off) loses the Lease once it
 * expires, within `leaseDurationSeconds` (6 s), and another Ready node
 * takes over and announces the address from its own MAC.
 *
 * Gratuitous ARP needs a raw socket, which Deno has not: the agent runs
 * `arping -U` from iputils (`apt-get install iputils-arping`), else
 * BusyBox's `arping`; without either the address still works, but
 * neighbours learn the new holder only when their ARP entry expires.
 *
 * @module
 */

import { LB_LEASE_PREFIX, type Service } from "@skiff/api";
import { type ApiClient, LeaderElector, type SharedInformers } from "@skiff/client";
import type { Clock } from "@skiff/api";
import { CommandError, type Exec } from "../_exec.ts";

/** The Lease naming the node that answers for LoadBalancer address `ip`. */
export function loadBalancerLeaseName(ip: string): string {
  return `${LB_LEASE_PREFIX}${ip.replaceAll(".", "-")}`;
}

/** The LoadBalancer addresses nodes answer for: IPv4 ingress addresses not of `Proxy` mode. */
export function announcedAddresses(services: readonly Service[]): Set<string> {
  const addresses = new Set<string>();
  for (const svc of services) {
    if (svc.spec?.type !== "LoadBalancer") continue;
    for (const ingress of svc.status?.loadBalancer?.ingress ?? []) {
      if (ingress.ip && ingress.ipMode !== "Proxy" && /^\d+\.\d+\.\d+\.\d+$/.test(ingress.ip)) {
        addresses.add(ingress.ip);
      }
    }
  }
  return addresses;
}

/** Options of {@linkcode LoadBalancerAnnouncer}. */
export interface LoadBalancerAnnouncerOptions {
  /** The API client (the node's credentials). */
  client: ApiClient;
  /** Shared informers (Services are watched). */
  informers: SharedInformers;
  /** This node's name: its identity in the Leases. */
  nodeName: string;
  /** The node's InternalIP: addresses go on the interface that has it. */
  internalIp: string;
  /** Runs `ip` and `arping`. */
  exec: Exec;
  /** Seconds a Lease is valid without renewal (default 6). */
  leaseDurationSeconds?: number;
  /** Milliseconds between Lease tries (default 1,000). */
  retryPeriodMs?: number;
  /** Time source. */
  clock?: Clock;
  /** Log line sink. */
  log: (line: string) => void;
}

interface Campaign {
  abort: AbortController;
  done: Promise<void>;
}

/** Campaigns for, holds and announces LoadBalancer addresses on this node. */
export class LoadBalancerAnnouncer {
  #options: LoadBalancerAnnouncerOptions;
  #campaigns = new Map<string, Campaign>();
  #held = new Set<string>();
  #paused = false;
  #stopped = false;
  #interface: string | undefined;
  #arpingMissing = false;

  /** Creates the announcer; call {@linkcode LoadBalancerAnnouncer.start} before the informers start. */
  constructor(options: LoadBalancerAnnouncerOptions) {
    this.#options = options;
  }

  /** The addresses this node answers for now. */
  get held(): string[] {
    return [...this.#held].sort();
  }

  /**
   * Finds the interface, removes LoadBalancer addresses a previous run
   * left on it, and follows Services. When no interface carries the
   * InternalIP it says so and announces nothing.
   */
  async start(): Promise<void> {
    const iface = await this.#findInterface();
    if (!iface) {
      this.#options.log(
        `LoadBalancer: no interface has the node's InternalIP ${this.#options.internalIp}, so this node answers for no LoadBalancer address; pass --node-ip with an address of this machine`,
      );
      return;
    }
    this.#interface = iface;
    for (const ip of await this.#ownAddresses(iface)) {
      await this.#removeAddress(ip);
      this.#options.log(`LoadBalancer: removed ${ip} from ${iface}, left by an earlier run`);
    }
    const services = this.#options.informers.for<Service>("v1", "Service");
    const sync = () => this.#sync(announcedAddresses(services.list()));
    services.on({ add: sync, update: sync, delete: sync });
  }

  /** Gives up every address and stops campaigning (before the machine sleeps). */
  async pause(): Promise<void> {
    this.#paused = true;
    await this.#endAll();
  }

  /** Campaigns again after {@linkcode LoadBalancerAnnouncer.pause}. */
  resume(): void {
    this.#paused = false;
    const services = this.#options.informers.for<Service>("v1", "Service");
    this.#sync(announcedAddresses(services.list()));
  }

  /** Gives up every address (releasing the Leases so another node takes over at once). */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#endAll();
  }

  async #endAll(): Promise<void> {
    const campaigns = [...this.#campaigns.values()];
    this.#campaigns.clear();
    for (const c of campaigns) c.abort.abort();
    await Promise.all(campaigns.map((c) => c.done));
  }

  #sync(wanted: Set<string>): void {
    if (this.#paused || this.#stopped) return;
    for (const [ip, campaign] of this.#campaigns) {
      if (!wanted.has(ip)) {
        this.#campaigns.delete(ip);
        campaign.abort.abort();
      }
    }
    for (const ip of wanted) {
      if (this.#campaigns.has(ip)) continue;
      const abort = new AbortController();
      const { client, nodeName, clock } = this.#options;
      const duration = this.#options.leaseDurationSeconds ?? 6;
      const elector = new LeaderElector(client, {
        name: loadBalancerLeaseName(ip),
        identity: nodeName,
        leaseDurationSeconds: duration,
        renewDeadlineMs: Math.max(1_000, duration * 1000 - 2_000),
        retryPeriodMs: this.#options.retryPeriodMs ?? 1_000,
        ...(clock ? { clock } : {}),
      });
      const done = elector.run((leadership) => this.#hold(ip, leadership), abort.signal).catch((err) => {
        this.#options.log(`LoadBalancer: campaign for ${ip} failed: ${(err as Error).message}`);
      });
      this.#campaigns.set(ip, { abort, done });
    }
  }

  async #hold(ip: string, leadership: AbortSignal): Promise<void> {
    const iface = this.#interface!;
    const { log } = this.#options;
    try {
      await this.#options.exec(["ip", "-4", "addr", "replace", `${ip}/32`, "dev", iface, ...this.#label(iface)]);
    } catch (err) {
      log(`LoadBalancer: cannot add ${ip} to ${iface}: ${(err as Error).message}; another node may take it`);
      return;
    }
    this.#held.add(ip);
    log(`LoadBalancer: this node now answers for ${ip} on ${iface}`);
    await this.#announce(ip, iface);
    await new Promise<void>((resolve) => {
      if (leadership.aborted) return resolve();
      leadership.addEventListener("abort", () => resolve(), { once: true });
    });
    this.#held.delete(ip);
    await this.#removeAddress(ip).catch((err) =>
      log(`LoadBalancer: cannot remove ${ip} from ${iface}: ${(err as Error).message}; remove it with ip addr del`)
    );
    log(`LoadBalancer: this node no longer answers for ${ip}`);
  }

  #label(iface: string): string[] {
    return iface.length <= 12 ? ["label", `${iface}:lb`] : [];
  }

  async #announce(ip: string, iface: string): Promise<void> {
    if (this.#arpingMissing) return;
    const args = ["-U", "-c", "2", "-I", iface, "-s", ip, ip];
    for (const cmd of [["arping", ...args], ["busybox", "arping", ...args]]) {
      try {
        await this.#options.exec(cmd, { check: false, timeoutMs: 5_000 });
        return;
      } catch (err) {
        if (!(err instanceof CommandError) || err.code !== undefined) return;
      }
    }
    this.#arpingMissing = true;
    this.#options.log(
      "LoadBalancer: no arping to announce addresses with gratuitous ARP: install iputils-arping (apt-get install iputils-arping); until then neighbours find a moved address only when their ARP entry expires",
    );
  }

  async #removeAddress(ip: string): Promise<void> {
    await this.#options.exec(["ip", "-4", "addr", "del", `${ip}/32`, "dev", this.#interface!], { check: false });
  }

  async #findInterface(): Promise<string | undefined> {
    const { stdout } = await this.#options.exec(["ip", "-j", "-4", "addr", "show"]);
    const links = JSON.parse(stdout || "[]") as { ifname: string; addr_info?: { local?: string }[] }[];
    return links.find((l) => l.addr_info?.some((a) => a.local === this.#options.internalIp))?.ifname;
  }

  async #ownAddresses(iface: string): Promise<string[]> {
    if (this.#label(iface).length === 0) return [];
    const { stdout } = await this.#options.exec(["ip", "-j", "-4", "addr", "show", "dev", iface]);
    const links = JSON.parse(stdout || "[]") as {
      addr_info?: { local?: string; prefixlen?: number; label?: string }[];
    }[];
    return links.flatMap((l) =>
      (l.addr_info ?? []).filter((a) => a.label === `${iface}:lb` && a.prefixlen === 32 && a.local).map((a) => a.local!)
    );
  }
}
