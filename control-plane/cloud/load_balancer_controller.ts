/**
 * The service controller of the cloud controller manager: every Service
 * of type LoadBalancer (without a `loadBalancerClass`, or with Skiff's)
 * gets a load balancer from the provider, and its address in
 * `status.loadBalancer.ingress`; a Service deleted, or no longer of that
 * type, gives its address back. What happened is told as Events on the
 * Service, and the condition `LoadBalancerAllocated` says whether it has
 * an address and, if not, why (a requested `loadBalancerIP` refused, an
 * exhausted pool, no pool at all).
 *
 * @module
 */

import type { Condition, Service, ServiceStatus } from "@skiff/api";
import { type Informer, objectKey } from "@skiff/client";
import { type ControllerContext, QueueController } from "../controllers/mod.ts";
import { type CloudProvider, type LoadBalancer, LoadBalancerError, type LoadBalancerStatus } from "./provider.ts";

/** The `spec.loadBalancerClass` of Skiff's load balancers (a Service without a class gets one too). */
export const LOAD_BALANCER_CLASS = "skiff.dev/homelab";
/** The Service condition saying whether it has a load balancer address. */
export const CONDITION_LB_ALLOCATED = "LoadBalancerAllocated";

/** Whether `service` wants a load balancer from Skiff. */
export function wantsLoadBalancer(service: Service): boolean {
  const spec = service.spec ?? {};
  return spec.type === "LoadBalancer" && !service.metadata.deletionTimestamp &&
    (!spec.loadBalancerClass || spec.loadBalancerClass === LOAD_BALANCER_CLASS);
}

function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/** Options of {@linkcode LoadBalancerController}. */
export interface LoadBalancerControllerOptions {
  /** The provider; without load balancers the controller does nothing. */
  provider: CloudProvider;
  /** Milliseconds between sweeps releasing addresses of Services that are gone (default 30,000). */
  sweepIntervalMs?: number;
}

/** Gives LoadBalancer Services their addresses, and takes them back. */
export class LoadBalancerController extends QueueController {
  #provider: CloudProvider;
  #lb: LoadBalancer | undefined;
  #sweepMs: number;
  #services: Informer<Service> | undefined;

  /** Creates the controller. */
  constructor(options: LoadBalancerControllerOptions) {
    super("load-balancer", 2);
    this.#provider = options.provider;
    this.#lb = options.provider.loadBalancer();
    this.#sweepMs = options.sweepIntervalMs ?? 30_000;
  }

