/**
 * The scheduler: a controller (so the controller manager runs it under
 * leader election) that takes pending pods from its queue, finds each a
 * node over the cluster cache, assumes the pod there, and binds it through
 * `pods/binding` while it goes on with the next pod. A binding the API
 * refuses with 409 (bound meanwhile, or being deleted) is simply dropped;
 * other failures retry after a backoff. A pod that fits nowhere gets
 * `PodScheduled=False` (reason Unschedulable) and a FailedScheduling event
 * saying why, node by node, and waits for a cluster event.
 *
 * Pods naming another scheduler (`spec.schedulerName`) are left alone,
 * though what they use on their nodes is counted.
 *
 * @example
 * ```ts
 * const manager = new ControllerManager({
 *   client,
 *   identity: "cp-1",
 *   controllers: [new Scheduler({ maxTemperatureCelsius: 70 }), new ReplicaSetController()],
 * });
 * manager.start();
 * ```
 *
 * @module
 */

import { setImmediate } from "node:timers";
import {
  ApiError,
  type Clock,
  ConflictError,
  DEFAULT_SCHEDULER_NAME,
  type Namespace,
  type Node,
  type NodeMetrics,
  NotFoundError,
  type Pod,
  toBytes,
  toMillicores,
} from "@skiff/api";
import { EventRecorder, type Informer, type ResourceClient } from "@skiff/client";
import type { Controller, ControllerContext } from "../controllers/controller.ts";
import { ClusterCache, holdsResources } from "./cache.ts";
import { Framework } from "./find_node.ts";
import { type Plugin, type PluginConfig, podInfo, type Snapshot } from "./framework.ts";
import { DEFAULT_MAX_TEMPERATURE_CELSIUS } from "@skiff/api";
import { PLUGINS } from "./registry.ts";
import { type QueuedPod, type QueueLengths, SchedulingQueue } from "./scheduling_queue.ts";
import { EventPump } from "./_event_pump.ts";
import { VolumeBinder, VolumeBindingError } from "./volume_binder.ts";

/** Options of {@linkcode Scheduler}. */
export interface SchedulerOptions {
  /** The `spec.schedulerName` this scheduler serves (default `default-scheduler`). */
  schedulerName?: string;
  /** Plugins to run, by registry name, in registry order (default: all). */
  plugins?: readonly string[];
  /** Score weight per plugin name (default: each plugin's own). */
  weights?: Readonly<Record<string, number>>;
  /** Nodes hotter than this (°C) get no new pods (default 75). */
  maxTemperatureCelsius?: number;
  /**
   * Percent of nodes to find feasible before scoring, never fewer than 100
   * (default 5); 0 adapts to the cluster size as kube-scheduler does.
   */
  percentageOfNodesToScore?: number;
  /** Bindings and status writes in flight at once (default 64). */
  bindConcurrency?: number;
  /** Backoff after a pod's first failure, in ms (default 1000). */
  initialBackoffMs?: number;
  /** Longest backoff, in ms (default 10000). */
  maxBackoffMs?: number;
  /** How often to read NodeMetrics for LiveUsage, in ms; 0 never (default 15000). */
  metricsIntervalMs?: number;
  /** Time source (default: the controller manager's). */
  clock?: Clock;
  /** Random numbers in [0, 1) for tie-breaks. */
  random?: () => number;
  /** How long a pod's binding waits for its WaitForFirstConsumer claims to be bound, in ms (default 120000). */
  volumeBindTimeoutMs?: number;
}

/** What the scheduler has done since it started leading. */
export interface SchedulerStats {
  /** Scheduling cycles run. */
  attempts: number;
  /** Pods bound. */
  bound: number;
  /** Cycles that found no node. */
  unschedulable: number;
  /** Bindings refused because the pod was bound or deleted meanwhile. */
  conflicts: number;
  /** Bindings that failed otherwise (retried). */
  bindErrors: number;
  /** When the first binding succeeded (ms, performance.now()). */
  firstBoundAt: number | undefined;
  /** When the last binding succeeded (ms, performance.now()). */
  lastBoundAt: number | undefined;
  /** Pods waiting. */
  queue: QueueLengths;
}

/** Percent of nodes to find feasible before scoring, when many (at least 100 are). */
export const DEFAULT_PERCENTAGE_OF_NODES_TO_SCORE = 5;
/** The reason on PodScheduled=False when no node fits. */
export const CONDITION_REASON_UNSCHEDULABLE = "Unschedulable";
/** Longest a FailedScheduling event is not repeated while its message stays the same. */
const EVENT_REPEAT_MS = 60_000;
/** Work the loop does before letting informer events and replies in. */
const SLICE_MS = 10;

