/**
 * Power on demand, the controller (off unless the control plane runs with
 * `--power-management`): every pass it takes what the informers see,
 * asks {@linkcode decidePower} what to do, and does it through the
 * provider, telling each decision as an Event on the Node with its reason.
 * Sleeping is cordon, drain (every pod but DaemonSet pods is deleted), then
 * the provider's sleep (the node's agent suspends or powers off the
 * machine); waking is the provider's Wake-on-LAN; a node awake again is
 * uncordoned and its power state cleared.
 *
 * @module
 */

import {
  ANNOTATION_POWER_SLEEP_MODE,
  ANNOTATION_POWER_SLEEP_REQUEST,
  ANNOTATION_POWER_STATE,
  type Lease,
  type Node,
  NODE_LEASE_NAMESPACE,
  NotFoundError,
  type Pod,
} from "@skiff/api";
import type { Informer } from "@skiff/client";
import type { Controller, ControllerContext } from "../controllers/mod.ts";
import { decidePower, type PowerDecision, type PowerSettings } from "./power_policy.ts";
import type { CloudProvider, Power, SleepMode } from "./provider.ts";

/** Options of {@linkcode PowerController}. */
export interface PowerControllerOptions extends Partial<PowerSettings> {
  /** The provider; it must offer power. */
  provider: CloudProvider;
  /** How machines sleep (default `suspend`). */
  sleepMode?: SleepMode;
  /** Milliseconds between passes (default 10,000). */
  passIntervalMs?: number;
}

/** Default idle time before a node sleeps: 30 minutes. */
export const DEFAULT_POWER_IDLE_MS = 30 * 60_000;
/** Default time a woken node has to come back: 5 minutes. */
export const DEFAULT_WAKE_TIMEOUT_MS = 5 * 60_000;

/** Puts idle machines to sleep and wakes them when work arrives. */
export class PowerController implements Controller {
  /** `power`. */
  readonly name = "power";
  #power: Power;
  #settings: PowerSettings;
  #mode: SleepMode;
  #passMs: number;
  #ctx: ControllerContext | undefined;
  #nodes: Informer<Node> | undefined;
  #pods: Informer<Pod> | undefined;
  #leases: Informer<Lease> | undefined;
  #idleSince = new Map<string, number>();
  #wokenAt = new Map<string, number>();

  /**
   * Creates the controller.
   *
   * @throws {TypeError} when the provider offers no power management
   */
  constructor(options: PowerControllerOptions) {
    const power = options.provider.power();
    if (!power) throw new TypeError(`Cloud provider "${options.provider.name}" offers no power management`);
    this.#power = power;
    this.#settings = {
      idleMs: options.idleMs ?? DEFAULT_POWER_IDLE_MS,
      wakeTimeoutMs: options.wakeTimeoutMs ?? DEFAULT_WAKE_TIMEOUT_MS,
    };
    this.#mode = options.sleepMode ?? "suspend";
    this.#passMs = options.passIntervalMs ?? 10_000;
  }

  /** Registers the Node, Pod and node Lease informers. */
  setup(ctx: ControllerContext): void {
    this.#ctx = ctx;
    this.#nodes = ctx.informers.for<Node>("v1", "Node");
    this.#pods = ctx.informers.for<Pod>("v1", "Pod");
    this.#leases = ctx.informers.for<Lease>("coordination.k8s.io/v1", "Lease", { namespace: NODE_LEASE_NAMESPACE });
  }

  /** Runs a pass every interval until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const ctx = this.#context();
    while (!signal.aborted) {
      try {
        await this.pass();
      } catch (err) {
        ctx.log(`power: pass failed: ${(err as Error).message}; trying again in ${this.#passMs / 1000} s`);
      }
      await new Promise<void>((resolve) => {
        const timer = ctx.clock.setTimeout(done, this.#passMs);
        function done() {
          signal.removeEventListener("abort", stop);
          resolve();
        }
        function stop() {
          ctx.clock.clearTimeout(timer);
          resolve();
        }
        signal.addEventListener("abort", stop, { once: true });
      });
    }
  }

  /** Decides and acts once; returns the decisions made. */
  async pass(): Promise<PowerDecision[]> {
    const ctx = this.#context();
    const heartbeats = new Map<string, number>();
    for (const lease of this.#leases!.list()) {
      const renew = Date.parse(lease.spec?.renewTime ?? "");
      if (!Number.isNaN(renew)) heartbeats.set(lease.metadata.name!, renew);
    }
    const now = ctx.clock.now();
    const decisions = decidePower({
      now,
      nodes: this.#nodes!.list(),
      pods: this.#pods!.list(),
      heartbeats,
      idleSince: this.#idleSince,
      wokenAt: this.#wokenAt,
      canSleep: (node) => this.#power.canSleep(node),
    }, this.#settings);
    for (const decision of decisions) {
      try {
        await this.#act(decision, now);
      } catch (err) {
        if (err instanceof NotFoundError) continue;
        const why = `Cannot ${decision.action} node "${decision.node.metadata.name}": ${(err as Error).message}`;
        ctx.recorder.event(decision.node, "Warning", decision.action === "wake" ? "WakeFailed" : "SleepFailed", why);
        ctx.log(`power: ${why}`);
      }
    }
    return decisions;
  }

  async #act(decision: PowerDecision, now: number): Promise<void> {
    const ctx = this.#context();
    const { node, reason, message } = decision;
    const name = node.metadata.name!;
    const nodes = ctx.client.kind<Node>("v1", "Node");
    ctx.recorder.event(node, "Normal", reason, message);
    ctx.log(`power: ${message}`);
    switch (decision.action) {
      case "sleep": {
        await nodes.patch(name, { spec: { unschedulable: true } });
        const pods = ctx.client.kind<Pod>("v1", "Pod");
        for (const pod of this.#pods!.list()) {
          if (pod.spec?.nodeName !== name || pod.metadata.deletionTimestamp) continue;
          if (pod.metadata.ownerReferences?.some((r) => r.controller && r.kind === "DaemonSet")) continue;
          await pods.delete(pod.metadata.name!, { namespace: pod.metadata.namespace! }).catch((err) => {
            if (!(err instanceof NotFoundError)) throw err;
          });
        }
        await this.#power.sleep(node, this.#mode);
        this.#idleSince.delete(name);
        ctx.recorder.event(node, "Normal", "Sleeping", `Asked node "${name}" to ${this.#mode}`);
        return;
      }
      case "wake":
        await this.#power.wake(node);
        this.#wokenAt.set(name, now);
        return;
      case "awake":
        await nodes.patch(name, {
          metadata: {
            annotations: {
              [ANNOTATION_POWER_STATE]: null,
              [ANNOTATION_POWER_SLEEP_MODE]: null,
              [ANNOTATION_POWER_SLEEP_REQUEST]: null,
            },
          },
          spec: { unschedulable: null },
        });
        this.#wokenAt.delete(name);
        return;
    }
  }

  #context(): ControllerContext {
    if (!this.#ctx) throw new TypeError("Controller power used before setup()");
    return this.#ctx;
  }
}