  protected register(ctx: ControllerContext): void {
    const services = ctx.informers.for<Service>("v1", "Service");
    this.#services = services;
    services.on({
      add: (svc) => this.enqueue(objectKey(svc)),
      update: (_old, svc) => this.enqueue(objectKey(svc)),
      delete: (svc) => this.enqueue(objectKey(svc)),
    });
    this.#provider.initialize?.({
      informers: ctx.informers,
      recorder: ctx.recorder,
      log: ctx.log,
      resync: () => {
        for (const svc of services.list()) if (wantsLoadBalancer(svc)) this.enqueue(objectKey(svc));
      },
    });
  }

  /** Sweeps now, then every sweep interval, while the workers run. */
  override async run(signal: AbortSignal): Promise<void> {
    const sweep = () => this.sweep().catch((err) => this.ctx.log(`load-balancer: sweep failed: ${err.message}`));
    const { clock } = this.ctx;
    let timer: number | undefined;
    const again = () => {
      timer = clock.setTimeout(() => sweep().then(() => !signal.aborted && again()), this.#sweepMs);
    };
    signal.addEventListener("abort", () => timer !== undefined && clock.clearTimeout(timer), { once: true });
    await sweep();
    again();
    await super.run(signal);
  }

  /**
   * Releases the addresses held by Services that no longer exist (by uid)
   * or no longer want a load balancer: a delete missed while no controller
   * ran, say. Returns the addresses released.
   */
  async sweep(): Promise<string[]> {
    if (!this.#services || !this.#lb) return [];
    const live = new Set(this.#services.list().filter(wantsLoadBalancer).map((s) => s.metadata.uid));
    const released = await this.#lb.garbageCollect((service) => live.has(service.uid));
    if (released.length > 0) this.ctx.log(`load-balancer: released ${released.join(", ")}: their Services are gone`);
    return released;
  }

  /** Brings one Service's load balancer to what its spec asks. */
  async reconcile(key: string): Promise<void> {
    if (!this.#lb || !this.#services) return;
    const svc = this.#services.get(key);
    const slash = key.indexOf("/");
    const namespace = key.slice(0, slash);
    const name = key.slice(slash + 1);
    if (!svc || !wantsLoadBalancer(svc)) {
      if (svc?.spec?.loadBalancerClass && svc.spec.loadBalancerClass !== LOAD_BALANCER_CLASS) return;
      await this.#lb.ensureLoadBalancerDeleted({ namespace, name });
      // The address given back may be what a waiting Service needs.
      for (const other of this.#services.list()) {
        if (wantsLoadBalancer(other) && !other.status?.loadBalancer?.ingress?.length) this.enqueue(objectKey(other));
      }
      if (svc && !svc.metadata.deletionTimestamp && this.#hasOurStatus(svc)) {
        await this.#writeStatus(svc, undefined, undefined);
        this.ctx.recorder.event(
          svc,
          "Normal",
          "DeletedLoadBalancer",
          "Released the load balancer address: the Service is no longer of type LoadBalancer",
        );
      }
      return;
    }
    const before = svc.status?.loadBalancer?.ingress?.map((i) => i.ip).join(",") ?? "";
    let status: LoadBalancerStatus;
    try {
      status = await this.#lb.ensureLoadBalancer(svc);
    } catch (err) {
      if (!(err instanceof LoadBalancerError)) throw err;
      const condition = this.#condition("False", err.reason, err.message);
      const kept = await this.#lb.getLoadBalancer(svc);
      if (this.#conditionDiffers(svc, condition) || (kept?.ingress.map((i) => i.ip).join(",") ?? "") !== before) {
        this.ctx.recorder.event(svc, "Warning", err.reason, err.message);
        await this.#writeStatus(svc, kept, condition);
      }
      return;
    }
    const after = status.ingress.map((i) => i.ip).join(",");
    const message = `Load balancer address ${after}`;
    const condition = this.#condition("True", "Allocated", message);
    if (after === before && !this.#conditionDiffers(svc, condition)) return;
    await this.#writeStatus(svc, status, condition);
    this.ctx.recorder.event(
      svc,
      "Normal",
      "EnsuredLoadBalancer",
      before && before !== after
        ? `Moved the load balancer from ${before} to ${after}`
        : `Assigned ${after} from the address pool`,
    );
  }

  #hasOurStatus(svc: Service): boolean {
    return (svc.status?.loadBalancer?.ingress?.length ?? 0) > 0 ||
      (svc.status?.conditions ?? []).some((c) => c.type === CONDITION_LB_ALLOCATED);
  }

  #condition(status: "True" | "False", reason: string, message: string): Condition {
    return { type: CONDITION_LB_ALLOCATED, status, reason, message };
  }

  #conditionDiffers(svc: Service, next: Condition): boolean {
    const current = (svc.status?.conditions ?? []).find((c) => c.type === CONDITION_LB_ALLOCATED);
    return current?.status !== next.status || current.reason !== next.reason || current.message !== next.message;
  }

  async #writeStatus(svc: Service, lb: LoadBalancerStatus | undefined, condition: Condition | undefined) {
    const others = (svc.status?.conditions ?? []).filter((c) => c.type !== CONDITION_LB_ALLOCATED);
    const current = (svc.status?.conditions ?? []).find((c) => c.type === CONDITION_LB_ALLOCATED);
    const conditions = condition
      ? [...others, {
        ...condition,
        lastTransitionTime: current?.status === condition.status && current.lastTransitionTime
          ? current.lastTransitionTime
          : rfc3339(this.ctx.clock.now()),
      }]
      : others;
    const status: ServiceStatus = { ...svc.status, loadBalancer: lb ? { ingress: lb.ingress } : {}, conditions };
    if (conditions.length === 0) delete status.conditions;
    await this.ctx.client.kind<Service>("v1", "Service").updateStatus({ ...svc, status });
  }
}
