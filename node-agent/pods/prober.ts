/**
 * The probes hook: one worker per running container and probe kind
 * (startup, liveness, readiness), each probing on the agent's clock every
 * `periodSeconds` once `initialDelaySeconds` have passed since the
 * container started, and flipping its result only after
 * `successThreshold` successes or `failureThreshold` failures in a row,
 * as the kubelet's prober does:
 *
 * - startup gates the others: until it succeeds, liveness and readiness
 *   are not probed and the container is not `started`;
 * - a failed liveness (or startup) result asks the pod worker to restart
 *   the container, and the worker stops probing it;
 * - readiness starts as not ready and drives the container's `ready`,
 *   hence the pod's ContainersReady and Ready conditions.
 *
 * Every failed probe records an `Unhealthy` event. A result that changes
 * wakes the pod's worker.
 *
 * @module
 */

import { type Clock, type Container, type Pod, type Probe, systemClock } from "@skiff/api";
import type { ContainerInfo, Runtime } from "../runtime/mod.ts";
import { runHandler } from "./handlers.ts";

/** The three kinds of probe. */
export type ProbeKind = "startup" | "liveness" | "readiness";

/** Records events (an `EventRecorder`). */
export interface EventSink {
  /** Records an event about `obj`. */
  event(obj: Pod, type: "Normal" | "Warning", reason: string, message: string): void;
}

/** Options of {@linkcode ProbeManager}. */
export interface ProbeManagerOptions {
  /** Runs exec probes. */
  runtime: Runtime;
  /** Where `Unhealthy` events go. */
  recorder: EventSink;
  /** Told the uid of a pod when one of its probe results changes. */
  onChange: (podUid: string) => void;
  /** Time source for probe periods. */
  clock?: Clock;
}

/** A container that a liveness or startup probe wants restarted. */
export interface ProbeFailure {
  /** Which probe. */
  kind: "liveness" | "startup";
  /** The last probe's output. */
  output: string;
}

const TITLE: Record<ProbeKind, string> = { startup: "Startup", liveness: "Liveness", readiness: "Readiness" };

class ProbeWorker {
  readonly kind: ProbeKind;
  readonly #probe: Probe;
  readonly #owner: ContainerProbes;
  readonly #manager: ProbeManager;
  result: boolean | undefined;
  output = "";
  #lastRaw: boolean | undefined;
  #run = 0;
  #timer: number | undefined;
  #stopped = false;

  constructor(kind: ProbeKind, probe: Probe, owner: ContainerProbes, manager: ProbeManager) {
    this.kind = kind;
    this.#probe = probe;
    this.#owner = owner;
    this.#manager = manager;
    this.result = kind === "liveness" ? true : kind === "readiness" ? false : undefined;
  }

