/**
 * Shared informers: one list+watch per resource type (and selector) for
 * every component in a process, as client-go's SharedInformerFactory.
 *
 * @module
 */

import type { Clock, KubeObject } from "@skiff/api";
import type { ApiClient } from "./api_client.ts";
import { Informer, type InformerOptions } from "./informer.ts";

/** Informer selection beyond the type. */
export interface InformerSelection {
  /** Only one namespace. */
  namespace?: string;
  /** Only objects with these labels. */
  labelSelector?: string;
  /** Only objects with these fields. */
  fieldSelector?: string;
}

/** Creates and starts informers shared by every caller asking for the same type and selection. */
export class SharedInformers {
  #client: ApiClient;
  #options: Omit<InformerOptions, keyof InformerSelection>;
  #informers = new Map<string, Informer>();
  #started = false;

  /** Creates a factory; informers list and watch through `client`. */
  constructor(client: ApiClient, options: { clock?: Clock; resyncMs?: number; onError?: (err: unknown) => void } = {}) {
    this.#client = client;
    this.#options = options;
  }

  /** The shared informer of a type; the same instance for the same type and selection. */
  for<T extends KubeObject = KubeObject>(
    apiVersion: string,
    kind: string,
    selection: InformerSelection = {},
  ): Informer<T> {
    const key = JSON.stringify([
      apiVersion,
      kind,
      selection.namespace ?? "",
      selection.labelSelector ?? "",
      selection.fieldSelector ?? "",
    ]);
    let informer = this.#informers.get(key);
    if (!informer) {
      informer = new Informer(this.#client.kind(apiVersion, kind), { ...this.#options, ...selection });
      this.#informers.set(key, informer);
      if (this.#started) informer.start();
    }
    return informer as unknown as Informer<T>;
  }

  /** Starts every informer made so far (and later ones as they are made); resolves when all have synced. */
  async start(): Promise<void> {
    this.#started = true;
    await Promise.all([...this.#informers.values()].map((i) => i.start()));
  }

  /** Stops every informer. */
  stop(): void {
    for (const informer of this.#informers.values()) informer.stop();
  }
}