function specChanged(old: Pod, pod: Pod): boolean {
  return JSON.stringify(old.spec) !== JSON.stringify(pod.spec) ||
    JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(pod.metadata.labels ?? {}) ||
    JSON.stringify(old.metadata.annotations ?? {}) !== JSON.stringify(pod.metadata.annotations ?? {});
}

function isTerminal(pod: Pod): boolean {
  return pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed";
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/** Builds the plugins the options name, with the configured settings. */
export function buildPlugins(
  names: readonly string[] | undefined,
  config: PluginConfig,
): Plugin[] {
  const known = Object.keys(PLUGINS);
  for (const name of names ?? []) {
    if (!(name in PLUGINS)) {
      throw new TypeError(`Unknown scheduler plugin "${name}": choose from ${known.join(", ")}`);
    }
  }
  const wanted = new Set(names ?? known);
  return known.filter((n) => wanted.has(n)).map((n) => PLUGINS[n]!(config));
}

/** The scheduler. */
export class Scheduler implements Controller {
  /** Its name, for logs. */
  readonly name = "scheduler";
  readonly #options: SchedulerOptions;
  readonly #schedulerName: string;
  readonly #framework: Framework;
  readonly #concurrency: number;
  readonly #volumes: VolumeBinder;
  #ctx: ControllerContext | undefined;
  #clock!: Clock;
  #cache = new ClusterCache();
  #queue = new SchedulingQueue();
  #events: EventPump | undefined;
  #pods: Informer<Pod> | undefined;
  #podClient: ResourceClient<Pod> | undefined;
  #inflight = 0;
  #slotWaiters: (() => void)[] = [];
  #writes = new Set<Promise<void>>();
  #reported = new Map<string, { message: string; at: number }>();
  #stats: Omit<SchedulerStats, "queue"> = zeroStats();

  /** Creates a scheduler; the controller manager calls setup() and run(). */
  constructor(options: SchedulerOptions = {}) {
    const max = options.maxTemperatureCelsius ?? DEFAULT_MAX_TEMPERATURE_CELSIUS;
    if (!Number.isFinite(max)) throw new RangeError(`maxTemperatureCelsius must be a number, got ${max}`);
    const percentage = options.percentageOfNodesToScore ?? DEFAULT_PERCENTAGE_OF_NODES_TO_SCORE;
    if (!(percentage >= 0 && percentage <= 100)) {
      throw new RangeError(`percentageOfNodesToScore must be between 0 and 100, got ${percentage}`);
    }
    const concurrency = options.bindConcurrency ?? 64;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`bindConcurrency must be a positive integer, got ${concurrency}`);
    }
    this.#options = options;
    this.#schedulerName = options.schedulerName ?? DEFAULT_SCHEDULER_NAME;
    this.#concurrency = concurrency;
    this.#volumes = new VolumeBinder(
      options.volumeBindTimeoutMs !== undefined ? { bindTimeoutMs: options.volumeBindTimeoutMs } : {},
    );
    this.#framework = new Framework(
      buildPlugins(options.plugins, { maxTemperatureCelsius: max, volumes: this.#volumes }),
      {
        ...(options.weights ? { weights: options.weights } : {}),
        percentageOfNodesToScore: percentage,
        ...(options.random ? { random: options.random } : {}),
      },
    );
  }

  /** What it has done so far in this term of leadership. */
  get stats(): SchedulerStats {
    return { ...this.#stats, queue: this.#queue.lengths };
  }

  /** The cluster as the scheduler currently sees it (read only; for diagnostics and tests). */
  get snapshot(): Snapshot {
    return this.#cache;
  }

  /** Registers informer handlers; a fresh cache and queue for each term of leadership. */
  setup(ctx: ControllerContext): void {
    this.#ctx = ctx;
    this.#clock = this.#options.clock ?? ctx.clock;
    this.#stats = zeroStats();
    this.#reported.clear();
    this.#queue = new SchedulingQueue({
      clock: this.#clock,
      ...(this.#options.initialBackoffMs !== undefined ? { initialBackoffMs: this.#options.initialBackoffMs } : {}),
      ...(this.#options.maxBackoffMs !== undefined ? { maxBackoffMs: this.#options.maxBackoffMs } : {}),
    });
    const recorder = new EventRecorder(ctx.client, {
      component: this.#schedulerName,
      clock: this.#clock,
      onError: (err) => ctx.log(`Scheduler: cannot record an event: ${err instanceof Error ? err.message : err}`),
    });
    this.#events = new EventPump(recorder, { busy: () => this.#inflight > 0 || this.#queue.lengths.active > 0 });
    this.#podClient = ctx.client.kind<Pod>("v1", "Pod");
    this.#volumes.setup(ctx, { clock: this.#clock, changed: () => this.#queue.moveAllToActiveOrBackoff() });
    const namespaces = ctx.informers.for<Namespace>("v1", "Namespace");
    this.#cache = new ClusterCache((ns) => namespaces.get(ns)?.metadata.labels);
    this.#pods = ctx.informers.for<Pod>("v1", "Pod").on({
      add: (pod) => this.#onPod(undefined, pod),
      update: (old, pod) => this.#onPod(old, pod),
      delete: (pod) => this.#onPodDeleted(pod),
    });
    ctx.informers.for<Node>("v1", "Node").on({
      add: (node) => {
        this.#cache.upsertNode(node);
        this.#queue.moveAllToActiveOrBackoff();
      },
      update: (_old, node) => {
        if (this.#cache.upsertNode(node) !== "unchanged") this.#queue.moveAllToActiveOrBackoff();
      },
      delete: (node) => this.#cache.removeNode(node.metadata.name!),
    });
  }

  /** Schedules until `signal` aborts, then waits for bindings in flight. */
  async run(signal: AbortSignal): Promise<void> {
    const queue = this.#queue;
    signal.addEventListener("abort", () => queue.close(), { once: true });
    const stopMetrics = this.#pollMetrics();
    try {
      let sliceStart = performance.now();
      while (!signal.aborted) {
        let pod = queue.tryPop();
        if (!pod) {
          this.#events?.poke();
          pod = await queue.pop();
          sliceStart = performance.now();
        }
        if (!pod || signal.aborted) break;
        this.#scheduleOne(pod);
        if (this.#inflight >= this.#concurrency) {
          await new Promise<void>((resolve) => this.#slotWaiters.push(resolve));
          sliceStart = performance.now();
        } else if (performance.now() - sliceStart > SLICE_MS) {
          await yieldToEventLoop();
          sliceStart = performance.now();
        }
      }
    } finally {
      stopMetrics();
      this.#volumes.stop();
      while (this.#writes.size > 0) await Promise.all([...this.#writes]);
      await this.#events?.close();
    }
  }

  #responsible(pod: Pod): boolean {
    return (pod.spec?.schedulerName || DEFAULT_SCHEDULER_NAME) === this.#schedulerName;
  }

  #onPod(old: Pod | undefined, pod: Pod): void {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    if (pod.spec?.nodeName) {
      this.#queue.delete(key);
      this.#reported.delete(pod.metadata.uid!);
      this.#cache.upsertPod(pod);
      if (old && holdsResources(old) && !holdsResources(pod)) this.#queue.moveAllToActiveOrBackoff();
      return;
    }
    if (!this.#responsible(pod) || pod.metadata.deletionTimestamp || isTerminal(pod)) {
      this.#queue.delete(key);
      return;
    }
    if (this.#cache.isAssumed(pod.metadata.uid!)) return;
    this.#queue.add(podInfo(pod), !old || specChanged(old, pod));
  }

  #onPodDeleted(pod: Pod): void {
    this.#queue.delete(`${pod.metadata.namespace}/${pod.metadata.name}`);
    const uid = pod.metadata.uid!;
    this.#reported.delete(uid);
    if (this.#cache.nodeOf(uid) !== undefined) {
      this.#cache.removePod(uid);
      this.#queue.moveAllToActiveOrBackoff();
    }
  }

  #scheduleOne(queued: QueuedPod): void {
    const info = queued.info;
    const current = this.#pods?.get(info.key);
    if (
      !current || current.metadata.uid !== info.uid || current.spec?.nodeName || current.metadata.deletionTimestamp
    ) return;
    this.#stats.attempts++;
    const result = this.#framework.findNode(info, this.#cache);
    if (result.node) {
      this.#cache.assume(info, result.node.name);
      this.#bind(queued, result.node.name);
      return;
    }
    this.#stats.unschedulable++;
    this.#queue.unschedulable(queued);
    this.#reportUnschedulable(current, result.message);
  }

  #bind(queued: QueuedPod, nodeName: string): void {
    const { pod, namespace, uid } = queued.info;
    const name = pod.metadata.name!;
    const claims = this.#volumes.assume(pod, nodeName);
    this.#write(async () => {
      try {
        if (claims.length > 0) await this.#volumes.bindClaims(claims, nodeName);
        await this.#podClient!.bind(name, nodeName, { namespace });
      } catch (err) {
        this.#cache.forget(uid);
        this.#volumes.forget(claims);
        this.#queue.moveAllToActiveOrBackoff();
        if (err instanceof VolumeBindingError && !this.#volumes.stopped) {
          this.#events?.event(pod, "Warning", "FailedScheduling", err.message);
        }
        if (err instanceof ConflictError || err instanceof NotFoundError) {
          this.#stats.conflicts++;
          return;
        }
        this.#stats.bindErrors++;
        this.#ctx?.log(
          `Scheduler: cannot bind pod ${namespace}/${name} to node ${nodeName}: ${
            err instanceof Error ? err.message : err
          }; retrying after a backoff`,
        );
        if (this.#pods?.get(queued.info.key)?.metadata.uid === uid) this.#queue.backoff(queued);
        return;
      }
      const now = performance.now();
      this.#stats.bound++;
      this.#stats.firstBoundAt ??= now;
      this.#stats.lastBoundAt = now;
      this.#events?.event(pod, "Normal", "Scheduled", `Successfully assigned ${namespace}/${name} to ${nodeName}`);
    });
  }

  #reportUnschedulable(pod: Pod, message: string): void {
    const uid = pod.metadata.uid!;
    const now = this.#clock.now();
    const last = this.#reported.get(uid);
    if (!last || last.message !== message || now - last.at >= EVENT_REPEAT_MS) {
      if (this.#reported.size > 50_000) this.#reported.clear();
      this.#reported.set(uid, { message, at: now });
      this.#events?.event(pod, "Warning", "FailedScheduling", message);
    }
    const condition = pod.status?.conditions?.find((c) => c.type === "PodScheduled");
    if (
      condition?.status === "False" && condition.reason === CONDITION_REASON_UNSCHEDULABLE &&
      condition.message === message
    ) {
      return;
    }
    const { name, namespace } = pod.metadata;
    this.#write(async () => {
      try {
        await this.#podClient!.patch(name!, {
          status: {
            conditions: [{
              type: "PodScheduled",
              status: "False",
              reason: CONDITION_REASON_UNSCHEDULABLE,
              message,
              lastProbeTime: null,
              lastTransitionTime: condition?.status === "False" && condition.lastTransitionTime
                ? condition.lastTransitionTime
                : rfc3339(now),
            }],
          },
        }, { namespace: namespace!, subresource: "status", type: "strategic" });
      } catch (err) {
        if (err instanceof NotFoundError) return;
        this.#ctx?.log(
          `Scheduler: cannot mark pod ${namespace}/${name} unschedulable: ${err instanceof Error ? err.message : err}`,
        );
      }
    });
  }

  #write(task: () => Promise<void>): void {
    this.#inflight++;
    const running = task().finally(() => {
      this.#inflight--;
      this.#writes.delete(running);
      this.#slotWaiters.shift()?.();
      if (this.#inflight === 0) this.#events?.poke();
    });
    this.#writes.add(running);
  }

  #pollMetrics(): () => void {
    const every = this.#options.metricsIntervalMs ?? 15_000;
    const ctx = this.#ctx;
    if (every <= 0 || !ctx) return () => {};
    const metrics = ctx.client.kind<NodeMetrics>("metrics.k8s.io/v1beta1", "NodeMetrics");
    let stopped = false;
    let timer: number | undefined;
    let lastError = "";
    const tick = async () => {
      timer = undefined;
      try {
        const list = await metrics.list();
        lastError = "";
        const seen = new Set<string>();
        for (const item of list.items) {
          const name = item.metadata.name!;
          seen.add(name);
          try {
            this.#cache.setUsage(name, {
              milliCpu: toMillicores(item.usage.cpu!),
              memory: toBytes(item.usage.memory!),
            });
          } catch {
            this.#cache.setUsage(name, undefined);
          }
        }
        for (const node of this.#cache.nodes) if (!seen.has(node.name)) this.#cache.setUsage(node.name, undefined);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        if (message !== lastError && !(err instanceof ApiError && err.code === 404)) {
          ctx.log(`Scheduler: cannot read NodeMetrics (${message}); LiveUsage falls back to node annotations`);
        }
        lastError = message;
      }
      if (!stopped) timer = this.#clock.setTimeout(tick, every);
    };
    timer = this.#clock.setTimeout(tick, 0);
    return () => {
      stopped = true;
      if (timer !== undefined) this.#clock.clearTimeout(timer);
    };
  }
}

function zeroStats(): Omit<SchedulerStats, "queue"> {
  return {
    attempts: 0,
    bound: 0,
    unschedulable: 0,
    conflicts: 0,
    bindErrors: 0,
    firstBoundAt: undefined,
    lastBoundAt: undefined,
  };
}
