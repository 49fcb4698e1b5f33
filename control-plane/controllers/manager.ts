/**
 * The controller manager: runs every controller (and the scheduler, which
 * has the same shape) while this control plane holds the leader lease, so a
 * second control plane can stand by.
 *
 * @module
 */

import { type Clock, systemClock } from "@skiff/api";
import { type ApiClient, EventRecorder, LeaderElector, SharedInformers } from "@skiff/client";
import type { Controller } from "./controller.ts";

/** Options of {@linkcode ControllerManager}. */
export interface ControllerManagerOptions {
  /** The API client the controllers use. */
  client: ApiClient;
  /** The controllers to run. */
  controllers: Controller[];
  /** This instance's identity in the leader lease. */
  identity: string;
  /** Elect a leader (default true); false runs at once (tests, single instance). */
  leaderElection?: boolean;
  /** Time source. */
  clock?: Clock;
  /** Log line sink. */
  log?: (line: string) => void;
}

/** Runs controllers under leader election. */
export class ControllerManager {
  #options: ControllerManagerOptions;
  #abort = new AbortController();
  #running: Promise<void> | undefined;
  #leading = false;
  #synced = Promise.withResolvers<void>();

  /** Creates a manager; call {@linkcode ControllerManager.start}. */
  constructor(options: ControllerManagerOptions) {
    this.#options = options;
  }

  /** True while this instance leads. */
  get leading(): boolean {
    return this.#leading;
  }

  /** Resolves once this instance leads and its informers have synced. */
  get synced(): Promise<void> {
    return this.#synced.promise;
  }

  /** Starts campaigning (or running at once without leader election). */
  start(): void {
    const { client, identity } = this.#options;
    const clock = this.#options.clock ?? systemClock;
    if (this.#options.leaderElection === false) {
      this.#running = this.#lead(this.#abort.signal);
      return;
    }
    const elector = new LeaderElector(client, { name: "skiff-controller-manager", identity, clock });
    this.#running = elector.run((leadership) => this.#lead(leadership), this.#abort.signal);
  }

  async #lead(signal: AbortSignal): Promise<void> {
    const { client, controllers } = this.#options;
    const clock = this.#options.clock ?? systemClock;
    const log = this.#options.log ?? ((line: string) => console.error(line));
    const informers = new SharedInformers(client, {
      clock,
      onError: (err) => log(`Informer error: ${err instanceof Error ? err.message : err}; retrying`),
    });
    const recorder = new EventRecorder(client, {
      component: "skiff-controller-manager",
      clock,
      onError: (err) => log(`Cannot record an event: ${err instanceof Error ? err.message : err}`),
    });
    const ctx = { client, informers, recorder, clock, log };
    for (const controller of controllers) controller.setup(ctx);
    this.#leading = true;
    try {
      await informers.start();
      this.#synced.resolve();
      if (signal.aborted) return;
      await Promise.all(controllers.map((c) => c.run(signal)));
    } finally {
      this.#leading = false;
      informers.stop();
      await recorder.flush();
    }
  }

  /** Stops the controllers and gives up the lease. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#running;
  }
}
