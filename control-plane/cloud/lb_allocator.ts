/**
 * LoadBalancer address allocation that is never handed out twice. Every
 * allocation is one entry of the ConfigMap `kube-system/skiff-lb-allocations`
 * (`data["192.168.1.240"] = "<namespace>/<name>/<uid>"`), and every change
 * is an update carrying the resourceVersion it read: the store's
 * compare-and-swap refuses a write made from a stale read (409 Conflict),
 * so of two Services claiming the same address at the same moment exactly
 * one gets it, and the other tries again with the next free one. The same
 * holds across processes (a second control plane taking over leadership).
 *
 * @module
 */

import { AlreadyExistsError, ConflictError, type KubeObject, NotFoundError } from "@skiff/api";
import type { ApiClient } from "@skiff/client";
import type { AddressPool } from "./address_pool.ts";
import { LoadBalancerError } from "./provider.ts";

/** The namespace of the allocation record. */
export const LB_ALLOCATIONS_NAMESPACE = "kube-system";
/** The ConfigMap holding every LoadBalancer address allocation. */
export const LB_ALLOCATIONS_CONFIGMAP = "skiff-lb-allocations";

/** Who holds an address. */
export interface AddressHolder {
  /** The Service's namespace. */
  namespace: string;
  /** The Service's name. */
  name: string;
  /** The Service's uid. */
  uid: string;
}

/** What {@linkcode LoadBalancerAllocator.allocate} is asked. */
export interface AllocationRequest extends AddressHolder {
  /** `spec.loadBalancerIP`, when the Service asks for one. */
  requested?: string;
}

/** What an allocation gave. */
export interface Allocation {
  /** The address. */
  ip: string;
  /** Whether this call claimed it (false: the Service held it already). */
  claimed: boolean;
  /** The address the Service held before and gave up, when it moved. */
  released?: string;
}

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

const ATTEMPTS = 50;

function encode(holder: AddressHolder): string {
  return `${holder.namespace}/${holder.name}/${holder.uid}`;
}

function decode(value: string): AddressHolder | undefined {
  const [namespace, name, uid] = value.split("/");
  return namespace && name && uid ? { namespace, name, uid } : undefined;
}

/** Allocates LoadBalancer addresses from a pool, recording them through the API. */
export class LoadBalancerAllocator {
  #configMaps;

  /** Creates an allocator writing through `client`. */
  constructor(client: ApiClient) {
    this.#configMaps = client.kind<ConfigMap>("v1", "ConfigMap");
  }

  /** Every allocation now: address to holder. */
  async allocations(): Promise<Map<string, AddressHolder>> {
    const record = await this.#read();
    return this.#entries(record);
  }

