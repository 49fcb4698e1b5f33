/**
 * The pod lifecycle event generator (the kubelet's PLEG): the runtime is
 * relisted periodically, and the pure {@linkcode diff} of the previous and
 * the new list gives the events that wake pod workers. Workers read
 * container state from the same cache, so the runtime is listed once per
 * interval however many pods the node runs; a worker that changed
 * something asks for a list newer than its change with
 * {@linkcode Pleg.newerThan}.
 *
 * @module
 */

import { type Clock, systemClock } from "@skiff/api";
import { containerIdentity, type ContainerInfo, type ContainerState, type Runtime } from "../runtime/mod.ts";

/** What happened to a container between two relists. */
export type PodLifecycleEventType = "ContainerStarted" | "ContainerDied" | "ContainerRemoved" | "ContainerChanged";

/** One change of one pod's container. */
export interface PodLifecycleEvent {
  /** What happened. */
  type: PodLifecycleEventType;
  /** The pod's uid, from the container's labels. */
  podUid: string;
  /** The container's id. */
  containerId: string;
  /** The container's name in the pod spec. */
  containerName: string;
}

function stateOf(info: ContainerInfo | undefined): ContainerState | "absent" {
  return info?.state ?? "absent";
}

function eventsFor(before: ContainerState | "absent", after: ContainerState | "absent"): PodLifecycleEventType[] {
  if (before === after) return [];
  switch (after) {
    case "running":
      return ["ContainerStarted"];
    case "exited":
      return ["ContainerDied"];
    case "created":
      return ["ContainerChanged"];
    case "absent":
      return before === "exited" ? ["ContainerRemoved"] : ["ContainerDied", "ContainerRemoved"];
  }
}

/**
 * The events that turn the containers of `old` into those of `next` (two
 * relists of the runtime), as the kubelet's PLEG generates them: a
 * container now running is `ContainerStarted`, now exited `ContainerDied`,
 * gone `ContainerRemoved` (after `ContainerDied` if it was not exited), and
 * any other change of state `ContainerChanged`. Containers that are not a
 * pod's (no pod labels) are ignored. Events come ordered by pod uid, then
 * container id.
 */
export function diff(old: readonly ContainerInfo[], next: readonly ContainerInfo[]): PodLifecycleEvent[] {
  const before = new Map(old.map((c) => [c.id, c]));
  const after = new Map(next.map((c) => [c.id, c]));
  const events: PodLifecycleEvent[] = [];
  for (const id of new Set([...before.keys(), ...after.keys()])) {
    const info = after.get(id) ?? before.get(id)!;
    const identity = containerIdentity(info.labels);
    if (!identity) continue;
    for (const type of eventsFor(stateOf(before.get(id)), stateOf(after.get(id)))) {
      events.push({ type, podUid: identity.podUid, containerId: id, containerName: identity.containerName });
    }
  }
  return events.sort((a, b) =>
    a.podUid < b.podUid ? -1 : a.podUid > b.podUid ? 1 : a.containerId < b.containerId ? -1 : 1
  );
}

/** Options of {@linkcode Pleg}. */
export interface PlegOptions {
  /** The runtime to relist. */
  runtime: Runtime;
  /** Ms between relists (default 1000). */
  intervalMs?: number;
  /** Time source. */
  clock?: Clock;
  /** Told about a failed relist (the next one retries). */
  onError?: (error: unknown) => void;
}

/** Relists the runtime, keeps the latest list, and reports what changed. */
export class Pleg {
  readonly #runtime: Runtime;
  readonly #intervalMs: number;
  readonly #clock: Clock;
  readonly #onError: (error: unknown) => void;
  readonly #listeners = new Set<(events: PodLifecycleEvent[]) => void>();
  #containers: ContainerInfo[] = [];
  #byPod = new Map<string, ContainerInfo[]>();
  /** How many relists have started. */
  #started = 0;
  /** The sequence number of the relist that gave the current list. */
  #listedSeq = 0;
  #tail: Promise<unknown> = Promise.resolve();
  #queued: Promise<boolean> | undefined;
  #busy = 0;
  #timer: number | undefined;
  #running = false;

