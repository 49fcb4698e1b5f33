/**
 * The homelab cloud provider. Load balancers are addresses of the LAN
 * taken from a pool (`--lb-pool`, or at run time the ConfigMap
 * `kube-system/skiff-lb-pool`, key `addresses`, which replaces the flag's
 * pool while it exists); one Ready node, the holder of the Lease
 * `kube-system/skiff-lb-<address>`, answers for each address (its agent
 * adds it to its interface and announces it with gratuitous ARP).
 * Machines are the Nodes as their agents report them; power is a node
 * annotation the node's agent acts on (`systemctl suspend` or `poweroff`)
 * and a Wake-on-LAN magic packet.
 *
 * @module
 */

import {
  ANNOTATION_POWER_MAC,
  ANNOTATION_POWER_SLEEP_MODE,
  ANNOTATION_POWER_SLEEP_REQUEST,
  ANNOTATION_POWER_STATE,
  type Clock,
  type KubeObject,
  LABEL_WAKE_ON_LAN,
  type Node,
  type Service,
  systemClock,
} from "@skiff/api";
import type { ApiClient } from "@skiff/client";
import { type AddressPool, EMPTY_POOL, parseAddressPool } from "./address_pool.ts";
import { LoadBalancerAllocator } from "./lb_allocator.ts";
import type {
  CloudProvider,
  InstanceMetadata,
  Instances,
  LoadBalancer,
  LoadBalancerStatus,
  Power,
  ProviderContext,
  SleepMode,
} from "./provider.ts";
import { parseMac, sendWakeOnLan } from "./wake_on_lan.ts";

/** The namespace of the pool ConfigMap. */
export const LB_POOL_NAMESPACE = "kube-system";
/** The ConfigMap whose `addresses` key, when present, is the LoadBalancer pool. */
export const LB_POOL_CONFIGMAP = "skiff-lb-pool";
/** The key of {@linkcode LB_POOL_CONFIGMAP} holding the pool. */
export const LB_POOL_KEY = "addresses";

/** Options of {@linkcode HomelabProvider}. */
export interface HomelabProviderOptions {
  /** The API client. */
  client: ApiClient;
  /** The pool from `--lb-pool`, as text (default: none). */
  lbPool?: string;
  /** Sends a Wake-on-LAN packet to a MAC address (default: a UDP broadcast to 255.255.255.255:9). */
  wakeOnLan?: (mac: string) => Promise<void>;
  /** Time source (sleep request ids). */
  clock?: Clock;
}

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

/** The homelab: a LAN address pool, machines on a shelf, and their power. */
export class HomelabProvider implements CloudProvider {
  /** `homelab`. */
  readonly name = "homelab";
  #client: ApiClient;
  #flagPool: AddressPool;
  #configPool: AddressPool | undefined;
  #allocator: LoadBalancerAllocator;
  #wakeOnLan: (mac: string) => Promise<void>;
  #clock: Clock;

  /**
   * Creates the provider.
   *
   * @throws {TypeError} when `lbPool` is not a valid pool, naming `--lb-pool` and the entry
   */
  constructor(options: HomelabProviderOptions) {
    this.#client = options.client;
    this.#flagPool = options.lbPool ? parseAddressPool(options.lbPool, "--lb-pool") : EMPTY_POOL;
    this.#allocator = new LoadBalancerAllocator(options.client);
    this.#wakeOnLan = options.wakeOnLan ?? ((mac) => sendWakeOnLan(mac));
    this.#clock = options.clock ?? systemClock;
  }

  /** The pool in force: the ConfigMap's while it exists and is valid, else `--lb-pool`'s. */
  get pool(): AddressPool {
    return this.#configPool ?? this.#flagPool;
  }

  /** The allocator (what every address is held by). */
  get allocator(): LoadBalancerAllocator {
    return this.#allocator;
  }

