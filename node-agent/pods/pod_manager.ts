/**
 * The pod side of the node agent (the kubelet's pod workers): it informs
 * on the pods bound to the node and runs each through one
 * {@linkcode PodWorker}, whose sync composes the hooks in order:
 *
 * 1. volumes ({@linkcode VolumeHook}): every volume set up, or FailedMount
 *    events and the pod stays ContainerCreating;
 * 2. network ({@linkcode SandboxHook}): the pod's sandbox (its network
 *    namespace and address), and its /etc/hosts and /etc/resolv.conf;
 * 3. init containers, in order, each to exit 0 (sidecars, with
 *    `restartPolicy: Always`, to be started);
 * 4. containers: image ({@linkcode ImageHook}), environment, spec
 *    ({@linkcode containerConfig}), create, start, postStart; restarts as
 *    `restartPolicy` says with the crash-loop back-off (10 s doubling to
 *    5 min, reset after 10 min of running);
 * 5. probes ({@linkcode ProbeManager}): a failed liveness or startup probe
 *    restarts the container; readiness makes it ready;
 * 6. status ({@linkcode computePodStatus}) handed to the
 *    {@linkcode StatusManager}, which writes it only when it changed.
 *
 * A pod being deleted is stopped as Kubernetes does it (preStop, SIGTERM,
 * grace period, SIGKILL), its sandbox and volumes are torn down, and it is
 * deleted from the API with grace period 0 and a uid precondition.
 *
 * Container state comes from the PLEG ({@linkcode Pleg}): one relist of the
 * runtime per interval, diffed into events that wake the workers.
 *
 * Restart safety: `start()` adopts the containers it finds by their labels
 * (same ids, same restart counts, readiness as last reported) and removes
 * what belongs to pods deleted meanwhile; `stop()` leaves containers
 * running. A periodic garbage collection removes containers, sandboxes,
 * volumes and pod directories (with their logs) of pods that are gone.
 *
 * @module
 */

