/**
 * The queue of pods waiting for a node, as kube-scheduler's: an active
 * heap (highest priority first, then oldest), a backoff heap for pods that
 * failed recently (1 s doubling to 10 s per attempt), and a set of
 * unschedulable pods that wait for a cluster event (a node added or
 * changed, a pod deleted) that might let them fit, or at most 5 minutes.
 *
 * @module
 */

import { type Clock, systemClock } from "@skiff/api";
import type { PodInfo } from "./framework.ts";
import { Heap, type HeapItem } from "./_heap.ts";

/** A pod in the queue. */
export interface QueuedPod extends HeapItem {
  /** The pod, as last seen. */
  info: PodInfo;
  /** Failed scheduling attempts so far. */
  attempts: number;
  /** When it was queued or last failed (ms). */
  timestamp: number;
  /** Where it is. */
  where: "active" | "backoff" | "unschedulable" | "popped";
  /** Insertion order, the last tie-break. */
  seq: number;
}

/** Options of {@linkcode SchedulingQueue}. */
export interface SchedulingQueueOptions {
  /** Time source. */
  clock?: Clock;
  /** Backoff after the first failure (default 1 s). */
  initialBackoffMs?: number;
  /** Longest backoff (default 10 s). */
  maxBackoffMs?: number;
  /** Longest an unschedulable pod waits without an event (default 5 min). */
  maxUnschedulableMs?: number;
}

/** How many pods wait where. */
export interface QueueLengths {
  /** Ready to be scheduled. */
  active: number;
  /** Waiting out a backoff. */
  backoff: number;
  /** Waiting for a cluster event. */
  unschedulable: number;
}

function activeLess(a: QueuedPod, b: QueuedPod): boolean {
  if (a.info.priority !== b.info.priority) return a.info.priority > b.info.priority;
  if (a.info.created !== b.info.created) return a.info.created < b.info.created;
  return a.seq < b.seq;
}

/** The scheduling queue. */
export class SchedulingQueue {
  #clock: Clock;
  #initialBackoff: number;
  #maxBackoff: number;
  #maxUnschedulable: number;
  #active = new Heap<QueuedPod>(activeLess);
  #backoff: Heap<QueuedPod>;
  #unschedulable = new Map<string, QueuedPod>();
  #byKey = new Map<string, QueuedPod>();
  #waiters: ((pod: QueuedPod | undefined) => void)[] = [];
  #backoffTimer: { at: number; handle: number } | undefined;
  #flushTimer: number | undefined;
  #seq = 0;
  #closed = false;

  /** Creates an empty queue. */
  constructor(options: SchedulingQueueOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#initialBackoff = options.initialBackoffMs ?? 1000;
    this.#maxBackoff = options.maxBackoffMs ?? 10_000;
    this.#maxUnschedulable = options.maxUnschedulableMs ?? 5 * 60_000;
    this.#backoff = new Heap<QueuedPod>((a, b) => this.backoffUntil(a) < this.backoffUntil(b));
  }