  /** Creates a PLEG; {@linkcode Pleg.start} starts relisting. */
  constructor(options: PlegOptions) {
    this.#runtime = options.runtime;
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#clock = options.clock ?? systemClock;
    this.#onError = options.onError ?? (() => {});
    if (!(this.#intervalMs > 0)) {
      throw new RangeError(`Invalid option "relistIntervalMs": ${this.#intervalMs} is not a positive number`);
    }
  }

  /** Calls `listener` with the events of each relist that found changes; returns an unsubscribe function. */
  subscribe(listener: (events: PodLifecycleEvent[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Lists once (so the cache is filled), then relists every interval until
   * {@linkcode Pleg.stop}.
   *
   * @throws {Error} when the first list fails.
   */
  async start(): Promise<void> {
    if (!(await this.relist())) throw new Error("Cannot list the runtime's containers; see the error reported before");
    this.#running = true;
    this.#schedule();
  }

  /** Stops relisting. */
  stop(): void {
    this.#running = false;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Every container of the last list. */
  get containers(): readonly ContainerInfo[] {
    return this.#containers;
  }

  /** The containers of one pod in the last list. */
  podContainers(podUid: string): readonly ContainerInfo[] {
    return this.#byPod.get(podUid) ?? [];
  }

  /** The uids of every pod that has containers in the last list. */
  podUids(): string[] {
    return [...this.#byPod.keys()];
  }

  /**
   * A mark of this moment: {@linkcode Pleg.newerThan} with it waits for a
   * list that started after it.
   */
  mark(): number {
    return this.#started;
  }

  /**
   * Resolves once the cache holds a list that started after `mark` was
   * taken, relisting if needed; callers waiting at once share one list.
   *
   * @throws {Error} when that list fails.
   */
  async newerThan(mark: number): Promise<void> {
    while (this.#listedSeq <= mark) {
      if (!(await this.relist())) {
        throw new Error("Cannot list the runtime's containers; see the error reported before");
      }
    }
  }

  /** Whether a list is in progress or waiting to start. */
  get busy(): boolean {
    return this.#busy > 0;
  }

  /** Resolves once no list is in progress or waiting to start. */
  async idle(): Promise<void> {
    for (;;) {
      const tail = this.#tail;
      await tail;
      if (tail === this.#tail) return;
    }
  }

  /**
   * Lists the runtime after any list in progress, updates the cache and
   * tells listeners what changed; resolves with whether the list worked.
   * Calls made while a list waits to start share it.
   */
  relist(): Promise<boolean> {
    if (this.#queued) return this.#queued;
    this.#busy++;
    const queued = this.#tail.then(() => {
      this.#queued = undefined;
      return this.#list(++this.#started);
    }).finally(() => this.#busy--);
    this.#queued = queued;
    this.#tail = queued;
    return queued;
  }

  async #list(seq: number): Promise<boolean> {
    let next: ContainerInfo[];
    try {
      next = await this.#runtime.listContainers();
    } catch (error) {
      this.#onError(error);
      return false;
    }
    const events = diff(this.#containers, next);
    this.#containers = next;
    const byPod = new Map<string, ContainerInfo[]>();
    for (const info of next) {
      const identity = containerIdentity(info.labels);
      if (!identity) continue;
      const list = byPod.get(identity.podUid);
      if (list) list.push(info);
      else byPod.set(identity.podUid, [info]);
    }
    this.#byPod = byPod;
    this.#listedSeq = seq;
    if (events.length > 0) {
      for (const listener of this.#listeners) {
        try {
          listener(events);
        } catch (error) {
          this.#onError(error);
        }
      }
    }
    return true;
  }

  #schedule(): void {
    if (!this.#running) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.relist().finally(() => this.#schedule());
    }, this.#intervalMs);
  }
}