import { pathExists } from "../_fs.ts";
import { basename, dirname, join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import {
  type Clock,
  ConflictError,
  type Container,
  normalizeImageReference,
  NotFoundError,
  type Pod,
  type PodStatus,
  systemClock,
} from "@skiff/api";
import { type ApiClient, type EventRecorder, Informer } from "@skiff/client";
import { containerIdentity, type ContainerInfo, type Runtime } from "../runtime/mod.ts";
import { netnsId, type PodNetwork } from "../network/mod.ts";
import { Backoff, CRASH_LOOP_BACKOFF } from "./backoff.ts";
import { containerConfig } from "./container_config.ts";
import { DeviceAllocator, LABEL_DEVICES } from "./devices.ts";
import type { ClusterDnsConfig } from "./dns.ts";
import { ContainerConfigError, containerEnv, serviceEnv } from "./env.ts";
import { goDuration } from "./_duration.ts";
import { runHandler } from "./handlers.ts";
import { ImageHook } from "./image_hook.ts";
import { removeUnmounted } from "./_mounts.ts";
import { ObjectReader } from "./_objects.ts";
import { Pleg } from "./pleg.ts";
import { containerId, containerLogPath, podDir, podsRoot, terminationMessagePath } from "./pod_paths.ts";
import { computePodStatus, type ContainerWaiting, isSidecar, restartCountOf, rfc3339, runsOf } from "./pod_status.ts";
import { PodWorker, type SyncOutcome } from "./pod_worker.ts";
import { type EventSink, ProbeManager } from "./prober.ts";
import { type PodDnsFiles, type PodSandboxState, SandboxHook } from "./sandbox_hook.ts";
import { StatusManager } from "./status_manager.ts";
import { killContainer } from "./termination.ts";
import { DiscoveredVolumePlugins, type PodVolumeMount, VolumeHook, type VolumePluginRegistry } from "./volume_hook.ts";

/** What the node side gives the pod manager. */
export interface PodManagerOptions {
  /** Node credentials: GET ConfigMaps, Secrets, claims and volumes by name, patch pods/status, delete its pods. */
  client: ApiClient;
  /** The node's name; only pods with `spec.nodeName` equal to it are run. */
  nodeName: string;
  /** Runs containers. */
  runtime: Runtime;
  /** Gives each pod a sandbox (network namespace); host-network pods skip it. */
  network: PodNetwork;
  /**
   * The CSI volume plugins, for persistentVolumeClaim and csi volumes.
   * Default: the plugins serving `<dataDir>/plugins/<name>/csi.sock`,
   * discovered when first needed ({@linkcode DiscoveredVolumePlugins}),
   * closed by `stop()`.
   */
  volumePlugins?: VolumePluginRegistry;
  /** Host device paths of a kind (`serial`, `camera`, …), for `devices.skiff.dev/<kind>` requests. */
  devicePaths?: (kind: string) => string[];
  /** The agent's data directory: pods live under `<dataDir>/pods/<uid>/`. */
  dataDir: string;
  /** The node's address (status.hostIP; host-network pods' address). */
  hostIP?: string;
  /** Records events (component `skiff-agent`, host the node's name). */
  recorder: EventRecorder;
  /** Time source (default: the system clock). */
  clock?: Clock;
  /** Where the agent's log lines go. */
  log?: (line: string) => void;
  /** The cluster DNS for `dnsPolicy: ClusterFirst`; absent: pods use the node's resolv.conf. */
  clusterDns?: ClusterDnsConfig;
  /** Ms between relists of the runtime (PLEG), default 1000. */
  relistIntervalMs?: number;
}

/** Resource use of one container, for PodMetrics. */
export interface ContainerUsage {
  /** The container's name. */
  name: string;
  /** When it was measured (ms). */
  timestamp: number;
  /** Cumulative CPU time in nanoseconds. */
  cpuUsageNanoseconds: number;
  /** CPU rate since the previous `stats()` call, in millicores (absent on the first). */
  cpuMillicores?: number;
  /** The window of `cpuMillicores`, in ms. */
  windowMs?: number;
  /** Working set in bytes (what `kubectl top` shows). */
  memoryWorkingSetBytes: number;
}

/** Resource use of one pod's running containers. */
export interface PodStats {
  /** The pod's namespace. */
  namespace: string;
  /** The pod's name. */
  name: string;
  /** The pod's uid. */
  uid: string;
  /** Its running containers. */
  containers: ContainerUsage[];
}

/** Ms between the periodic syncs of a pod (configMap, secret and downwardAPI volumes follow changes this fast). */
export const POD_RESYNC_MS = 60_000;
/** Ms between garbage collections. */
export const GC_INTERVAL_MS = 60_000;
/** Grace given to containers of pods that no longer exist in the API. */
const GONE_GRACE_SECONDS = 1;
const DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline";
/** The pod conditions the agent owns; others are kept as the API has them. */
const OWN_CONDITIONS: ReadonlySet<string> = new Set(["PodScheduled", "Initialized", "ContainersReady", "Ready"]);

interface PodRecord {
  uid: string;
  pod: Pod;
  /** Gone from the API (deleted, or force-deleted). */
  removed: boolean;
  worker: PodWorker;
  startTime: number;
  sandbox?: PodSandboxState;
  /** The sandbox was set up (or checked) in this agent run. */
  sandboxReady: boolean;
  dns?: PodDnsFiles;
  waiting: Map<string, ContainerWaiting>;
  messages: Map<string, string>;
  failure?: { reason: string; message: string };
  /** Sandbox and volumes torn down (terminal or terminating pod). */
  cleanedUp: boolean;
  deleteSent: boolean;
  /** PLEG mark after the worker's last change to the runtime. */
  mark: number;
  mountFailures: number;
  sandboxFailures: number;
  /** Container ids whose probe results were seeded from the reported status. */
  seeded: Set<string>;
  /** Forgotten: the pod is gone and cleaned up. */
  done: boolean;
}

interface SyncContext {
  objects: ObjectReader;
  volumes: ReadonlyMap<string, PodVolumeMount>;
  signal: AbortSignal;
  /** Ask to sync again within `ms`. */
  want(ms: number): void;
  /** The worker changed something in the runtime. */
  acted: boolean;
}

/** What a sync acts on: a change of anything else (the status the agent wrote itself) needs no sync. */
function wanted(pod: Pod): unknown {
  const { labels, annotations, deletionTimestamp, deletionGracePeriodSeconds } = pod.metadata;
  return { spec: pod.spec, labels, annotations, deletionTimestamp, deletionGracePeriodSeconds };
}

function specOf(pod: Pod, name: string): Container | undefined {
  const spec = pod.spec;
  return spec?.containers.find((c) => c.name === name) ?? spec?.initContainers?.find((c) => c.name === name);
}

function podRef(pod: Pod): string {
  return `${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`;
}

/** Whether a pod update changed a running container's image (the one field of a container that may change). */
function imageChanged(info: ContainerInfo, container: Container): boolean {
  try {
    return normalizeImageReference(container.image ?? "") !== info.image;
  } catch {
    return false;
  }
}

function shouldRestart(pod: Pod, info: ContainerInfo): boolean {
  const policy = pod.spec?.restartPolicy ?? "Always";
  return policy === "Always" || (policy === "OnFailure" && info.exitCode !== 0);
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs the pods bound to one node. */
export class PodManager {
  readonly #o: PodManagerOptions;
  readonly #clock: Clock;
  readonly #log: (line: string) => void;
  readonly #recorder: EventSink;
  readonly #hostIPs: string[];
  readonly #pleg: Pleg;
  readonly #probes: ProbeManager;
  readonly #status: StatusManager;
  readonly #images: ImageHook;
  readonly #volumes: VolumeHook;
  readonly #sandbox: SandboxHook;
  readonly #devices: DeviceAllocator;
  readonly #plugins: VolumePluginRegistry;
  readonly #ownPlugins: boolean;
  readonly #crashBackoff: Backoff;
  readonly #retryBackoff: Backoff;
  readonly #records = new Map<string, PodRecord>();
  readonly #cpuSamples = new Map<string, { at: number; nanos: number }>();
  #informer: Informer<Pod> | undefined;
  #runtimeName = "containerd";
  #running = false;
  #gcTimer: number | undefined;
  #gcRunning: Promise<void> | undefined;
  #unsubscribe: (() => void) | undefined;

  /**
   * Creates the manager; nothing runs until {@linkcode PodManager.start}.
   *
   * @throws {TypeError} naming an option that is missing or not valid.
   */
  constructor(o: PodManagerOptions) {
    for (const field of ["client", "runtime", "network", "recorder"] as const) {
      if (!o[field]) throw new TypeError(`Invalid option "${field}": it is required`);
    }
    if (typeof o.nodeName !== "string" || o.nodeName === "") {
      throw new TypeError('Invalid option "nodeName": expected the node\'s name');
    }
    if (typeof o.dataDir !== "string" || o.dataDir === "") {
      throw new TypeError('Invalid option "dataDir": expected a directory path');
    }
    this.#o = o;
    this.#clock = o.clock ?? systemClock;
    this.#log = o.log ?? (() => {});
    this.#recorder = o.recorder;
    this.#hostIPs = o.hostIP ? [o.hostIP] : [];
    this.#pleg = new Pleg({
      runtime: o.runtime,
      clock: this.#clock,
      intervalMs: o.relistIntervalMs ?? 1000,
      onError: (error) => this.#log(`Cannot list containers: ${message(error)}; is the container runtime up?`),
    });
    this.#probes = new ProbeManager({
      runtime: o.runtime,
      recorder: this.#recorder,
      clock: this.#clock,
      onChange: (uid) => this.#records.get(uid)?.worker.wake(),
    });
    this.#status = new StatusManager({ client: o.client, clock: this.#clock, log: this.#log });
    this.#images = new ImageHook({ runtime: o.runtime, recorder: this.#recorder, clock: this.#clock });
    this.#ownPlugins = o.volumePlugins === undefined;
    this.#plugins = o.volumePlugins ?? new DiscoveredVolumePlugins({
      pluginsDir: `${o.dataDir}/plugins`,
      podsDir: podsRoot(o.dataDir),
      stateDir: `${o.dataDir}/volumes`,
      log: this.#log,
    });
    this.#volumes = new VolumeHook({ dataDir: o.dataDir, plugins: this.#plugins });
    this.#sandbox = new SandboxHook({
      network: o.network,
      dataDir: o.dataDir,
      hostIPs: this.#hostIPs,
      ...(o.clusterDns ? { clusterDns: o.clusterDns } : {}),
    });
    this.#devices = new DeviceAllocator(o.devicePaths);
    this.#crashBackoff = new Backoff({ ...CRASH_LOOP_BACKOFF, clock: this.#clock });
    this.#retryBackoff = new Backoff({ initialMs: 1000, maxMs: 120_000, clock: this.#clock });
  }

  /**
   * Starts: lists the runtime, informs on the node's pods, adopts running
   * containers by their labels (an agent restart restarts nothing), removes
   * what belongs to pods that no longer exist, then runs one worker per pod
   * and the PLEG relist loop.
   */
  async start(): Promise<void> {
    if (this.#informer) throw new Error("The pod manager is already started");
    this.#runtimeName = (await this.#o.runtime.version()).name;
    await this.#pleg.start();
    const informer = new Informer<Pod>(this.#o.client.kind<Pod>("v1", "Pod"), {
      fieldSelector: `spec.nodeName=${this.#o.nodeName}`,
      clock: this.#clock,
      onError: (error) => this.#log(`Watching pods failed: ${message(error)}; retrying`),
    });
    this.#informer = informer;
    informer.on({
      add: (pod) => this.#added(pod),
      update: (old, pod) => {
        if (old.metadata.uid !== pod.metadata.uid) {
          this.#deleted(old);
          this.#added(pod);
        } else this.#updated(pod);
      },
      delete: (pod) => this.#deleted(pod),
    });
    await informer.start();
    const sandboxes = new Map((await this.#o.network.list()).filter((s) => s.ready && s.ip).map((s) => [s.podUid, s]));
    for (const record of this.#records.values()) {
      const existing = sandboxes.get(record.uid);
      if (existing && !record.sandbox) record.sandbox = { podIPs: [existing.ip!], netnsPath: existing.netnsPath };
      const containers = this.#pleg.podContainers(record.uid);
      for (const name of new Set(containers.map((c) => containerIdentity(c.labels)?.containerName ?? ""))) {
        const devices = runsOf(containers, name)[0]?.labels[LABEL_DEVICES];
        if (name && devices) this.#devices.adopt(`${record.uid}/${name}`, devices.split(","));
      }
    }
    await this.#collectGarbage();
    this.#running = true;
    this.#unsubscribe = this.#pleg.subscribe((events) => {
      for (const uid of new Set(events.map((e) => e.podUid))) this.#records.get(uid)?.worker.wake();
    });
    for (const record of this.#records.values()) record.worker.wake();
    this.#scheduleGc();
  }

  /** Stops workers, probes and watches; containers keep running. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#informer?.stop();
    this.#pleg.stop();
    this.#unsubscribe?.();
    if (this.#gcTimer !== undefined) this.#clock.clearTimeout(this.#gcTimer);
    this.#gcTimer = undefined;
    await Promise.all([...this.#records.values()].map((r) => r.worker.stop()));
    await this.#gcRunning;
    this.#probes.stop();
    this.#status.stop();
    if (this.#ownPlugins) this.#plugins.close?.();
  }

  /**
   * Resolves once no relist runs and no pod worker syncs or waits to sync
   * (timers set for later do not count): what tests with a manual clock
   * wait for between steps.
   */
  async idle(): Promise<void> {
    for (;;) {
      await this.#pleg.idle();
      const workers = [...this.#records.values()].map((r) => r.worker);
      await Promise.all(workers.map((w) => w.idle()));
      await this.#gcRunning;
      const busy = [...this.#records.values()].some((r) => r.worker.busy);
      if (!busy && this.#pleg.busy === false) return;
    }
  }

  /** Resource use of the running containers of every pod, for PodMetrics. */
  async stats(): Promise<PodStats[]> {
    const out: PodStats[] = [];
    const seen = new Set<string>();
    for (const record of this.#records.values()) {
      const pod = record.pod;
      const containers: ContainerUsage[] = [];
      for (const info of this.#pleg.podContainers(record.uid)) {
        const identity = containerIdentity(info.labels);
        if (info.state !== "running" || !identity) continue;
        let stats;
        try {
          stats = await this.#o.runtime.stats(info.id);
        } catch {
          continue;
        }
        seen.add(info.id);
        const usage: ContainerUsage = {
          name: identity.containerName,
          timestamp: stats.timestamp,
          cpuUsageNanoseconds: stats.cpuUsageNanoseconds,
          memoryWorkingSetBytes: stats.memoryWorkingSetBytes,
        };
        const before = this.#cpuSamples.get(info.id);
        if (before && stats.timestamp > before.at) {
          usage.windowMs = stats.timestamp - before.at;
          usage.cpuMillicores = Math.max(0, (stats.cpuUsageNanoseconds - before.nanos) / 1e6 / usage.windowMs * 1000);
        }
        this.#cpuSamples.set(info.id, { at: stats.timestamp, nanos: stats.cpuUsageNanoseconds });
        containers.push(usage);
      }
      if (containers.length > 0) {
        out.push({
          namespace: pod.metadata.namespace ?? "",
          name: pod.metadata.name ?? "",
          uid: record.uid,
          containers,
        });
      }
    }
    for (const id of [...this.#cpuSamples.keys()]) if (!seen.has(id)) this.#cpuSamples.delete(id);
    return out;
  }

  #added(pod: Pod): void {
    const uid = pod.metadata.uid;
    if (!uid) return;
    const existing = this.#records.get(uid);
    if (existing) {
      existing.pod = pod;
      existing.removed = false;
      if (this.#running) existing.worker.wake();
      return;
    }
    const startTime = pod.status?.startTime ? Date.parse(pod.status.startTime) : this.#clock.now();
    const record: PodRecord = {
      uid,
      pod,
      removed: false,
      startTime: Number.isFinite(startTime) ? startTime : this.#clock.now(),
      sandboxReady: false,
      waiting: new Map(),
      messages: new Map(),
      cleanedUp: false,
      deleteSent: false,
      mark: -1,
      mountFailures: 0,
      sandboxFailures: 0,
      seeded: new Set(),
      done: false,
      worker: undefined as unknown as PodWorker,
    };
    record.worker = new PodWorker({
      clock: this.#clock,
      sync: (signal) => this.#sync(record, signal),
      onError: (error) =>
        this.#log(`Pod ${pod.metadata.namespace}/${pod.metadata.name}: sync failed: ${message(error)}; retrying`),
    });
    this.#records.set(uid, record);
    if (this.#running) record.worker.wake();
  }

  #updated(pod: Pod): void {
    const record = this.#records.get(pod.metadata.uid ?? "");
    if (!record) return this.#added(pod);
    const before = record.pod;
    const deleting = !before.metadata.deletionTimestamp && pod.metadata.deletionTimestamp;
    record.pod = pod;
    if (!this.#running) return;
    if (deleting) record.worker.interrupt();
    else if (!isDeepStrictEqual(wanted(before), wanted(pod))) record.worker.wake();
  }

  #deleted(pod: Pod): void {
    const record = this.#records.get(pod.metadata.uid ?? "");
    if (!record) return;
    record.removed = true;
    if (this.#running) record.worker.interrupt();
  }

  async #sync(record: PodRecord, signal: AbortSignal): Promise<SyncOutcome> {
    if (record.done) return {};
    await this.#pleg.newerThan(record.mark);
    signal.throwIfAborted();
    const pod = record.pod;
    if (record.removed || pod.metadata.deletionTimestamp) return await this.#terminate(record);
    await this.#readMessages(record);
    const spec = pod.spec ?? { containers: [] };
    const now = this.#clock.now();
    if (!record.failure && spec.activeDeadlineSeconds !== undefined) {
      const deadline = record.startTime + spec.activeDeadlineSeconds * 1000;
      if (now >= deadline) {
        record.failure = { reason: "DeadlineExceeded", message: DEADLINE_MESSAGE };
        this.#recorder.event(pod, "Normal", "DeadlineExceeded", DEADLINE_MESSAGE);
      }
    }
    const phase = this.#status.get(record.uid)?.phase ?? pod.status?.phase;
    if (record.failure || phase === "Succeeded" || phase === "Failed") return await this.#finish(record);

    let requeue = POD_RESYNC_MS;
    if (spec.activeDeadlineSeconds !== undefined) {
      requeue = Math.min(requeue, Math.max(0, record.startTime + spec.activeDeadlineSeconds * 1000 - now));
    }
    const objects = new ObjectReader(this.#o.client, this.#o.nodeName);
    const addresses = { podIPs: record.sandbox?.podIPs ?? [], hostIPs: this.#hostIPs };
    const volumes = await this.#volumes.setUp(pod, { objects, addresses });
    signal.throwIfAborted();
    if (volumes.failures.length > 0) {
      for (const failure of volumes.failures) {
        this.#recorder.event(
          pod,
          "Warning",
          "FailedMount",
          `MountVolume.SetUp failed for volume "${failure.volume}" : ${failure.message}`,
        );
      }
      this.#setStatus(record);
      return { requeueAfterMs: Math.min(2000 * 2 ** record.mountFailures++, 120_000) };
    }
    record.mountFailures = 0;

    const problem = await this.#sandboxProblem(record);
    if (problem !== undefined) {
      this.#log(
        `Pod ${
          podRef(pod)
        }: ${problem}; killing its containers to re-create them in a new sandbox (network namespace and address)`,
      );
      this.#recorder.event(pod, "Normal", "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.");
      await this.#killAll(record, spec.terminationGracePeriodSeconds ?? 30, false);
      if (this.#pleg.podContainers(record.uid).some((c) => c.state === "running")) {
        throw new Error(
          `Containers of pod ${podRef(pod)} are still running after stop: its sandbox is kept until they stop`,
        );
      }
      await this.#sandbox.tearDown(pod);
      record.sandboxReady = false;
    }
    if (!record.sandboxReady) {
      try {
        record.sandbox = await this.#sandbox.setUp(pod);
        record.sandboxReady = true;
        record.sandboxFailures = 0;
      } catch (error) {
        this.#recorder.event(
          pod,
          "Warning",
          "FailedCreatePodSandBox",
          `Failed to create pod sandbox: ${message(error)}`,
        );
        this.#setStatus(record);
        return { requeueAfterMs: Math.min(2000 * 2 ** record.sandboxFailures++, 120_000) };
      }
    }
    try {
      record.dns = await this.#sandbox.writeDnsFiles(pod, record.sandbox!.podIPs);
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
      this.#recorder.event(pod, "Warning", "DNSConfigForming", `Cannot write the pod's resolv.conf: ${error.message}`);
      this.#setStatus(record);
      return { requeueAfterMs: POD_RESYNC_MS };
    }
    signal.throwIfAborted();

    const context: SyncContext = {
      objects,
      volumes: volumes.mounts,
      signal,
      want: (ms) => requeue = Math.min(requeue, Math.max(0, ms)),
      acted: false,
    };
    const containers = this.#pleg.podContainers(record.uid);
    if (await this.#syncInitContainers(record, containers, context)) {
      await this.#syncContainers(record, containers, context);
    }
    if (context.acted) {
      record.mark = this.#pleg.mark();
      await this.#pleg.newerThan(record.mark);
      await this.#readMessages(record);
    }
    await this.#prune(record, this.#pleg.podContainers(record.uid));
    const running = new Set(
      this.#pleg.podContainers(record.uid).filter((c) => c.state === "running").map((c) => c.id),
    );
    this.#probes.retain(record.uid, running);
    for (const id of record.seeded) if (!running.has(id)) record.seeded.delete(id);
    const status = this.#setStatus(record);
    if (status.phase === "Succeeded" || status.phase === "Failed") requeue = 0;
    return { requeueAfterMs: requeue };
  }

  /**
   * Why the pod's running containers cannot stay in their sandbox, or
   * `undefined` when they can (or none runs). Running containers found
   * after an agent restart keep the sandbox they run in when it passes its
   * check; they are never given a new namespace or address underneath them.
   * A sandbox whose namespace is gone, or that a container does not run in,
   * is a problem too.
   */
  async #sandboxProblem(record: PodRecord): Promise<string | undefined> {
    const pod = record.pod;
    if (!SandboxHook.ownNetwork(pod)) return undefined;
    const running = this.#pleg.podContainers(record.uid).filter((c) => c.state === "running");
    if (!record.sandboxReady) {
      if (running.length === 0) return undefined;
      const adopted = await this.#sandbox.adopt(pod);
      if ("problem" in adopted) return adopted.problem;
      record.sandbox = adopted.state;
      record.sandboxReady = true;
      record.sandboxFailures = 0;
      this.#log(
        `Pod ${
          podRef(pod)
        }: kept the sandbox its running containers were started in (network namespace ${adopted.state.netnsPath}, IP ${
          adopted.state.podIPs.join(", ")
        })`,
      );
    }
    const netnsPath = record.sandbox?.netnsPath;
    if (!netnsPath || running.length === 0) return undefined;
    const sandbox = await netnsId(netnsPath);
    if (sandbox === undefined && !(await pathExists(netnsPath))) return `its network namespace ${netnsPath} is gone`;
    for (const info of running) {
      if (info.pid === undefined || sandbox === undefined) continue;
      const theirs = await netnsId(`/proc/${info.pid}/ns/net`);
      if (theirs !== undefined && theirs !== sandbox) {
        const name = containerIdentity(info.labels)?.containerName ?? info.id;
        return `container ${name} runs in another network namespace than the pod's sandbox ${netnsPath}`;
      }
    }
    return undefined;
  }

  /** Runs the init containers in order; true once all are done (or the regular containers have run). */
  async #syncInitContainers(
    record: PodRecord,
    containers: readonly ContainerInfo[],
    context: SyncContext,
  ): Promise<boolean> {
    const pod = record.pod;
    const spec = pod.spec ?? { containers: [] };
    const inits = spec.initContainers ?? [];
    if (inits.length === 0) return true;
    if (spec.containers.some((c) => runsOf(containers, c.name).length > 0)) return true;
    for (const container of inits) {
      const [latest] = runsOf(containers, container.name);
      if (isSidecar(container)) {
        if (latest?.state === "running") {
          this.#watchProbes(record, container, latest);
          if (this.#probes.started(latest.id) === false) return false;
          continue;
        }
        await this.#ensureRunning(record, container, latest, context, true);
        return false;
      }
      if (latest?.state === "exited" && latest.exitCode === 0) continue;
      if (latest?.state === "running") return false;
      if (latest?.state === "exited" && (spec.restartPolicy ?? "Always") === "Never") return false;
      await this.#ensureRunning(record, container, latest, context, true);
      return false;
    }
    return true;
  }

  async #syncContainers(record: PodRecord, containers: readonly ContainerInfo[], context: SyncContext): Promise<void> {
    const pod = record.pod;
    const spec = pod.spec ?? { containers: [] };
    for (const container of spec.containers) {
      context.signal.throwIfAborted();
      const [latest] = runsOf(containers, container.name);
      if (latest?.state === "running" && imageChanged(latest, container)) {
        await this.#kill(record, container, latest, spec.terminationGracePeriodSeconds ?? 30, {
          message: `Container ${container.name} definition changed, will be restarted`,
        });
        context.acted = true;
        context.want(0);
        continue;
      }
      if (latest?.state === "running") {
        const failure = this.#probes.failure(latest.id);
        if (!failure) {
          this.#watchProbes(record, container, latest);
          continue;
        }
        const probe = failure.kind === "liveness" ? container.livenessProbe : container.startupProbe;
        await this.#kill(
          record,
          container,
          latest,
          probe?.terminationGracePeriodSeconds ?? spec.terminationGracePeriodSeconds ?? 30,
          { message: `Container ${container.name} failed ${failure.kind} probe, will be restarted` },
        );
        context.acted = true;
        context.want(0);
        continue;
      }
      if (latest?.state === "exited" && !shouldRestart(pod, latest)) {
        record.waiting.delete(container.name);
        continue;
      }
      await this.#ensureRunning(record, container, latest, context, false);
    }
    for (const container of (spec.initContainers ?? []).filter(isSidecar)) {
      const [latest] = runsOf(containers, container.name);
      if (latest?.state === "running") this.#watchProbes(record, container, latest);
    }
    const regularDone = spec.containers.every((c) => {
      const [latest] = runsOf(containers, c.name);
      return latest?.state === "exited" && !shouldRestart(pod, latest);
    });
    for (const container of (spec.initContainers ?? []).filter(isSidecar)) {
      const [latest] = runsOf(containers, container.name);
      if (regularDone) {
        if (latest?.state === "running") {
          await this.#kill(record, container, latest, spec.terminationGracePeriodSeconds ?? 30);
          context.acted = true;
        }
      } else if (latest?.state !== "running") {
        await this.#ensureRunning(record, container, latest, context, true);
      }
    }
  }

  /** Starts a container that has no run, a created one, or (after its back-off) an exited one. */
  async #ensureRunning(
    record: PodRecord,
    container: Container,
    latest: ContainerInfo | undefined,
    context: SyncContext,
    alwaysRestart: boolean,
  ): Promise<void> {
    if (latest?.state === "created") {
      await this.#o.runtime.removeContainer(latest.id);
      context.acted = true;
      await this.#start(record, container, restartCountOf(latest), context);
      return;
    }
    if (latest?.state === "exited") {
      if (!alwaysRestart && !shouldRestart(record.pod, latest)) return;
      const key = `${record.uid}/${container.name}`;
      const finishedAt = latest.finishedAt ?? this.#clock.now();
      if (this.#crashBackoff.isInBackOffSince(key, finishedAt)) {
        const pod = record.pod;
        record.waiting.set(container.name, {
          reason: "CrashLoopBackOff",
          message:
            `back-off ${goDuration(this.#crashBackoff.get(key))} restarting failed container=${container.name} ` +
            `pod=${podRef(pod)}`,
        });
        this.#recorder.event(
          pod,
          "Warning",
          "BackOff",
          `Back-off restarting failed container ${container.name} in pod ${podRef(pod)}`,
        );
        context.want(this.#crashBackoff.remaining(key, finishedAt));
        return;
      }
      this.#crashBackoff.next(key, finishedAt);
      await this.#start(record, container, restartCountOf(latest) + 1, context);
      return;
    }
    const reported = [
      ...(record.pod.status?.containerStatuses ?? []),
      ...(record.pod.status?.initContainerStatuses ?? []),
    ]
      .find((s) => s.name === container.name);
    const restartCount = reported?.containerID ? reported.restartCount + 1 : 0;
    await this.#start(record, container, restartCount, context);
  }

  /** Pulls, configures, creates and starts one run of a container. */
  async #start(record: PodRecord, container: Container, restartCount: number, context: SyncContext): Promise<void> {
    const pod = record.pod;
    const spec = pod.spec ?? { containers: [] };
    const namespace = pod.metadata.namespace ?? "default";
    const retryKey = `${record.uid}/${container.name}`;
    // Read while the image is checked; an error surfaces where the Services are used.
    const serviceList = context.objects.services(namespace);
    serviceList.catch(() => {});
    const image = await this.#images.ensure(pod, container, context.signal);
    context.signal.throwIfAborted();
    if (!image.ok) {
      record.waiting.set(container.name, image.waiting);
      context.want(image.retryAfterMs);
      return;
    }
    const id = containerId(record.uid, container.name, restartCount);
    const logPath = containerLogPath(this.#o.dataDir, record.uid, { name: container.name, restartCount });
    const messageFile = terminationMessagePath(this.#o.dataDir, record.uid, { name: container.name, id });
    const podIPs = record.sandbox?.podIPs ?? [];
    let config;
    try {
      const services = serviceEnv(await serviceList, {
        namespace,
        enableServiceLinks: spec.enableServiceLinks !== false,
      });
      const env = await containerEnv(pod, container, {
        podIPs,
        hostIPs: this.#hostIPs,
        services,
        sources: {
          configMap: (name) => context.objects.configMap(namespace, name),
          secret: (name) => context.objects.secret(namespace, name),
          allocatable: () => context.objects.allocatable(),
        },
      });
      if (env.invalidNames.length > 0) {
        this.#recorder.event(
          pod,
          "Warning",
          "InvalidEnvironmentVariableNames",
          `Keys [${env.invalidNames.join(", ")}] from the EnvFrom of container ${container.name} were skipped ` +
            "since they are invalid environment variable names",
        );
      }
      let devices: string[];
      try {
        devices = this.#devices.allocate(record.uid, container);
      } catch (error) {
        throw new ContainerConfigError(message(error), { cause: error });
      }
      config = await containerConfig({
        pod,
        container,
        id,
        restartCount,
        image: image.image.ref,
        env: env.env,
        volumes: context.volumes,
        dns: record.dns!,
        sandbox: record.sandbox!,
        devices,
        logPath,
        terminationMessageFile: messageFile,
      });
    } catch (error) {
      if (!(error instanceof ContainerConfigError)) throw error;
      record.waiting.set(container.name, { reason: "CreateContainerConfigError", message: error.message });
      this.#recorder.event(pod, "Warning", "Failed", `Error: ${error.message}`);
      this.#retryBackoff.next(retryKey, this.#clock.now());
      context.want(this.#retryBackoff.get(retryKey));
      return;
    }
    await Promise.all([
      Deno.mkdir(dirname(logPath), { recursive: true }),
      (async () => {
        await Deno.mkdir(dirname(messageFile), { recursive: true });
        await Deno.writeFile(messageFile, new Uint8Array(), { mode: 0o666 });
        await Deno.chmod(messageFile, 0o666);
      })(),
      // A run with this id left by a start that failed halfway is replaced.
      this.#o.runtime.removeContainer(id),
    ]);
    context.acted = true;
    try {
      await this.#o.runtime.createContainer(config);
    } catch (error) {
      record.waiting.set(container.name, { reason: "CreateContainerError", message: message(error) });
      this.#recorder.event(pod, "Warning", "Failed", `Error: ${message(error)}`);
      this.#retryBackoff.next(retryKey, this.#clock.now());
      context.want(this.#retryBackoff.get(retryKey));
      return;
    }
    this.#recorder.event(pod, "Normal", "Created", `Created container ${container.name}`);
    try {
      await this.#o.runtime.startContainer(id);
    } catch (error) {
      await this.#o.runtime.removeContainer(id);
      record.waiting.set(container.name, { reason: "RunContainerError", message: message(error) });
      this.#recorder.event(pod, "Warning", "Failed", `Error: ${message(error)}`);
      this.#retryBackoff.next(retryKey, this.#clock.now());
      context.want(this.#retryBackoff.get(retryKey));
      return;
    }
    this.#retryBackoff.reset(retryKey);
    record.waiting.delete(container.name);
    this.#recorder.event(pod, "Normal", "Started", `Started container ${container.name}`);
    const postStart = container.lifecycle?.postStart;
    if (postStart) {
      const result = await runHandler(postStart, {
        runtime: this.#o.runtime,
        containerId: id,
        container,
        podIP: podIPs[0],
        timeoutMs: (spec.terminationGracePeriodSeconds ?? 30) * 1000,
        sleep: (ms) => new Promise((resolve) => this.#clock.setTimeout(resolve, ms)),
      });
      if (!result.success) {
        this.#recorder.event(
          pod,
          "Warning",
          "FailedPostStartHook",
          `PostStartHook failed for container ${container.name}: ${result.output}`,
        );
        const info = await this.#o.runtime.inspectContainer(id);
        await this.#kill(record, container, info, spec.terminationGracePeriodSeconds ?? 30);
      }
    }
  }

  async #kill(
    record: PodRecord,
    container: Container | undefined,
    info: ContainerInfo,
    gracePeriodSeconds: number,
    options: { override?: boolean; message?: string } = {},
  ): Promise<void> {
    const podIP = record.sandbox?.podIPs[0];
    await killContainer({
      runtime: this.#o.runtime,
      recorder: this.#recorder,
      clock: this.#clock,
      pod: record.pod,
      ...(container ? { container } : {}),
      info,
      ...(podIP ? { podIP } : {}),
      gracePeriodSeconds,
      ...options,
    });
  }

  /** Starts probing a running container, seeding its results from the status last reported for it. */
  #watchProbes(record: PodRecord, container: Container, info: ContainerInfo): void {
    this.#probes.add(record.pod, container, info, record.sandbox?.podIPs[0]);
    if (record.seeded.has(info.id)) return;
    record.seeded.add(info.id);
    const reported = [
      ...(record.pod.status?.containerStatuses ?? []),
      ...(record.pod.status?.initContainerStatuses ?? []),
    ]
      .find((s) => s.containerID === `${this.#runtimeName}://${info.id}`);
    if (reported) this.#probes.seed(info.id, { ready: reported.ready, started: reported.started === true });
  }

  /** Reads the termination messages of exited containers not read yet. */
  async #readMessages(record: PodRecord): Promise<void> {
    for (const info of this.#pleg.podContainers(record.uid)) {
      if (info.state !== "exited" || record.messages.has(info.id)) continue;
      const identity = containerIdentity(info.labels);
      if (!identity) continue;
      let text = "";
      try {
        const file = await Deno.open(
          terminationMessagePath(this.#o.dataDir, record.uid, { name: identity.containerName, id: info.id }),
        );
        try {
          const buffer = new Uint8Array(4096);
          const n = await file.read(buffer);
          text = new TextDecoder().decode(buffer.subarray(0, n ?? 0));
        } finally {
          file.close();
        }
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
      const container = specOf(record.pod, identity.containerName);
      if (!text && info.exitCode !== 0 && container?.terminationMessagePolicy === "FallbackToLogsOnError") {
        text = await this.#o.runtime.logs(info.id, { tailLines: 80, limitBytes: 2048 }).catch(() => "");
      }
      record.messages.set(info.id, text);
    }
  }

  /** Removes all but the two latest runs of each container (and their log files). */
  async #prune(record: PodRecord, containers: readonly ContainerInfo[]): Promise<void> {
    const names = new Set<string>();
    for (const info of containers) {
      const identity = containerIdentity(info.labels);
      if (identity) names.add(identity.containerName);
    }
    for (const name of names) {
      for (const old of runsOf(containers, name).slice(2)) {
        if (old.state === "running") continue;
        await this.#removeRun(record.uid, old);
      }
    }
  }

  /** Removes one run of a container with its log files (rotated ones too) and termination message file. */
  async #removeRun(uid: string, info: ContainerInfo): Promise<void> {
    await this.#o.runtime.removeContainer(info.id);
    const identity = containerIdentity(info.labels);
    this.#records.get(uid)?.messages.delete(info.id);
    if (!identity) return;
    const ignoreMissing = (error: unknown) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    };
    const log = containerLogPath(this.#o.dataDir, uid, {
      name: identity.containerName,
      restartCount: identity.restartCount,
    });
    const logName = basename(log);
    try {
      for await (const entry of Deno.readDir(dirname(log))) {
        if (entry.name === logName || entry.name.startsWith(`${logName}.`)) {
          await Deno.remove(join(dirname(log), entry.name)).catch(ignoreMissing);
        }
      }
    } catch (error) {
      ignoreMissing(error);
    }
    await Deno.remove(terminationMessagePath(this.#o.dataDir, uid, { name: identity.containerName, id: info.id }))
      .catch(ignoreMissing);
  }

  #setStatus(record: PodRecord, terminal = false): PodStatus {
    const reported = record.pod.status ?? {};
    const last = this.#status.get(record.uid);
    // Our own last status for what we own; others' conditions (DisruptionTarget, …) as the API has them now.
    const pod: Pod = last
      ? {
        ...record.pod,
        status: {
          ...last,
          conditions: [
            ...(last.conditions ?? []).filter((c) => OWN_CONDITIONS.has(c.type)),
            ...(reported.conditions ?? []).filter((c) => !OWN_CONDITIONS.has(c.type)),
          ],
          ...(reported.nominatedNodeName ? { nominatedNodeName: reported.nominatedNodeName } : {}),
        },
      }
      : record.pod;
    const status = computePodStatus({
      pod,
      containers: this.#pleg.podContainers(record.uid),
      waiting: record.waiting,
      ready: this.#probes.readyMap(record.uid),
      started: this.#probes.startedMap(record.uid),
      messages: record.messages,
      podIPs: record.sandbox?.podIPs ?? [],
      hostIPs: this.#hostIPs,
      startTime: record.startTime,
      now: this.#clock.now(),
      runtimeName: this.#runtimeName,
      terminal,
      ...(record.failure ? { failure: record.failure } : {}),
    });
    if (!status.startTime) status.startTime = rfc3339(record.startTime);
    this.#status.set(record.pod, status);
    return status;
  }

  /** A pod that reached Succeeded or Failed (or its active deadline): stop what runs, tear down, report. */
  async #finish(record: PodRecord): Promise<SyncOutcome> {
    if (!record.cleanedUp) {
      const spec = record.pod.spec ?? { containers: [] };
      await this.#killAll(record, spec.terminationGracePeriodSeconds ?? 30, false);
      await this.#cleanUp(record);
    }
    this.#setStatus(record, true);
    return {};
  }

  /** Stops every running container of a pod: regular (and init) ones at once, then sidecars in reverse order. */
  async #killAll(record: PodRecord, gracePeriodSeconds: number, override: boolean): Promise<void> {
    this.#probes.removePod(record.uid);
    const pod = record.pod;
    const running = this.#pleg.podContainers(record.uid).filter((c) => c.state === "running");
    if (running.length === 0) return;
    const sidecars = (pod.spec?.initContainers ?? []).filter(isSidecar).map((c) => c.name);
    const nameOf = (info: ContainerInfo) => containerIdentity(info.labels)?.containerName ?? "";
    const main = running.filter((c) => !sidecars.includes(nameOf(c)));
    await Promise.all(
      main.map((info) => this.#kill(record, specOf(pod, nameOf(info)), info, gracePeriodSeconds, { override })),
    );
    for (const name of [...sidecars].reverse()) {
      for (const info of running.filter((c) => nameOf(c) === name)) {
        await this.#kill(record, specOf(pod, name), info, gracePeriodSeconds, { override });
      }
    }
    record.mark = this.#pleg.mark();
    await this.#pleg.newerThan(record.mark);
  }

  /** Tears down a pod's sandbox and volumes and frees its devices. */
  async #cleanUp(record: PodRecord): Promise<void> {
    await this.#sandbox.tearDown(record.pod);
    record.sandboxReady = false;
    await this.#volumes.tearDown(record.uid);
    this.#devices.releasePod(record.uid);
    this.#images.forgetPod(record.uid);
    this.#crashBackoff.forgetWhere((key) => key.startsWith(`${record.uid}/`));
    this.#retryBackoff.forgetWhere((key) => key.startsWith(`${record.uid}/`));
    record.cleanedUp = true;
  }

  /**
   * A pod being deleted (or gone from the API): stop its containers within
   * its grace period, tear down its sandbox and volumes, report the final
   * status and delete it from the API; once it is gone, remove its
   * containers and its directory.
   */
  async #terminate(record: PodRecord): Promise<SyncOutcome> {
    const pod = record.pod;
    const spec = pod.spec ?? { containers: [] };
    const grace = record.removed
      ? Math.min(GONE_GRACE_SECONDS, pod.metadata.deletionGracePeriodSeconds ?? GONE_GRACE_SECONDS)
      : pod.metadata.deletionGracePeriodSeconds ?? spec.terminationGracePeriodSeconds ?? 30;
    await this.#killAll(record, grace, record.removed);
    if (this.#pleg.podContainers(record.uid).some((c) => c.state === "running")) {
      throw new Error(`Containers of pod ${pod.metadata.namespace}/${pod.metadata.name} are still running after stop`);
    }
    await this.#cleanUp(record);
    if (!record.removed) {
      await this.#readMessages(record);
      this.#setStatus(record, true);
      await this.#status.flush(record.uid);
      if (!record.deleteSent) {
        try {
          await this.#o.client.kind<Pod>("v1", "Pod").delete(pod.metadata.name ?? "", {
            namespace: pod.metadata.namespace ?? "default",
            gracePeriodSeconds: 0,
            preconditions: { uid: record.uid },
          });
        } catch (error) {
          if (!(error instanceof NotFoundError || error instanceof ConflictError)) throw error;
        }
        record.deleteSent = true;
      }
      return {};
    }
    for (const info of this.#pleg.podContainers(record.uid)) await this.#o.runtime.removeContainer(info.id);
    record.mark = this.#pleg.mark();
    await removeUnmounted(podDir(this.#o.dataDir, record.uid));
    this.#status.forget(record.uid);
    this.#probes.removePod(record.uid);
    record.done = true;
    if (this.#records.get(record.uid) === record) this.#records.delete(record.uid);
    return {};
  }

  #scheduleGc(): void {
    if (!this.#running) return;
    this.#gcTimer = this.#clock.setTimeout(() => {
      this.#gcTimer = undefined;
      this.#gcRunning = this.#collectGarbage()
        .catch((error) => this.#log(`Garbage collection failed: ${message(error)}; retrying later`))
        .finally(() => {
          this.#gcRunning = undefined;
          this.#scheduleGc();
        });
    }, GC_INTERVAL_MS);
  }

  /**
   * Removes what belongs to pods that no longer exist: their containers
   * (stopped at once), sandboxes (and stray namespaces and addresses),
   * volumes and pod directories with their logs.
   */
  async #collectGarbage(): Promise<void> {
    await this.#pleg.newerThan(this.#pleg.mark());
    const orphans = this.#pleg.containers.filter((info) => {
      const identity = containerIdentity(info.labels);
      return identity !== undefined && !this.#records.has(identity.podUid);
    });
    const silent: EventSink = { event: () => {} };
    const removed = new Set<string>();
    await Promise.all(orphans.map(async (info) => {
      const identity = containerIdentity(info.labels)!;
      try {
        if (info.state === "running") {
          await killContainer({
            runtime: this.#o.runtime,
            recorder: silent,
            clock: this.#clock,
            pod: { metadata: { name: identity.podName, namespace: identity.podNamespace, uid: identity.podUid } },
            info,
            gracePeriodSeconds: GONE_GRACE_SECONDS,
            override: true,
          });
        }
        await this.#o.runtime.removeContainer(info.id);
        removed.add(info.id);
        this.#devices.releasePod(identity.podUid);
        this.#log(`Removed container ${info.id} of pod ${identity.podNamespace}/${identity.podName}, which is gone`);
      } catch (error) {
        this.#log(`Cannot remove orphaned container ${info.id}: ${message(error)}; retrying at the next collection`);
      }
    }));
    // Pods whose containers still run (an orphan that could not be stopped) keep their sandboxes.
    const live = new Set(this.#records.keys());
    for (const info of this.#pleg.containers) {
      const identity = containerIdentity(info.labels);
      if (identity && info.state === "running" && !removed.has(info.id)) live.add(identity.podUid);
    }
    const report = await this.#o.network.gc(live);
    for (const failure of report.failures) {
      this.#log(`Cannot collect network leftovers of ${failure.subject}: ${failure.error.message}`);
    }
    for (const uid of report.sandboxes) this.#log(`Removed the network sandbox of pod ${uid}, which is gone`);
    if (report.namespaces.length > 0 || report.addresses.length > 0) {
      this.#log(
        `Removed network leftovers no pod claims: namespaces [${report.namespaces.join(", ")}], addresses [${
          report.addresses.join(", ")
        }]`,
      );
    }
    if (report.inUse.length > 0) {
      this.#log(
        `Kept network namespaces no pod claims because processes still run in them: ${
          report.inUse.join(", ")
        }; they are collected once those processes stop`,
      );
    }
    for (const uid of await this.#volumes.podDirs()) {
      if (this.#records.has(uid)) continue;
      try {
        await this.#volumes.tearDown(uid);
        if (this.#records.has(uid)) continue;
        await removeUnmounted(podDir(this.#o.dataDir, uid));
      } catch (error) {
        this.#log(`Cannot remove the directory of pod ${uid}, which is gone: ${message(error)}`);
      }
    }
    this.#crashBackoff.gc();
    this.#retryBackoff.gc();
  }
}