  /**
   * Follows the pool ConfigMap: a change takes effect at once and every
   * LoadBalancer Service is looked at again; a ConfigMap that does not
   * parse is reported (Event and log) and the pool in force is kept.
   */
  initialize(context: ProviderContext): void {
    const { informers, recorder, log, resync } = context;
    const apply = (cm: ConfigMap | undefined) => {
      if (cm && cm.metadata.name !== LB_POOL_CONFIGMAP) return;
      const before = this.pool.text;
      if (!cm || cm.data?.[LB_POOL_KEY] === undefined) {
        this.#configPool = undefined;
      } else {
        try {
          this.#configPool = parseAddressPool(
            cm.data[LB_POOL_KEY],
            `ConfigMap ${LB_POOL_NAMESPACE}/${LB_POOL_CONFIGMAP} key "${LB_POOL_KEY}"`,
          );
        } catch (err) {
          const why = `${(err as Error).message}; keeping the pool in force (${before || "none"})`;
          recorder.event(cm, "Warning", "InvalidAddressPool", why);
          log(`Cloud controller: ${why}`);
          return;
        }
      }
      if (this.pool.text !== before) {
        log(
          `Cloud controller: LoadBalancer address pool is now ${
            this.pool.text || "empty"
          } (${this.pool.size} addresses)`,
        );
        resync();
      }
    };
    informers.for<ConfigMap>("v1", "ConfigMap", { namespace: LB_POOL_NAMESPACE }).on({
      add: (cm) => apply(cm),
      update: (old, cm) => old !== cm && apply(cm),
      delete: (cm) => cm.metadata.name === LB_POOL_CONFIGMAP && apply(undefined),
    });
  }

  /** Load balancers from the address pool. */
  loadBalancer(): LoadBalancer {
    return {
      getLoadBalancer: async (service: Service): Promise<LoadBalancerStatus | undefined> => {
        const { namespace = "", name = "", uid = "" } = service.metadata;
        for (const [ip, holder] of await this.#allocator.allocations()) {
          if (holder.namespace === namespace && holder.name === name && holder.uid === uid) {
            return { ingress: [{ ip, ipMode: "VIP" }] };
          }
        }
        return undefined;
      },
      ensureLoadBalancer: async (service: Service): Promise<LoadBalancerStatus> => {
        const { namespace = "", name = "", uid = "" } = service.metadata;
        const requested = service.spec?.loadBalancerIP;
        const allocation = await this.#allocator.allocate(
          { namespace, name, uid, ...(requested ? { requested } : {}) },
          this.pool,
        );
        return { ingress: [{ ip: allocation.ip, ipMode: "VIP" }] };
      },
      ensureLoadBalancerDeleted: async (service) => {
        await this.#allocator.release(service);
      },
      garbageCollect: (keep) => this.#allocator.releaseUnless(keep),
    };
  }

  /** The machines, as their agents report them. */
  instances(): Instances {
    return {
      instanceShutdown: (node) => node.metadata.annotations?.[ANNOTATION_POWER_STATE] === "Sleeping",
      instanceMetadata: (node): InstanceMetadata => {
        const mac = node.metadata.annotations?.[ANNOTATION_POWER_MAC];
        return {
          providerID: `skiff://${node.metadata.name}`,
          nodeAddresses: node.status?.addresses ?? [],
          ...(mac ? { macAddress: mac } : {}),
        };
      },
    };
  }

  /** Sleep through the node's agent, waking by Wake-on-LAN. */
  power(): Power {
    return {
      canSleep: (node) => {
        if (node.metadata.labels?.[LABEL_WAKE_ON_LAN] !== "true") return false;
        try {
          parseMac(node.metadata.annotations?.[ANNOTATION_POWER_MAC] ?? "");
          return true;
        } catch {
          return false;
        }
      },
      sleep: async (node: Node, mode: SleepMode) => {
        await this.#client.kind<Node>("v1", "Node").patch(node.metadata.name!, {
          metadata: {
            annotations: {
              [ANNOTATION_POWER_STATE]: "Sleeping",
              [ANNOTATION_POWER_SLEEP_MODE]: mode,
              [ANNOTATION_POWER_SLEEP_REQUEST]: new Date(this.#clock.now()).toISOString(),
            },
          },
        });
      },
      wake: async (node: Node) => {
        const mac = node.metadata.annotations?.[ANNOTATION_POWER_MAC] ?? "";
        await this.#wakeOnLan(mac);
        await this.#client.kind<Node>("v1", "Node").patch(node.metadata.name!, {
          metadata: { annotations: { [ANNOTATION_POWER_STATE]: "Waking" } },
        });
      },
    };
  }
}
