/**
 * Reads the objects a pod refers to (ConfigMaps, Secrets, claims, volumes,
 * Services, the node's allocatable resources) with the node's credentials:
 * GET by name, which is all NodeRestriction lets a node do with Secrets.
 * One reader serves one sync: each object is fetched at most once per sync,
 * so a sync sees one consistent version of it.
 *
 * @module
 */

import {
  type ConfigMap,
  type KubeObject,
  type Node,
  NotFoundError,
  type PersistentVolume,
  type PersistentVolumeClaim,
  type ResourceList,
  type Secret,
  type Service,
} from "@skiff/api";
import type { ApiClient } from "@skiff/client";

/** Fetches referenced objects, each once. */
export class ObjectReader {
  readonly #client: ApiClient;
  readonly #nodeName: string;
  readonly #memo = new Map<string, Promise<unknown>>();

  /** Creates a reader for one sync. */
  constructor(client: ApiClient, nodeName: string) {
    this.#client = client;
    this.#nodeName = nodeName;
  }

  #once<T>(key: string, load: () => Promise<T>): Promise<T> {
    let p = this.#memo.get(key) as Promise<T> | undefined;
    if (!p) {
      p = load();
      this.#memo.set(key, p);
    }
    return p;
  }

  #get<T extends KubeObject>(kind: string, namespace: string | undefined, name: string): Promise<T | undefined> {
    return this.#once(`${kind}/${namespace ?? ""}/${name}`, async () => {
      if (!name) return undefined;
      try {
        return await this.#client.kind<T>("v1", kind).get(name, namespace ? { namespace } : {});
      } catch (error) {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      }
    });
  }

  /** A ConfigMap, or undefined when it does not exist. */
  configMap(namespace: string, name: string): Promise<ConfigMap | undefined> {
    return this.#get<ConfigMap>("ConfigMap", namespace, name);
  }

  /** A Secret, or undefined when it does not exist. */
  secret(namespace: string, name: string): Promise<Secret | undefined> {
    return this.#get<Secret>("Secret", namespace, name);
  }

  /** A PersistentVolumeClaim, or undefined when it does not exist. */
  claim(namespace: string, name: string): Promise<PersistentVolumeClaim | undefined> {
    return this.#get<PersistentVolumeClaim>("PersistentVolumeClaim", namespace, name);
  }

  /** A PersistentVolume, or undefined when it does not exist. */
  volume(name: string): Promise<PersistentVolume | undefined> {
    return this.#get<PersistentVolume>("PersistentVolume", undefined, name);
  }

  /** The Services of a namespace and `default`'s `kubernetes` Service. */
  services(namespace: string): Promise<Service[]> {
    return this.#once(`Services/${namespace}`, async () => {
      const services = this.#client.kind<Service>("v1", "Service");
      const own = (await services.list({ namespace })).items;
      if (namespace === "default") return own;
      try {
        return [...own, await services.get("kubernetes", { namespace: "default" })];
      } catch (error) {
        if (error instanceof NotFoundError) return own;
        throw error;
      }
    });
  }

  /** The node's allocatable resources (capacity when allocatable is not reported). */
  allocatable(): Promise<ResourceList> {
    return this.#once("allocatable", async () => {
      const node = await this.#get<Node>("Node", undefined, this.#nodeName);
      return { ...node?.status?.capacity, ...node?.status?.allocatable };
    });
  }
}