  /** How many pods wait where. */
  get lengths(): QueueLengths {
    return { active: this.#active.size, backoff: this.#backoff.size, unschedulable: this.#unschedulable.size };
  }

  /** True when the pod with this key waits in the queue. */
  has(key: string): boolean {
    return this.#byKey.has(key);
  }

  /** When a pod's backoff ends: the last failure plus 1 s doubling per attempt, capped. */
  backoffUntil(pod: QueuedPod): number {
    if (pod.attempts === 0) return pod.timestamp;
    const delay = Math.min(this.#maxBackoff, this.#initialBackoff * 2 ** Math.min(30, pod.attempts - 1));
    return pod.timestamp + delay;
  }

  /**
   * Queues a new pending pod, or updates one that waits. An unschedulable
   * pod whose spec or labels changed (`changed`) gets another try now (or
   * once its backoff ends).
   */
  add(info: PodInfo, changed = true): void {
    if (this.#closed) return;
    let existing = this.#byKey.get(info.key);
    if (existing && existing.info.uid !== info.uid) {
      this.delete(info.key);
      existing = undefined;
    }
    if (!existing) {
      const pod: QueuedPod = {
        info,
        attempts: 0,
        timestamp: this.#clock.now(),
        where: "active",
        seq: this.#seq++,
        heapIndex: -1,
      };
      this.#byKey.set(info.key, pod);
      this.#pushActive(pod);
      return;
    }
    const reorder = existing.info.priority !== info.priority || existing.info.created !== info.created;
    existing.info = info;
    if (existing.where === "active" && reorder) {
      this.#active.remove(existing);
      this.#active.push(existing);
    } else if (existing.where === "unschedulable" && changed) {
      this.#unschedulable.delete(info.key);
      this.#activeOrBackoff(existing);
    }
  }

  /** Removes a pod (deleted, bound elsewhere, or no longer ours). */
  delete(key: string): void {
    const pod = this.#byKey.get(key);
    if (!pod) return;
    this.#byKey.delete(key);
    if (pod.where === "active") this.#active.remove(pod);
    else if (pod.where === "backoff") this.#backoff.remove(pod);
    else if (pod.where === "unschedulable") this.#unschedulable.delete(key);
    pod.where = "popped";
  }

  /** The next pod without waiting, if one is active. */
  tryPop(): QueuedPod | undefined {
    const pod = this.#active.pop();
    if (!pod) return undefined;
    this.#byKey.delete(pod.info.key);
    pod.where = "popped";
    return pod;
  }

  /** The next pod; waits until one is active. Undefined once closed. */
  pop(): Promise<QueuedPod | undefined> {
    const pod = this.tryPop();
    if (pod || this.#closed) return Promise.resolve(pod);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Puts back a popped pod that fits nowhere: it waits for a cluster event. */
  unschedulable(pod: QueuedPod): void {
    if (!this.#requeue(pod)) return;
    pod.where = "unschedulable";
    this.#unschedulable.set(pod.info.key, pod);
    this.#scheduleFlush();
  }

  /** Puts back a popped pod whose attempt failed for another reason: it retries after its backoff. */
  backoff(pod: QueuedPod): void {
    if (!this.#requeue(pod)) return;
    this.#pushBackoff(pod);
  }

  /** A cluster event happened: every unschedulable pod gets another try (after its backoff). */
  moveAllToActiveOrBackoff(): void {
    if (this.#unschedulable.size === 0) return;
    const pods = [...this.#unschedulable.values()];
    this.#unschedulable.clear();
    for (const pod of pods) this.#activeOrBackoff(pod);
  }

  /** Stops the queue: waiting `pop()` calls get undefined, timers are cleared. */
  close(): void {
    this.#closed = true;
    for (const waiter of this.#waiters.splice(0)) waiter(undefined);
    if (this.#backoffTimer) this.#clock.clearTimeout(this.#backoffTimer.handle);
    if (this.#flushTimer !== undefined) this.#clock.clearTimeout(this.#flushTimer);
    this.#backoffTimer = undefined;
    this.#flushTimer = undefined;
  }

  #requeue(pod: QueuedPod): boolean {
    if (this.#closed || this.#byKey.has(pod.info.key)) return false;
    pod.attempts++;
    pod.timestamp = this.#clock.now();
    this.#byKey.set(pod.info.key, pod);
    return true;
  }

  #activeOrBackoff(pod: QueuedPod): void {
    if (this.backoffUntil(pod) > this.#clock.now()) this.#pushBackoff(pod);
    else this.#pushActive(pod);
  }

  #pushActive(pod: QueuedPod): void {
    const waiter = this.#waiters.shift();
    if (waiter) {
      this.#byKey.delete(pod.info.key);
      pod.where = "popped";
      waiter(pod);
      return;
    }
    pod.where = "active";
    this.#active.push(pod);
  }

  #pushBackoff(pod: QueuedPod): void {
    pod.where = "backoff";
    this.#backoff.push(pod);
    this.#armBackoff();
  }

  #armBackoff(): void {
    const first = this.#backoff.peek();
    if (!first || this.#closed) return;
    const at = this.backoffUntil(first);
    if (this.#backoffTimer && this.#backoffTimer.at <= at) return;
    if (this.#backoffTimer) this.#clock.clearTimeout(this.#backoffTimer.handle);
    const handle = this.#clock.setTimeout(() => {
      this.#backoffTimer = undefined;
      const now = this.#clock.now();
      for (let pod = this.#backoff.peek(); pod && this.backoffUntil(pod) <= now; pod = this.#backoff.peek()) {
        this.#backoff.remove(pod);
        this.#pushActive(pod);
      }
      this.#armBackoff();
    }, Math.max(0, at - this.#clock.now()));
    this.#backoffTimer = { at, handle };
  }

  #scheduleFlush(): void {
    if (this.#flushTimer !== undefined || this.#closed) return;
    const every = Math.max(1000, Math.min(30_000, this.#maxUnschedulable));
    this.#flushTimer = this.#clock.setTimeout(() => {
      this.#flushTimer = undefined;
      const now = this.#clock.now();
      for (const [key, pod] of this.#unschedulable) {
        if (now - pod.timestamp < this.#maxUnschedulable) continue;
        this.#unschedulable.delete(key);
        this.#activeOrBackoff(pod);
      }
      if (this.#unschedulable.size > 0) this.#scheduleFlush();
    }, every);
  }
}