  /**
   * The address of the Service, claimed now if needed: the one it holds
   * when that is still in the pool and matches `requested`; else
   * `requested`; else the first free address of the pool.
   *
   * @throws {LoadBalancerError} `NoAddressPool`, `LoadBalancerIPNotInPool`, `LoadBalancerIPInUse` or
   * `AddressPoolExhausted`, with a message saying what to do
   */
  allocate(request: AllocationRequest, pool: AddressPool): Promise<Allocation> {
    return this.#change((data) => {
      const mine = encode(request);
      const held = Object.entries(data).find(([, value]) => value === mine)?.[0];
      const { requested } = request;
      if (held && pool.contains(held) && (!requested || requested === held)) return { ip: held, claimed: false };
      if (pool.size === 0) {
        throw new LoadBalancerError(
          "NoAddressPool",
          'No LoadBalancer address pool is configured: start the control plane with --lb-pool (e.g. 192.168.1.240-192.168.1.250) or put the addresses in the ConfigMap kube-system/skiff-lb-pool (key "addresses")',
        );
      }
      let ip: string | undefined;
      if (requested) {
        if (!pool.contains(requested)) {
          throw new LoadBalancerError(
            "LoadBalancerIPNotInPool",
            `Requested loadBalancerIP "${requested}" is not in the address pool (${pool.text}): ask for an address of the pool or leave spec.loadBalancerIP empty`,
          );
        }
        const holder = data[requested];
        if (holder !== undefined && holder !== mine) {
          const other = decode(holder);
          throw new LoadBalancerError(
            "LoadBalancerIPInUse",
            `Requested loadBalancerIP "${requested}" is in use by Service "${
              other ? `${other.namespace}/${other.name}` : holder
            }": ask for another address or leave spec.loadBalancerIP empty`,
          );
        }
        ip = requested;
      } else {
        for (const candidate of pool.addresses()) {
          if (data[candidate] === undefined) {
            ip = candidate;
            break;
          }
        }
        if (!ip) {
          throw new LoadBalancerError(
            "AddressPoolExhausted",
            `Every address of the LoadBalancer pool (${pool.text}, ${pool.size} addresses) is in use: add addresses to the pool or delete a LoadBalancer Service`,
          );
        }
      }
      if (held) delete data[held];
      data[ip] = mine;
      return { ip, claimed: true, ...(held ? { released: held } : {}) };
    }, (allocation) => allocation.claimed);
  }

  /**
   * Releases what the Service `namespace/name` holds (only what uid `uid`
   * holds, when given); returns the addresses released.
   */
  release(service: { namespace: string; name: string; uid?: string }): Promise<string[]> {
    return this.#change((data) => {
      const released: string[] = [];
      for (const [ip, value] of Object.entries(data)) {
        const holder = decode(value);
        if (!holder || holder.namespace !== service.namespace || holder.name !== service.name) continue;
        if (service.uid && holder.uid !== service.uid) continue;
        delete data[ip];
        released.push(ip);
      }
      return released;
    }, (released) => released.length > 0);
  }

  /** Releases every allocation whose holder's uid `keep` rejects; returns the addresses released. */
  releaseUnless(keep: (holder: AddressHolder) => boolean): Promise<string[]> {
    return this.#change((data) => {
      const released: string[] = [];
      for (const [ip, value] of Object.entries(data)) {
        const holder = decode(value);
        if (holder && keep(holder)) continue;
        delete data[ip];
        released.push(ip);
      }
      return released;
    }, (released) => released.length > 0);
  }

  #entries(record: ConfigMap | undefined): Map<string, AddressHolder> {
    const entries = new Map<string, AddressHolder>();
    for (const [ip, value] of Object.entries(record?.data ?? {})) {
      const holder = decode(value);
      if (holder) entries.set(ip, holder);
    }
    return entries;
  }

  async #read(): Promise<ConfigMap | undefined> {
    try {
      return await this.#configMaps.get(LB_ALLOCATIONS_CONFIGMAP, { namespace: LB_ALLOCATIONS_NAMESPACE });
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  /**
   * Reads the record, lets `edit` change its data, and writes it back with
   * the revision read (or creates it); starts over when another writer got
   * there first. `changed` says whether there is anything to write.
   */
  async #change<T>(
    edit: (data: Record<string, string>) => T,
    changed: (result: T) => boolean = () => true,
  ): Promise<T> {
    for (let attempt = 1;; attempt++) {
      const record = await this.#read();
      const data = { ...(record?.data ?? {}) };
      const result = edit(data);
      if (!changed(result)) return result;
      try {
        if (record) {
          await this.#configMaps.update({ ...record, data });
        } else {
          await this.#configMaps.create({
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: {
              name: LB_ALLOCATIONS_CONFIGMAP,
              namespace: LB_ALLOCATIONS_NAMESPACE,
              labels: { "app.kubernetes.io/managed-by": "skiff-cloud-controller" },
            },
            data,
          });
        }
        return result;
      } catch (err) {
        const raced = err instanceof ConflictError || err instanceof AlreadyExistsError ||
          (err instanceof NotFoundError && record !== undefined);
        if (!raced || attempt >= ATTEMPTS) throw err;
      }
    }
  }
}