  start(): void {
    const clock = this.#manager.clock;
    const startedAt = this.#owner.info.startedAt ?? clock.now();
    const due = startedAt + Math.max(0, this.#probe.initialDelaySeconds ?? 0) * 1000;
    this.#schedule(Math.max(0, due - clock.now()));
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#manager.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = this.#manager.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#tick().catch(() => this.#schedule(this.#periodMs()));
    }, ms);
  }

  #periodMs(): number {
    return Math.max(1, this.#probe.periodSeconds ?? 10) * 1000;
  }

  async #tick(): Promise<void> {
    if (this.#stopped) return;
    const owner = this.#owner;
    if (this.kind !== "startup" && owner.startup && owner.startup.result !== true) {
      this.#schedule(this.#periodMs());
      return;
    }
    const { success, output } = await runHandler(this.#probe, {
      runtime: this.#manager.runtime,
      containerId: owner.info.id,
      container: owner.container,
      podIP: owner.podIP,
      timeoutMs: Math.max(1, this.#probe.timeoutSeconds ?? 1) * 1000,
    });
    if (this.#stopped) return;
    this.output = output;
    if (!success) {
      this.#manager.recorder.event(owner.pod, "Warning", "Unhealthy", `${TITLE[this.kind]} probe failed: ${output}`);
    }
    if (this.#lastRaw === success) this.#run++;
    else {
      this.#lastRaw = success;
      this.#run = 1;
    }
    const threshold = success ? (this.#probe.successThreshold ?? 1) : (this.#probe.failureThreshold ?? 3);
    if (this.#run >= Math.max(1, threshold) && this.result !== success) {
      this.result = success;
      this.#manager.changed(owner.podUid);
    }
    if (this.kind !== "readiness" && this.result === false) return;
    if (this.kind === "startup" && this.result === true) return;
    this.#schedule(this.#periodMs());
  }
}

class ContainerProbes {
  readonly podUid: string;
  pod: Pod;
  readonly container: Container;
  readonly info: ContainerInfo;
  podIP: string | undefined;
  startup: ProbeWorker | undefined;
  liveness: ProbeWorker | undefined;
  readiness: ProbeWorker | undefined;

  constructor(pod: Pod, container: Container, info: ContainerInfo, podIP: string | undefined) {
    this.podUid = pod.metadata.uid ?? "";
    this.pod = pod;
    this.container = container;
    this.info = info;
    this.podIP = podIP;
  }

  workers(): ProbeWorker[] {
    return [this.startup, this.liveness, this.readiness].filter((w): w is ProbeWorker => w !== undefined);
  }
}

/** Probes the running containers of every pod on the node. */
export class ProbeManager {
  /** Runs exec probes. */
  readonly runtime: Runtime;
  /** Where events go. */
  readonly recorder: EventSink;
  /** Time source. */
  readonly clock: Clock;
  readonly #onChange: (podUid: string) => void;
  readonly #containers = new Map<string, ContainerProbes>();

  /** Creates a manager with no containers. */
  constructor(options: ProbeManagerOptions) {
    this.runtime = options.runtime;
    this.recorder = options.recorder;
    this.clock = options.clock ?? systemClock;
    this.#onChange = options.onChange;
  }

  /** Called by workers when a result changed. */
  changed(podUid: string): void {
    this.#onChange(podUid);
  }

  /**
   * Starts probing a running container (once per container id; later calls
   * only refresh the pod and its address).
   */
  add(pod: Pod, container: Container, info: ContainerInfo, podIP: string | undefined): void {
    const existing = this.#containers.get(info.id);
    if (existing) {
      existing.pod = pod;
      existing.podIP = podIP;
      return;
    }
    const probes = new ContainerProbes(pod, container, info, podIP);
    if (container.startupProbe) probes.startup = new ProbeWorker("startup", container.startupProbe, probes, this);
    if (container.livenessProbe) probes.liveness = new ProbeWorker("liveness", container.livenessProbe, probes, this);
    if (container.readinessProbe) {
      probes.readiness = new ProbeWorker("readiness", container.readinessProbe, probes, this);
    }
    this.#containers.set(info.id, probes);
    for (const worker of probes.workers()) worker.start();
  }

  /**
   * Sets results a container had before (an adopted container keeps the
   * readiness and started state it was reported with, so an agent restart
   * does not make ready pods unready).
   */
  seed(containerId: string, state: { ready?: boolean; started?: boolean }): void {
    const probes = this.#containers.get(containerId);
    if (!probes) return;
    if (state.started && probes.startup) {
      probes.startup.result = true;
      probes.startup.stop();
    }
    if (state.ready !== undefined && probes.readiness) probes.readiness.result = state.ready;
  }

  /** Stops probing the pod's containers whose ids are not in `keep`. */
  retain(podUid: string, keep: ReadonlySet<string>): void {
    for (const [id, probes] of this.#containers) {
      if (probes.podUid !== podUid || keep.has(id)) continue;
      for (const worker of probes.workers()) worker.stop();
      this.#containers.delete(id);
    }
  }

  /** Stops probing every container of a pod. */
  removePod(podUid: string): void {
    this.retain(podUid, new Set());
  }

  /** Stops every worker. */
  stop(): void {
    for (const probes of this.#containers.values()) for (const worker of probes.workers()) worker.stop();
    this.#containers.clear();
  }

  /** Whether a container passes its readiness probe; undefined when it has none (or is not probed). */
  ready(containerId: string): boolean | undefined {
    return this.#containers.get(containerId)?.readiness?.result;
  }

  /** Whether a container's startup probe has succeeded; undefined when it has none (or is not probed). */
  started(containerId: string): boolean | undefined {
    const startup = this.#containers.get(containerId)?.startup;
    return startup ? startup.result === true : undefined;
  }

  /** Why a container must be restarted (a failed liveness or startup probe), if it must. */
  failure(containerId: string): ProbeFailure | undefined {
    const probes = this.#containers.get(containerId);
    if (probes?.startup?.result === false) return { kind: "startup", output: probes.startup.output };
    if (probes?.liveness?.result === false) return { kind: "liveness", output: probes.liveness.output };
    return undefined;
  }

  /** Readiness results of a pod's probed containers, by container id. */
  readyMap(podUid: string): Map<string, boolean> {
    const out = new Map<string, boolean>();
    for (const [id, probes] of this.#containers) {
      if (probes.podUid === podUid && probes.readiness?.result !== undefined) out.set(id, probes.readiness.result);
    }
    return out;
  }

  /** Startup results of a pod's probed containers, by container id. */
  startedMap(podUid: string): Map<string, boolean> {
    const out = new Map<string, boolean>();
    for (const [id, probes] of this.#containers) {
      if (probes.podUid === podUid && probes.startup) out.set(id, probes.startup.result === true);
    }
    return out;
  }
}
