/**
 * Leader election on a coordination.k8s.io Lease, as client-go's: the
 * leader renews the lease every retry period; a candidate takes it over once
 * it has not been renewed for its duration. A leader that cannot renew
 * within the renew deadline steps down.
 *
 * @module
 */

import { AlreadyExistsError, type Clock, ConflictError, type KubeObject, NotFoundError, systemClock } from "@skiff/api";
import type { ApiClient } from "./api_client.ts";

/** Options of {@linkcode LeaderElector}. */
export interface LeaderElectionOptions {
  /** Lease namespace (default kube-system). */
  namespace?: string;
  /** Lease name, e.g. `skiff-controller-manager`. */
  name: string;
  /** This candidate's identity. */
  identity: string;
  /** Seconds a lease is valid without renewal (default 15). */
  leaseDurationSeconds?: number;
  /** Milliseconds the leader keeps trying to renew before stepping down (default 10,000). */
  renewDeadlineMs?: number;
  /** Milliseconds between tries (default 2,000). */
  retryPeriodMs?: number;
  /** Time source. */
  clock?: Clock;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

function microTime(ms: number): string {
  return new Date(ms).toISOString().replace("Z", "000Z");
}

/** Runs a function only while this process holds the lease. */
export class LeaderElector {
  #client: ApiClient;
  #options: Required<LeaderElectionOptions>;
  #clock: Clock;

  /** Creates an elector. */
  constructor(client: ApiClient, options: LeaderElectionOptions) {
    this.#client = client;
    this.#clock = options.clock ?? systemClock;
    this.#options = {
      namespace: "kube-system",
      leaseDurationSeconds: 15,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      clock: this.#clock,
      ...options,
    };
  }

  /**
   * Campaigns until `signal` aborts: whenever this candidate leads, calls
   * `lead(leadership)` and aborts `leadership` when the lease is lost.
   */
  async run(lead: (leadership: AbortSignal) => Promise<void> | void, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      if (!(await this.#tryAcquireOrRenew())) {
        await this.#sleep(this.#options.retryPeriodMs, signal);
        continue;
      }
      const leadership = new AbortController();
      const stop = () => leadership.abort();
      signal.addEventListener("abort", stop, { once: true });
      const leading = Promise.resolve(lead(leadership.signal)).catch(() => {});
      let lastRenew = this.#clock.now();
      while (!leadership.signal.aborted) {
        await this.#sleep(this.#options.retryPeriodMs, leadership.signal);
        if (leadership.signal.aborted) break;
        if (await this.#tryAcquireOrRenew()) lastRenew = this.#clock.now();
        else if (this.#clock.now() - lastRenew > this.#options.renewDeadlineMs) leadership.abort();
      }
      signal.removeEventListener("abort", stop);
      await leading;
      if (signal.aborted) await this.#release();
    }
  }

  #sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const handle = this.#clock.setTimeout(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        this.#clock.clearTimeout(handle);
        resolve();
      };
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const leases = this.#client.kind("coordination.k8s.io/v1", "Lease");
    const { name, namespace, identity, leaseDurationSeconds } = this.#options;
    const now = this.#clock.now();
    try {
      let lease: KubeObject;
      try {
        lease = await leases.get(name, { namespace });
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
        await leases.create({
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds,
            acquireTime: microTime(now),
            renewTime: microTime(now),
            leaseTransitions: 0,
          },
        });
        return true;
      }
      const spec = (lease.spec ?? {}) as LeaseSpec;
      const renewed = spec.renewTime ? Date.parse(spec.renewTime) : 0;
      const expired = renewed + (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000 < now;
      const mine = spec.holderIdentity === identity;
      if (!mine && spec.holderIdentity && !expired) return false;
      const next: LeaseSpec = {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds,
        renewTime: microTime(now),
      };
      if (!mine) {
        next.acquireTime = microTime(now);
        next.leaseTransitions = (spec.leaseTransitions ?? 0) + 1;
      }
      await leases.update({ ...lease, spec: next });
      return true;
    } catch (err) {
      if (err instanceof ConflictError || err instanceof AlreadyExistsError) return false;
      return false;
    }
  }

  async #release(): Promise<void> {
    const leases = this.#client.kind("coordination.k8s.io/v1", "Lease");
    try {
      const lease = await leases.get(this.#options.name, { namespace: this.#options.namespace });
      const spec = (lease.spec ?? {}) as LeaseSpec;
      if (spec.holderIdentity !== this.#options.identity) return;
      await leases.update({ ...lease, spec: { ...spec, holderIdentity: "", renewTime: microTime(0) } });
    } catch {
      // Releasing is a courtesy: the lease expires anyway.
    }
  }
}
