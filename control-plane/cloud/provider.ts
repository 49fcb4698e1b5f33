/**
 * The cloud provider interface, in the shape of Kubernetes'
 * `cloudprovider.Interface`: what a cluster asks of the world it runs in.
 * A provider may offer load balancers (`LoadBalancer`: an address per
 * Service), instances (`InstancesV2`: a machine's addresses and whether it
 * is shut down) and, beyond Kubernetes, power (put a machine to sleep,
 * wake it). Skiff's one provider is the homelab ({@linkcode HomelabProvider}
 * in `homelab_provider.ts`): a LAN, a shelf of machines and a power bill.
 *
 * @module
 */

import type { LoadBalancerIngress, Node, NodeAddress, Service } from "@skiff/api";
import type { EventRecorder, SharedInformers } from "@skiff/client";

/** What a load balancer looks like from outside: its addresses. */
export interface LoadBalancerStatus {
  /** The addresses it is reachable at. */
  ingress: LoadBalancerIngress[];
}

/**
 * Why a load balancer could not be made, as a reason an Event and a
 * condition carry: `NoAddressPool`, `AddressPoolExhausted`,
 * `LoadBalancerIPNotInPool`, `LoadBalancerIPInUse`.
 */
export class LoadBalancerError extends Error {
  /** Machine-readable reason (CamelCase). */
  readonly reason: string;

  /** Creates the error. */
  constructor(reason: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LoadBalancerError";
    this.reason = reason;
  }
}

/** Load balancers, as Kubernetes' `cloudprovider.LoadBalancer`. */
export interface LoadBalancer {
  /** The load balancer of `service` as it is now; `undefined` when it has none. */
  getLoadBalancer(service: Service): Promise<LoadBalancerStatus | undefined>;
  /**
   * Makes (or keeps) the load balancer of `service` and says where it is
   * reachable. (In a homelab the nodes elect among themselves which one
   * answers for an address, so the provider is not told the nodes.)
   *
   * @throws {LoadBalancerError} when it cannot, with the reason
   */
  ensureLoadBalancer(service: Service): Promise<LoadBalancerStatus>;
  /** Removes the load balancer of the Service `namespace/name` (uid `uid`, when known); no error when it has none. */
  ensureLoadBalancerDeleted(service: { namespace: string; name: string; uid?: string }): Promise<void>;
  /**
   * Removes every load balancer whose Service `keep` rejects (Services
   * deleted while no controller watched); returns the addresses freed.
   */
  garbageCollect(keep: (service: { namespace: string; name: string; uid: string }) => boolean): Promise<string[]>;
}

/** What a provider knows about a machine, as Kubernetes' `InstanceMetadata`. */
export interface InstanceMetadata {
  /** `skiff://<node name>`. */
  providerID: string;
  /** Its addresses: InternalIP and Hostname, and ExternalIP when configured. */
  nodeAddresses: NodeAddress[];
  /** The MAC address it wakes on, when it reports one. */
  macAddress?: string;
}

/** Machines, as Kubernetes' `cloudprovider.InstancesV2`. */
export interface Instances {
  /** Whether the machine behind `node` is shut down (asleep) rather than broken. */
  instanceShutdown(node: Node): boolean;
  /** What is known about the machine behind `node`. */
  instanceMetadata(node: Node): InstanceMetadata;
}

/** How a machine is put to sleep. */
export type SleepMode = "suspend" | "poweroff";

/** Power on demand: machines sleep when idle and wake when work arrives. */
export interface Power {
  /** Whether `node` can be put to sleep and woken again (it opted in and reported how to wake it). */
  canSleep(node: Node): boolean;
  /** Asks the machine behind `node` to sleep (after it was cordoned and drained). */
  sleep(node: Node, mode: SleepMode): Promise<void>;
  /** Wakes the machine behind `node`. */
  wake(node: Node): Promise<void>;
}

/** What a provider gets from the controllers that use it (Kubernetes' `Initialize`). */
export interface ProviderContext {
  /** The informers shared by the controllers. */
  informers: SharedInformers;
  /** Event recorder. */
  recorder: EventRecorder;
  /** Log line sink. */
  log: (line: string) => void;
  /** Asks the load balancer controller to look at every LoadBalancer Service again. */
  resync: () => void;
}

/** A cloud provider, as Kubernetes' `cloudprovider.Interface`; each part is optional. */
export interface CloudProvider {
  /** Its name, e.g. `homelab`. */
  readonly name: string;
  /** Registers what it follows on the controllers' informers, before they start (Kubernetes' `Initialize`). */
  initialize?(context: ProviderContext): void;
  /** Its load balancers, if it offers them. */
  loadBalancer(): LoadBalancer | undefined;
  /** Its machines. */
  instances(): Instances;
  /** Power on demand, if it offers it. */
  power(): Power | undefined;
}
