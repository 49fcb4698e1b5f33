/**
 * {@linkcode ContainerdRuntime}: the {@linkcode Runtime} of a real node,
 * containerd driven through its CLI, `ctr -a <socket> -n <namespace>`.
 *
 * How each part maps onto containerd:
 *
 * - **Create** resolves the image (manifest and config from the content
 *   store), prepares a writable snapshot on the image's layers and mounts it
 *   under the state directory, then writes the container's whole OCI spec
 *   (containerd's default spec, the image config, the container spec: ctr
 *   1.6 has no flag for the user and group). The container is `created`:
 *   its rootfs and spec exist; containerd holds nothing else yet.
 * - **Start** is one call, `ctr run -d --config <spec> --log-uri … --label …`
 *   (`ctr containers create` would take the command's dash-arguments for its
 *   own flags, and one call is the fastest start). A crash between
 *   containerd creating the container and starting its task leaves a
 *   container without a task and no exit: it is still `created`, and start
 *   then runs `ctr tasks start` for it.
 * - **State** comes from a view kept current by one `ctr events` stream
 *   (task start, exit, OOM, delete) and rebuilt from `ctr containers ls -q`
 *   plus `ctr tasks ls` when the stream (re)connects and every
 *   `resyncIntervalMs`: listing the containers every second costs no ctr
 *   call at all in between.
 * - **Exit status** is captured when the task exits: the exit event gives
 *   code and time, the `/tasks/oom` event or the cgroup's `oom_kill` counter
 *   the OOM kill; it is written to the state directory and the task is
 *   deleted at once (freeing its shim). An exit that happened while no
 *   runtime was watching (the agent was down) is found as a stopped task
 *   when the stream reconnects; deleting it makes containerd publish
 *   `/tasks/delete` with the exit code and time the shim kept, and the
 *   cgroup still tells whether it was OOM-killed.
 * - **Stop** sends SIGTERM, waits for the grace period, then SIGKILL.
 * - **Logs**: see `_log_writer.ts` (one FIFO per container, read by the
 *   agent into CRI-format, rotated files); {@linkcode ContainerdRuntime.followLogs}
 *   streams them.
 *
 * Measured here (2 vCPU VM shared with other work, containerd 1.6.20,
 * busybox image; the second figure under load): `ctr run -d` 0.21–0.46 s;
 * create (image from the listing `ensureImage` just made, snapshot prepare
 * 50–75 ms, mount ~5 ms, spec) plus start, 1.2× `ctr run -d` in the same run
 * (median 0.52 s against 0.43 s); `ctr tasks exec` 0.13–0.28 s; `ctr tasks
 * metrics` 0.05–0.07 s; `ctr containers ls -q` 0.07–0.09 s; `ctr tasks ls`
 * 0.07–0.09 s; each ctr call costs ~50 ms of CPU, which is why listing is
 * served from the event view (0.05 ms, no ctr call). The `ctr events`
 * process holds ~20 MB RSS (3.5 MB of it private). Each running container
 * has its containerd shim (~13 MB RSS), as with any containerd.
 *
 * Container log files are the caller's (`logPath`): removing a container
 * leaves them, for `logs --previous`.
 *
 * Not supported by ctr 1.6 and refused with a clear error: `tty` (a
 * detached task cannot allocate a terminal). stdout and stderr share one
 * log stream.
 *
 * @example
 * ```ts
 * import { ContainerdRuntime } from "./containerd_runtime.ts";
 *
 * await using runtime = new ContainerdRuntime({ stateDir: "/var/lib/skiff/runtime" });
 * await runtime.ensureImage("busybox");
 * await runtime.createContainer({ id: "c1", image: "busybox", command: ["sleep", "60"], labels: {} });
 * await runtime.startContainer("c1");
 * ```
 *
 * @module
 */

import { pathExists } from "../_fs.ts";
import { join } from "node:path";
import { normalizeImageReference } from "@skiff/api";
import { CommandError, type Exec, run } from "../_exec.ts";
import {
  Ctr,
  type CtrEvent,
  ctrMessage,
  DEFAULT_CONTAINERD_ADDRESS,
  type ImageEntry,
  isNotFound,
  parseDeleteExitCode,
  parseMetrics,
  PullProgressParser,
  type TaskEntry,
  type TaskMetrics,
} from "./_ctr.ts";
import { EventStream } from "./_events.ts";
import { ImageResolver, type ResolvedImage } from "./_image_config.ts";
import { FifoLogPumps, type LogRotation } from "./_log_writer.ts";
import { buildOciSpec, deviceInfo, hostDevices, type OciSpec } from "./_oci_spec.ts";
import { type Spawn, type SpawnPiped, spawnPiped } from "./_spawn.ts";
import { type ExecSession, type ExecStreamOptions, startCtrExec } from "./exec_session.ts";
import { type ContainerRecord, isValidContainerId, RecordStore, StateLayout } from "./_state.ts";
import { followContainerLog, type FollowLogOptions, readContainerLog, type ReadLogOptions } from "./container_log.ts";
import {
  type ContainerFilter,
  type ContainerInfo,
  ContainerNotFoundError,
  type ContainerSpec,
  type ContainerStats,
  type EnsuredImage,
  type EnsureImageOptions,
  type ExecOptions,
  type ExecResult,
  type ImageInfo,
  ImagePullError,
  LABEL_POD_NAME,
  type LogOptions,
  type Runtime,
  type RuntimeVersion,
  type StopOptions,
} from "./runtime.ts";

export { DEFAULT_CONTAINERD_ADDRESS };

/** The containerd namespace the agent uses by default. */
export const DEFAULT_NAMESPACE = "skiff";

/** Labels the runtime puts on containerd containers for itself; they are not reported. */
const INTERNAL_LABEL_PREFIX = "skiff.runtime/";
const LABEL_IMAGE = `${INTERNAL_LABEL_PREFIX}image`;
const LABEL_IMAGE_ID = `${INTERNAL_LABEL_PREFIX}image-id`;
const LABEL_LOG_PATH = `${INTERNAL_LABEL_PREFIX}log-path`;
const LABEL_CREATED_AT = `${INTERNAL_LABEL_PREFIX}created-at`;

/** Exit code recorded when a task ended and nobody could learn how. */
export const EXIT_CODE_UNKNOWN = 255;
/** Exit code recorded when a task could not start. */
export const EXIT_CODE_START_FAILED = 128;
const SIGKILL_WAIT_MS = 10_000;
/** How long `ctr tasks exec` may take past an exec's timeout before ctr itself is killed. */
const EXEC_KILL_GRACE_MS = 30_000;
/** How long an image listing is trusted when creating a container while the event stream is down. */
const IMAGE_LIST_TTL_MS = 30_000;

/**
 * How far an image listing may be trusted: `cached` while the event stream
 * says no image changed since it was taken, `recent` also within
 * {@linkcode IMAGE_LIST_TTL_MS} otherwise, `fresh` never (list again).
 */
type ImageLookup = "cached" | "recent" | "fresh";

/** Options of {@linkcode ContainerdRuntime}. */
export interface ContainerdRuntimeOptions {
  /** Where the runtime keeps its records, specs, rootfs mounts and FIFOs (e.g. `<data-dir>/runtime`). */
  stateDir: string;
  /** containerd's socket (default /run/containerd/containerd.sock). */
  address?: string;
  /** containerd namespace (default `skiff`). */
  namespace?: string;
  /** Runs commands (default: the agent's `run`). */
  exec?: Exec;
  /** Starts streaming commands (default: the real `spawn`). */
  spawn?: Spawn;
  /** Starts interactive execs (default: the real `spawnPiped`). */
  spawnPiped?: SpawnPiped;
  /** Size bounds of container logs (default 10 MiB, 5 files). */
  logRotation?: LogRotation;
  /** How often the event-fed view is checked against a full listing, in ms (default 30000). */
  resyncIntervalMs?: number;
  /** How long to wait for containerd's event stream on first use, in ms (default 15000). */
  connectTimeoutMs?: number;
  /**
   * Called with errors of background work (event stream, log collection,
   * recording exits); they are retried. Default: printed to stderr.
   */
  onError?: (error: Error) => void;
}

interface View {
  containers: Set<string>;
  tasks: Map<string, TaskEntry>;
}

interface ExitInfo {
  exitCode: number;
  finishedAt: number;
}

/** The containerd runtime. */
export class ContainerdRuntime implements Runtime, AsyncDisposable {
  readonly #ctr: Ctr;
  readonly #exec: Exec;
  readonly #layout: StateLayout;
  readonly #records: RecordStore;
  readonly #images: ImageResolver;
  readonly #pumps: FifoLogPumps;
  readonly #events: EventStream;
  readonly #options: ContainerdRuntimeOptions;
  #init: Promise<void> | undefined;
  #closed = false;
  #baseSpec: Promise<OciSpec> | undefined;

  #view: View = { containers: new Set(), tasks: new Map() };
  #synced = false;
  #lastSync = 0;
  #syncing: Promise<void> | undefined;
  #seq = 0;
  #touched = new Map<string, number>();

  #exitEvents = new Map<string, ExitInfo>();
  #deleteEvents = new Map<string, ExitInfo>();
  #deleteWaiters = new Map<string, Set<(info: ExitInfo | undefined) => void>>();
  #starting = new Set<string>();
  #creating = new Set<string>();
  /** Containers of the namespace that this runtime did not create (not adopted). */
  #foreign = new Set<string>();
  #ooms = new Set<string>();
  #reaping = new Map<string, Promise<void>>();
  #exitWaiters = new Map<string, Set<() => void>>();
  #pulls = new Map<string, Promise<EnsuredImage>>();
  #imageList = new Map<string, ImageEntry>();
  #imagesListedAt = 0;
  /**
   * Bumped by every image event of the stream, each (re)connection of the
   * stream, and this runtime's own pulls and removals: the listing is
   * current while `#imageListEpoch` equals it and the stream is up.
   */
  #imageEpoch = 0;
  #imageListEpoch = -1;
  #background = new Set<Promise<unknown>>();

  /** A runtime over the containerd at `options.address`, keeping its state in `options.stateDir`. */
  constructor(options: ContainerdRuntimeOptions) {
    if (!options.stateDir) throw new TypeError('Invalid option "stateDir": it is empty');
    this.#options = options;
    this.#exec = options.exec ?? run;
    this.#ctr = new Ctr({
      address: options.address ?? DEFAULT_CONTAINERD_ADDRESS,
      namespace: options.namespace ?? DEFAULT_NAMESPACE,
      exec: this.#exec,
      ...(options.spawn ? { spawn: options.spawn } : {}),
    });
    this.#layout = new StateLayout(options.stateDir);
    this.#records = new RecordStore(this.#layout);
    this.#images = new ImageResolver(this.#ctr);
    this.#pumps = new FifoLogPumps({
      ...options.logRotation,
      onError: (id, error) => this.#report(new Error(`Cannot write the log of container "${id}": ${error.message}`)),
    });
    this.#events = new EventStream(this.#ctr, {
      onEvent: (event) => this.#onEvent(event),
      onReady: () => {
        this.#imageEpoch++;
        this.#synced = false;
        this.#track(this.#sync());
      },
      onError: (error) => this.#report(error),
    });
  }

  /** containerd's socket. */
  get address(): string {
    return this.#ctr.address;
  }

  /** The containerd namespace. */
  get namespace(): string {
    return this.#ctr.namespace;
  }

  /** containerd's name and version. */
  async version(): Promise<RuntimeVersion> {
    return { name: "containerd", version: await this.#ctr.version() };
  }

  /**
   * Stops watching containerd (the event stream, log collection). Containers
   * keep running; a new runtime on the same state directory adopts them.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#init?.catch(() => {});
    await this.#events.close();
    await Promise.allSettled([...this.#background]);
    await Promise.allSettled([...this.#reaping.values()]);
    await this.#pumps.close();
  }

  /** Same as {@linkcode ContainerdRuntime.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- images ----

  /** Makes an image present as the pull policy says, pulling with `ctr images pull`. */
  ensureImage(ref: string, options: EnsureImageOptions = {}): Promise<EnsuredImage> {
    let normalized: string;
    try {
      normalized = normalizeImageReference(ref);
    } catch (cause) {
      return Promise.reject(new ImagePullError(ref, "ErrImagePull", (cause as Error).message, { cause }));
    }
    const key = `${normalized}\n${options.pullPolicy ?? "IfNotPresent"}`;
    let pending = this.#pulls.get(key);
    if (!pending) {
      pending = this.#ensureImage(ref, normalized, options).finally(() => this.#pulls.delete(key));
      this.#pulls.set(key, pending);
    }
    return pending;
  }

  async #ensureImage(ref: string, normalized: string, options: EnsureImageOptions): Promise<EnsuredImage> {
    this.#assertOpen();
    const policy = options.pullPolicy ?? "IfNotPresent";
    const present = await this.#findImage(normalized, policy === "Always" ? "fresh" : "cached");
    if (present && policy !== "Always") return { ...(await this.#imageInfo(present)), pulled: false };
    if (!present && policy === "Never") {
      throw new ImagePullError(ref, "ErrImageNeverPull", "it is not present and the pull policy is Never");
    }
    options.signal?.throwIfAborted();
    const proc = this.#ctr.pull(normalized);
    const abort = () => proc.kill("SIGTERM");
    options.signal?.addEventListener("abort", abort, { once: true });
    const parser = new PullProgressParser();
    try {
      for await (const line of proc.lines) {
        const progress = parser.push(line);
        if (progress) options.onProgress?.({ ref: normalized, ...progress });
      }
      const status = await proc.status;
      options.signal?.throwIfAborted();
      if (status.code !== 0) {
        const stderr = await proc.stderr;
        const message = stderr.split("\n").map((l) => l.trim()).findLast((l) => l.startsWith("ctr: "));
        throw new ImagePullError(ref, "ErrImagePull", message ? message.slice(5) : `ctr exited with ${status.code}`);
      }
    } finally {
      options.signal?.removeEventListener("abort", abort);
      // Ended early (a throwing onProgress): do not leave ctr pulling.
      proc.kill("SIGTERM");
      await proc.status;
    }
    this.#imageEpoch++;
    const pulled = await this.#findImage(normalized, "fresh");
    if (!pulled) throw new ImagePullError(ref, "ErrImagePull", "ctr reported success but the image is not present");
    const info = await this.#imageInfo(pulled);
    options.onProgress?.({ ref: normalized, doneBytes: info.sizeBytes, totalBytes: info.sizeBytes });
    return { ...info, pulled: true };
  }

  /**
   * The images present, with their sizes and architectures: from the last
   * `ctr images ls` while containerd's event stream says no image changed
   * since, else from a new one.
   */
  async listImages(): Promise<ImageInfo[]> {
    this.#assertOpen();
    const entries = this.#imagesCurrent() ? this.#imageList : await this.#listImageEntries();
    return await Promise.all([...entries.values()].map((entry) => this.#imageInfo(entry)));
  }

  /** Removes an image; absent images are ignored. */
  async removeImage(ref: string): Promise<void> {
    this.#assertOpen();
    const normalized = normalizeImageReference(ref);
    await this.#ctr.removeImage(normalized);
    this.#imageEpoch++;
    this.#imageList.delete(normalized);
  }

  /**
   * The image `ref`, from the last `ctr images ls` when `lookup` trusts it
   * and it has the image, else from a new listing: with the event stream
   * up, an image present costs no ctr call per container.
   */
  async #findImage(ref: string, lookup: ImageLookup): Promise<ImageEntry | undefined> {
    if (lookup !== "fresh") {
      const recent = lookup === "recent" && Date.now() - this.#imagesListedAt < IMAGE_LIST_TTL_MS;
      const known = this.#imagesCurrent() || recent ? this.#imageList.get(ref) : undefined;
      if (known) return known;
    }
    return (await this.#listImageEntries()).get(ref);
  }

  /** Whether the last image listing still holds: no image event since, and the stream up all along. */
  #imagesCurrent(): boolean {
    return this.#events.ready && this.#imageListEpoch === this.#imageEpoch;
  }

  /** Lists the images with `ctr images ls` and keeps the listing. */
  async #listImageEntries(): Promise<Map<string, ImageEntry>> {
    // Taken before the call: an image event arriving meanwhile makes this listing stale at once.
    const epoch = this.#events.ready ? this.#imageEpoch : -1;
    const entries = await this.#ctr.listImages();
    this.#imageList = new Map(entries.map((e) => [e.ref, e]));
    this.#imageListEpoch = epoch;
    this.#imagesListedAt = Date.now();
    return this.#imageList;
  }

  async #imageInfo(entry: ImageEntry): Promise<ImageInfo> {
    try {
      const resolved = await this.#images.resolve(entry.digest, entry.mediaType);
      return { ref: entry.ref, id: entry.digest, sizeBytes: resolved.sizeBytes, architecture: resolved.architecture };
    } catch {
      // Content for this platform is missing (e.g. an index fetched for another platform only).
      return { ref: entry.ref, id: entry.digest, sizeBytes: 0 };
    }
  }

  // ---- containers ----

  /** Prepares the container's rootfs and spec; its state is `created`. */
  async createContainer(spec: ContainerSpec): Promise<ContainerInfo> {
    await this.#ready();
    const id = spec.id;
    if (!id) throw new TypeError("Cannot create a container: spec.id is empty");
    if (!isValidContainerId(id)) {
      throw new TypeError(
        `Cannot create container "${id}": the id must be 1 to 128 letters, digits, "_", "." or "-", starting with a letter or digit`,
      );
    }
    if (spec.tty) {
      throw new TypeError(
        `Cannot create container "${id}": tty is not supported (ctr cannot give a detached task a terminal)`,
      );
    }
    if (this.#creating.has(id) || await this.#records.get(id) || this.#view.containers.has(id)) {
      throw new Error(`Cannot create container "${id}": a container with that id exists`);
    }
    this.#creating.add(id);
    try {
      return await this.#create(id, spec);
    } finally {
      this.#creating.delete(id);
    }
  }

  async #create(id: string, spec: ContainerSpec): Promise<ContainerInfo> {
    let ref: string;
    try {
      ref = normalizeImageReference(spec.image);
    } catch (cause) {
      throw new TypeError(`Cannot create container "${id}": ${(cause as Error).message}`, { cause });
    }
    const devices = await Promise.all((spec.devices ?? []).map((path) => deviceInfo(path)));
    const rootfs = this.#layout.rootfs(id);
    const { entry, image } = await this.#prepareRootfs(id, ref, rootfs);
    try {
      const files = await readImageFiles(rootfs);
      const podName = spec.labels[LABEL_POD_NAME];
      const oci = buildOciSpec(spec, {
        base: await this.#defaultSpec(),
        image: image.config,
        namespace: this.namespace,
        rootfs,
        ...files,
        devices,
        ...(spec.privileged ? { hostDevices: await hostDevices() } : {}),
        ...(podName ? { hostname: podName.slice(0, 63) } : {}),
      });
      await Deno.mkdir(join(this.#layout.root, "specs"), { recursive: true });
      await Deno.writeTextFile(this.#layout.spec(id), JSON.stringify(oci));
      const record: ContainerRecord = {
        id,
        image: ref,
        imageId: entry.digest,
        labels: { ...spec.labels },
        ...(spec.logPath ? { logPath: spec.logPath } : {}),
        createdAt: Date.now(),
        cgroupsPath: oci.linux?.cgroupsPath ?? `/${this.namespace}/${id}`,
      };
      await this.#records.put(record);
      return this.#infoOf(record);
    } catch (error) {
      await this.#removeRootfs(id);
      await Deno.remove(this.#layout.spec(id)).catch(() => {});
      throw error;
    }
  }

  /** Starts a created container: `ctr run -d --config …`. */
  async startContainer(id: string): Promise<void> {
    await this.#ready();
    const record = await this.#records.get(id);
    if (!record) {
      if (this.#view.containers.has(id)) throw new Error(`Cannot start container "${id}": it is not created`);
      throw new ContainerNotFoundError(id);
    }
    const info = this.#infoOf(record);
    if (info.state !== "created") {
      throw new Error(`Cannot start container "${id}": it is ${info.state}, not created`);
    }
    const fifo = this.#layout.fifo(id);
    const logUri = record.logPath ? `file://${fifo}` : undefined;
    const pidFile = this.#layout.pidFile(id);
    // Independent of each other: the log FIFO and the pid file's directory.
    await Promise.all([
      record.logPath ? this.#pumps.open(id, fifo, record.logPath) : undefined,
      Deno.mkdir(join(this.#layout.root, "pids"), { recursive: true }).then(() => Deno.remove(pidFile).catch(() => {})),
    ]);
    const seq = ++this.#seq;
    this.#starting.add(id);
    try {
      record.startedAt = Date.now();
      await this.#records.put(record);
      await this.#launch(record, logUri, pidFile, seq);
    } finally {
      this.#starting.delete(id);
    }
  }

  async #launch(record: ContainerRecord, logUri: string | undefined, pidFile: string, seq: number): Promise<void> {
    const id = record.id;
    try {
      if (this.#view.containers.has(id)) {
        await this.#ctr.startTask(id, { ...(logUri ? { logUri } : {}), pidFile });
      } else {
        await this.#ctr.runDetached(id, {
          specPath: this.#layout.spec(id),
          ...(logUri ? { logUri } : {}),
          labels: { ...record.labels, ...internalLabels(record) },
          pidFile,
        });
      }
    } catch (error) {
      await this.#failedStart(record, error);
      throw new Error(`Cannot start container "${id}": ${ctrMessage(error)}`, { cause: error });
    }
    const pid = Number((await Deno.readTextFile(pidFile).catch(() => "")).trim()) || 0;
    await Deno.remove(pidFile).catch(() => {});
    if ((this.#touched.get(id) ?? 0) <= seq) {
      this.#view.containers.add(id);
      this.#view.tasks.set(id, { id, pid, status: "RUNNING" });
      this.#touched.set(id, ++this.#seq);
    }
    const started = pid > 0 ? await processStartTime(pid) : undefined;
    if (started !== undefined && !record.exit) {
      record.startedAt = started;
      await this.#records.put(record);
    }
  }

  /** SIGTERM, the grace period, then SIGKILL; resolves once the container has exited. */
  async stopContainer(id: string, options: StopOptions = {}): Promise<void> {
    const info = await this.inspectContainer(id);
    if (info.state !== "running") return;
    const graceMs = Math.max(0, options.gracePeriodSeconds ?? 30) * 1000;
    if (graceMs > 0) {
      await this.#signal(id, "SIGTERM");
      if (await this.#waitExit(id, graceMs)) return;
    }
    await this.#signal(id, "SIGKILL");
    if (!await this.#waitExit(id, SIGKILL_WAIT_MS)) {
      throw new Error(`Cannot stop container "${id}": it did not exit ${SIGKILL_WAIT_MS / 1000} s after SIGKILL`);
    }
  }

  /**
   * Removes a container that is not running, with its snapshot, mount and
   * FIFO. An id that neither containerd (as the event-fed view has it) nor
   * the state directory knows costs no ctr call.
   */
  async removeContainer(id: string): Promise<void> {
    await this.#ready();
    const task = await this.#currentTask(id);
    if (task && isRunning(task)) {
      throw new Error(`Cannot remove container "${id}": it is running; stop it first`);
    }
    if (task) await this.#reap(id);
    const inContainerd = task !== undefined || this.#view.containers.has(id) || this.#creating.has(id) ||
      this.#starting.has(id) || !this.#events.ready;
    if (inContainerd) await this.#ctr.removeContainer(id);
    this.#view.containers.delete(id);
    this.#view.tasks.delete(id);
    this.#touched.set(id, ++this.#seq);
    this.#pumps.finish(id);
    if (inContainerd || await this.#records.get(id) || await pathExists(this.#layout.rootfs(id))) {
      await this.#removeRootfs(id);
    }
    for (const path of [this.#layout.spec(id), this.#layout.fifo(id), this.#layout.pidFile(id)]) {
      await Deno.remove(path).catch(() => {});
    }
    await this.#records.remove(id);
    this.#exitEvents.delete(id);
    this.#deleteEvents.delete(id);
    this.#ooms.delete(id);
  }

  /** The containers matching `filter`. */
  async listContainers(filter: ContainerFilter = {}): Promise<ContainerInfo[]> {
    await this.#ready();
    await this.#fresh();
    const ids = new Set([...this.#view.containers, ...this.#records.all().map((r) => r.id)]);
    const out: ContainerInfo[] = [];
    const wanted = Object.entries(filter.labels ?? {});
    for (const id of ids) {
      const record = this.#records.peek(id) ?? await this.#adopt(id);
      if (!record) continue;
      const info = this.#infoOf(record);
      if (filter.states && !filter.states.includes(info.state)) continue;
      if (!wanted.every(([k, v]) => info.labels[k] === v)) continue;
      out.push(info);
    }
    return out;
  }

  /** One container. */
  async inspectContainer(id: string): Promise<ContainerInfo> {
    await this.#ready();
    await this.#fresh();
    const record = await this.#records.get(id) ?? await this.#adopt(id);
    if (!record) throw new ContainerNotFoundError(id);
    return this.#infoOf(record);
  }

  /**
   * Runs a command in the running container with `ctr tasks exec`. ctr has
   * no flag for an exec's environment, so `options.env` runs the command
   * through the container's `env` program. A command that cannot be
   * executed gives 127 (not found) or 126, as a shell reports it.
   */
  async exec(id: string, command: string[], options: ExecOptions = {}): Promise<ExecResult> {
    if (command.length === 0) throw new TypeError("Cannot exec: the command is empty");
    const info = await this.inspectContainer(id);
    if (info.state !== "running") {
      throw new Error(`Cannot exec in container "${id}": it is ${info.state}, not running`);
    }
    const execId = `exec-${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}`;
    const argv = options.env && options.env.length > 0
      ? ["env", ...options.env.map((e) => `${e.name}=${e.value}`), ...command]
      : command;
    // On timeout the process is killed inside the container (ctr then returns its 137 and cleans
    // up the exec); killing ctr instead would leave the process running, or not yet started.
    const deadline = options.timeoutMs === undefined ? undefined : new ExecDeadline(options.timeoutMs, async () => {
      try {
        await this.#ctr.kill(id, "SIGKILL", { execId });
        return true;
      } catch {
        return false;
      }
    });
    try {
      const result = await this.#ctr.exec(id, execId, argv, {
        ...(options.stdin !== undefined ? { stdin: options.stdin } : {}),
        ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs + EXEC_KILL_GRACE_MS } : {}),
      });
      const timedOut = await deadline?.settle() ?? false;
      return { exitCode: timedOut ? 137 : result.code, stdout: result.stdout, stderr: result.stderr, timedOut };
    } catch (error) {
      await deadline?.settle();
      if (error instanceof CommandError && error.timedOut) {
        await this.#ctr.kill(id, "SIGKILL", { execId }).catch(() => {});
        return { exitCode: 137, stdout: error.stdout, stderr: error.stderr, timedOut: true };
      }
      throw new Error(`Cannot exec in container "${id}": ${ctrMessage(error)}`, { cause: error });
    }
  }

  /**
   * Starts an interactive exec: `ctr tasks exec` with its streams piped
   * (in a terminal of its own with `tty`, see {@linkcode startCtrExec}).
   */
  async execStream(id: string, command: string[], options: ExecStreamOptions = {}): Promise<ExecSession> {
    if (command.length === 0) throw new TypeError("Cannot exec: the command is empty");
    const info = await this.inspectContainer(id);
    if (info.state !== "running") {
      throw new Error(`Cannot exec in container "${id}": it is ${info.state}, not running`);
    }
    return startCtrExec({
      ...options,
      id,
      execId: `exec-${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}`,
      command,
      ctr: this.#ctr,
      exec: this.#exec,
      spawnPiped: this.#options.spawnPiped ?? spawnPiped,
    });
  }

  /**
   * The container's output so far, from its log files; beyond
   * {@linkcode LogOptions}, `sinceMs` and `timestamps` as {@linkcode readContainerLog} takes them.
   */
  async logs(id: string, options: LogOptions & ReadLogOptions = {}): Promise<string> {
    const record = await this.#recordOf(id);
    if (!record.logPath) return "";
    return await readContainerLog(record.logPath, options);
  }

  /**
   * Streams the container's output (see {@linkcode followContainerLog}),
   * ending once the container has exited and its output is read.
   */
  async *followLogs(id: string, options: Omit<FollowLogOptions, "stopWhen"> = {}): AsyncGenerator<string> {
    const record = await this.#recordOf(id);
    if (!record.logPath) return;
    yield* followContainerLog(record.logPath, {
      ...options,
      stopWhen: async () => {
        const info = await this.inspectContainer(id).catch(() => undefined);
        return info === undefined || info.state === "exited";
      },
    });
  }

  /**
   * CPU and memory of the running container, read from its cgroup's files
   * (v1 or v2; a few file reads), else from `ctr tasks metrics` (a process
   * per container: ~60 ms of CPU each, which made a metrics round over 30
   * pods cost 1.7 s of CPU).
   */
  async stats(id: string): Promise<ContainerStats> {
    const info = await this.inspectContainer(id);
    if (info.state !== "running") {
      throw new Error(`Cannot read stats of container "${id}": it is ${info.state}, not running`);
    }
    const record = await this.#recordOf(id);
    const fromCgroup = await cgroupMetrics(record.cgroupsPath);
    if (fromCgroup) return { timestamp: Date.now(), ...fromCgroup };
    let json: Record<string, unknown>;
    try {
      json = await this.#ctr.metrics(id);
    } catch (error) {
      throw new Error(`Cannot read stats of container "${id}": ${ctrMessage(error)}`, { cause: error });
    }
    return { timestamp: Date.now(), ...parseMetrics(json) };
  }

  // ---- internals ----

  #assertOpen(): void {
    if (this.#closed) throw new Error("The containerd runtime is closed");
  }

  #report(error: Error): void {
    if (this.#options.onError) this.#options.onError(error);
    else console.error(`containerd runtime (namespace "${this.namespace}"): ${error.message}`);
  }

  #track(promise: Promise<unknown>): void {
    const tracked = promise.catch((error) => this.#report(error as Error)).finally(() =>
      this.#background.delete(tracked)
    );
    this.#background.add(tracked);
  }

  /** Loads records, creates the namespace and waits for the event stream. */
  #ready(): Promise<void> {
    this.#assertOpen();
    this.#init ??= (async () => {
      await this.#records.load();
      await this.#ctr.createNamespace();
      this.#events.start();
      await this.#events.whenReady(this.#options.connectTimeoutMs ?? 15_000);
    })().catch((error) => {
      this.#init = undefined;
      throw error;
    });
    return this.#init;
  }

  #defaultSpec(): Promise<OciSpec> {
    this.#baseSpec ??= this.#ctr.run(["oci", "spec"]).then((r) => JSON.parse(r.stdout) as OciSpec);
    this.#baseSpec.catch(() => this.#baseSpec = undefined);
    return this.#baseSpec;
  }

  /** Makes the view trustworthy: rebuilt when the stream is down or the last full listing is old. */
  async #fresh(): Promise<void> {
    const interval = this.#options.resyncIntervalMs ?? 30_000;
    if (!this.#synced || !this.#events.ready || Date.now() - this.#lastSync > interval) await this.#sync();
    const stopped = [...this.#view.tasks.values()].filter((t) => t.status === "STOPPED").map((t) => t.id);
    await Promise.all(stopped.map((id) => this.#reap(id)));
  }

  /** Rebuilds the view from `ctr containers ls -q` and `ctr tasks ls`; records stopped tasks' exits. */
  #sync(): Promise<void> {
    this.#syncing ??= (async () => {
      const since = this.#seq;
      const [ids, tasks] = await Promise.all([this.#ctr.containerIds(), this.#ctr.listTasks()]);
      const fresh = (id: string) => (this.#touched.get(id) ?? 0) <= since;
      const containers = new Set([...this.#view.containers].filter((id) => !fresh(id)));
      for (const id of ids) if (fresh(id)) containers.add(id);
      const taskMap = new Map([...this.#view.tasks].filter(([id]) => !fresh(id)));
      for (const task of tasks) if (fresh(task.id)) taskMap.set(task.id, task);
      this.#view = { containers, tasks: taskMap };
      this.#synced = true;
      this.#lastSync = Date.now();
      for (const [id, seq] of this.#touched) if (seq <= since && !this.#starting.has(id)) this.#touched.delete(id);
      for (const id of this.#foreign) if (!containers.has(id)) this.#foreign.delete(id);
      for (const task of taskMap.values()) {
        if (task.status === "STOPPED") this.#track(this.#reap(task.id));
        else if (isRunning(task)) this.#track(this.#resumePump(task.id));
      }
    })().finally(() => this.#syncing = undefined);
    return this.#syncing;
  }

  /** Reopens the log FIFO of a container started by an earlier runtime. */
  async #resumePump(id: string): Promise<void> {
    if (this.#closed || this.#pumps.ids.includes(id)) return;
    const record = await this.#records.get(id) ?? await this.#adopt(id);
    if (!record?.logPath) return;
    try {
      await Deno.lstat(this.#layout.fifo(id));
    } catch {
      return;
    }
    await this.#pumps.open(id, this.#layout.fifo(id), record.logPath);
  }

  #onEvent(event: CtrEvent): void {
    if (event.topic.startsWith("/images/")) {
      this.#imageEpoch++;
      return;
    }
    const data = event.data;
    const id = String(data.container_id ?? data.id ?? "");
    if (!id) return;
    const touch = () => this.#touched.set(id, ++this.#seq);
    const pid = typeof data.pid === "number" ? data.pid : 0;
    switch (event.topic) {
      case "/containers/create":
        this.#view.containers.add(id);
        touch();
        break;
      case "/containers/delete":
        this.#foreign.delete(id);
        this.#exitEvents.delete(id);
        this.#deleteEvents.delete(id);
        this.#ooms.delete(id);
        this.#view.containers.delete(id);
        this.#view.tasks.delete(id);
        touch();
        break;
      case "/tasks/create":
        this.#view.tasks.set(id, { id, pid, status: "CREATED" });
        touch();
        break;
      case "/tasks/start":
        this.#view.tasks.set(id, { id, pid, status: "RUNNING" });
        touch();
        break;
      case "/tasks/paused":
        this.#setStatus(id, "PAUSED");
        touch();
        break;
      case "/tasks/resumed":
        this.#setStatus(id, "RUNNING");
        touch();
        break;
      case "/tasks/oom":
        this.#ooms.add(id);
        break;
      case "/tasks/exit": {
        if (data.id !== undefined && data.id !== id) break;
        this.#exitEvents.set(id, exitInfo(data));
        this.#setStatus(id, "STOPPED");
        touch();
        if (!this.#closed) this.#track(this.#reap(id));
        break;
      }
      case "/tasks/delete": {
        if (data.id !== undefined && data.id !== "" && data.id !== id) break;
        const info = exitInfo(data);
        this.#deleteEvents.set(id, info);
        this.#view.tasks.delete(id);
        touch();
        for (const resolve of this.#deleteWaiters.get(id) ?? []) resolve(info);
        this.#deleteWaiters.delete(id);
        break;
      }
    }
  }

  #setStatus(id: string, status: string): void {
    const task = this.#view.tasks.get(id);
    this.#view.tasks.set(id, { id, pid: task?.pid ?? 0, status });
  }

  /** The task of `id` as the view has it, after a full listing if the view cannot be trusted. */
  async #currentTask(id: string): Promise<TaskEntry | undefined> {
    if (!this.#events.ready || !this.#synced) await this.#sync();
    return this.#view.tasks.get(id);
  }

  /**
   * Records how a stopped task ended and deletes the task (once, however
   * many callers ask). The exit comes from the exit event if one was seen,
   * else from the delete event containerd publishes with what the shim kept.
   */
  #reap(id: string): Promise<void> {
    let pending = this.#reaping.get(id);
    if (!pending) {
      pending = this.#doReap(id).finally(() => this.#reaping.delete(id));
      this.#reaping.set(id, pending);
    }
    return pending;
  }

  async #doReap(id: string): Promise<void> {
    const record = await this.#records.get(id) ?? await this.#adopt(id);
    const cgroupsPath = record?.cgroupsPath ?? `/${this.namespace}/${id}`;
    const oom = this.#ooms.has(id) || await oomKilled(cgroupsPath);
    let stderr = "";
    let gone = false;
    try {
      stderr = await this.#ctr.deleteTask(id);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      gone = true;
    }
    let exit = this.#exitEvents.get(id) ?? this.#deleteEvents.get(id);
    if (!exit && !gone) {
      exit = await this.#deleteEvent(id, 2_000) ??
        { exitCode: parseDeleteExitCode(stderr), finishedAt: Date.now() };
    }
    this.#view.tasks.delete(id);
    this.#touched.set(id, ++this.#seq);
    this.#pumps.finish(id);
    if (record && !record.exit) {
      record.exit = exit
        ? { ...exit, oomKilled: oom && exit.exitCode !== 0 }
        : { exitCode: EXIT_CODE_UNKNOWN, finishedAt: Date.now(), oomKilled: false };
      await this.#records.put(record);
    }
    this.#exitEvents.delete(id);
    for (const resolve of this.#exitWaiters.get(id) ?? []) resolve();
    this.#exitWaiters.delete(id);
  }

  /** The `/tasks/delete` event of `id`, waiting up to `timeoutMs` for it. */
  #deleteEvent(id: string, timeoutMs: number): Promise<ExitInfo | undefined> {
    const known = this.#deleteEvents.get(id);
    if (known) return Promise.resolve(known);
    return new Promise((resolve) => {
      const waiters = this.#deleteWaiters.get(id) ?? new Set();
      const timer = setTimeout(() => done(undefined), timeoutMs);
      const done = (info: ExitInfo | undefined) => {
        clearTimeout(timer);
        waiters.delete(done);
        resolve(info);
      };
      waiters.add(done);
      this.#deleteWaiters.set(id, waiters);
    });
  }

  async #failedStart(record: ContainerRecord, error: unknown): Promise<void> {
    await this.#ctr.deleteTask(record.id, { force: true }).catch(() => {});
    await this.#ctr.removeContainer(record.id).catch(() => {});
    this.#pumps.finish(record.id);
    this.#view.containers.delete(record.id);
    this.#view.tasks.delete(record.id);
    this.#touched.set(record.id, ++this.#seq);
    record.exit = { exitCode: EXIT_CODE_START_FAILED, finishedAt: Date.now(), oomKilled: false };
    await this.#records.put(record);
    this.#report(new Error(`Container "${record.id}" could not start: ${ctrMessage(error)}`));
  }

  /** Sends `signal` to the container's init process; a task that is already gone is fine. */
  async #signal(id: string, signal: string): Promise<void> {
    try {
      await this.#ctr.kill(id, signal);
    } catch (error) {
      if (isNotFound(error) || /already finished/.test(ctrMessage(error))) return;
      throw error;
    }
  }

  /** Waits until the container's exit is recorded; false after `timeoutMs`. */
  async #waitExit(id: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const exited = async () => (await this.#records.get(id))?.exit !== undefined;
    while (!await exited()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      // Woken by the exit event; checked against `ctr tasks ls` every second in case it was missed.
      await new Promise<void>((resolve) => {
        const waiters = this.#exitWaiters.get(id) ?? new Set();
        const timer = setTimeout(done, Math.min(left, 1_000));
        function done() {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        }
        waiters.add(done);
        this.#exitWaiters.set(id, waiters);
      });
      if (await exited()) return true;
      if (Date.now() < deadline) {
        const task = (await this.#ctr.listTasks()).find((t) => t.id === id);
        if (!task || task.status === "STOPPED") await this.#reap(id);
      }
    }
    return true;
  }

  async #recordOf(id: string): Promise<ContainerRecord> {
    await this.#ready();
    const record = await this.#records.get(id) ?? await this.#adopt(id);
    if (!record) throw new ContainerNotFoundError(id);
    return record;
  }

  /**
   * A record for a container of this namespace that the state directory
   * does not know (it was lost), from the labels the runtime put on it;
   * containers the runtime did not create are ignored.
   */
  async #adopt(id: string): Promise<ContainerRecord | undefined> {
    if (!this.#view.containers.has(id) || this.#foreign.has(id)) return undefined;
    let json;
    try {
      json = await this.#ctr.containerInfo(id);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    const labels = json.Labels ?? {};
    const image = labels[LABEL_IMAGE];
    if (!image) {
      this.#foreign.add(id);
      return undefined;
    }
    const record: ContainerRecord = {
      id,
      image,
      imageId: labels[LABEL_IMAGE_ID] ?? "",
      labels: Object.fromEntries(Object.entries(labels).filter(([k]) => !k.startsWith(INTERNAL_LABEL_PREFIX))),
      ...(labels[LABEL_LOG_PATH] ? { logPath: labels[LABEL_LOG_PATH] } : {}),
      createdAt: Number(labels[LABEL_CREATED_AT]) || Date.parse(json.CreatedAt ?? "") || Date.now(),
      cgroupsPath: json.Spec?.linux?.cgroupsPath ?? `/${this.namespace}/${id}`,
    };
    const task = this.#view.tasks.get(id);
    const started = task && task.pid > 0 ? await processStartTime(task.pid) : undefined;
    record.startedAt = started ?? record.createdAt;
    // containerd has the container only once it was started: without a task, it ran and its exit is lost.
    if (!task) record.exit = { exitCode: EXIT_CODE_UNKNOWN, finishedAt: record.createdAt, oomKilled: false };
    await this.#records.put(record);
    return record;
  }

  #infoOf(record: ContainerRecord): ContainerInfo {
    const task = this.#view.tasks.get(record.id);
    const inContainerd = this.#view.containers.has(record.id);
    const base = {
      id: record.id,
      image: record.image,
      imageId: record.imageId,
      labels: { ...record.labels },
      ...(record.logPath ? { logPath: record.logPath } : {}),
      createdAt: record.createdAt,
      ...(record.startedAt !== undefined ? { startedAt: record.startedAt } : {}),
    };
    // Started, yet containerd has neither container nor task and no exit was recorded: the exit is lost.
    const lost = record.startedAt !== undefined && !task && !inContainerd && !this.#reaping.has(record.id) &&
      !this.#starting.has(record.id);
    const exit = record.exit ??
      (lost ? { exitCode: EXIT_CODE_UNKNOWN, finishedAt: record.startedAt!, oomKilled: false } : undefined);
    if (exit) {
      return {
        ...base,
        state: "exited",
        finishedAt: exit.finishedAt,
        exitCode: exit.exitCode,
        reason: exit.oomKilled ? "OOMKilled" : exit.exitCode === 0 ? "Completed" : "Error",
        oomKilled: exit.oomKilled,
      };
    }
    if (task && (isRunning(task) || task.status === "STOPPED")) {
      return { ...base, state: "running", ...(task.pid > 0 ? { pid: task.pid } : {}), oomKilled: false };
    }
    const { startedAt: _startedAt, ...created } = base;
    return { ...created, state: "created", oomKilled: false };
  }

  /**
   * Finds the image (from the recent listing, else a new one) and mounts a
   * fresh snapshot of it at `rootfs`. A stale listing (the image was
   * replaced or removed since) makes the snapshot fail: then it looks again, once.
   */
  async #prepareRootfs(id: string, ref: string, rootfs: string): Promise<{ entry: ImageEntry; image: ResolvedImage }> {
    for (const lookup of ["recent", "fresh"] as const) {
      const entry = await this.#findImage(ref, lookup);
      if (!entry) {
        if (lookup === "fresh") break;
        continue;
      }
      try {
        const image = await this.#images.resolve(entry.digest, entry.mediaType);
        await this.#mountRootfs(id, image, rootfs);
        return { entry, image };
      } catch (error) {
        if (lookup === "fresh") throw error;
      }
    }
    throw new Error(`Cannot create container "${id}": image "${ref}" is not present`);
  }

  async #mountRootfs(id: string, image: ResolvedImage, target: string): Promise<void> {
    let mounts;
    try {
      mounts = await this.#ctr.prepareSnapshot(id, image.chainId);
    } catch (error) {
      if (!/already exists/.test(ctrMessage(error))) throw error;
      // Left behind by a create that did not finish.
      await this.#removeRootfs(id);
      mounts = await this.#ctr.prepareSnapshot(id, image.chainId);
    }
    await Deno.mkdir(target, { recursive: true });
    try {
      for (const m of mounts) {
        await this.#exec([
          "mount",
          "-t",
          m.type,
          ...(m.options.length ? ["-o", m.options.join(",")] : []),
          m.source,
          target,
        ]);
      }
    } catch (error) {
      await this.#removeRootfs(id);
      throw error;
    }
  }

  async #removeRootfs(id: string): Promise<void> {
    const target = this.#layout.rootfs(id);
    if (await isMountPoint(target)) {
      const result = await this.#exec(["umount", target], { check: false });
      if (result.code !== 0) await this.#exec(["umount", "-l", target]);
    }
    await this.#ctr.removeSnapshot(id);
    await Deno.remove(target).catch(() => {});
  }
}

/**
 * An exec's timeout: once it passes, `kill` is tried every 200 ms (the
 * process may not have started yet) until it succeeds or the exec ends.
 */
class ExecDeadline {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #done = false;
  #killed = false;
  #running: Promise<void> | undefined;

  constructor(timeoutMs: number, kill: () => Promise<boolean>) {
    const attempt = () => {
      this.#timer = undefined;
      this.#running = (async () => {
        if (this.#done) return;
        if (await kill()) {
          this.#killed = true;
          return;
        }
        if (!this.#done) this.#timer = setTimeout(attempt, 200);
      })();
    };
    this.#timer = setTimeout(attempt, timeoutMs);
  }

  /** Stops trying; resolves to whether the process was killed. */
  async settle(): Promise<boolean> {
    this.#done = true;
    clearTimeout(this.#timer);
    await this.#running;
    return this.#killed;
  }
}

function isRunning(task: TaskEntry): boolean {
  return task.status === "RUNNING" || task.status === "PAUSED" || task.status === "PAUSING";
}

function exitInfo(data: Record<string, unknown>): ExitInfo {
  const code = typeof data.exit_status === "number" ? data.exit_status : 0;
  const at = typeof data.exited_at === "string" ? Date.parse(data.exited_at) : NaN;
  return { exitCode: code, finishedAt: Number.isFinite(at) ? at : Date.now() };
}

function internalLabels(record: ContainerRecord): Record<string, string> {
  return {
    [LABEL_IMAGE]: record.image,
    [LABEL_IMAGE_ID]: record.imageId,
    ...(record.logPath ? { [LABEL_LOG_PATH]: record.logPath } : {}),
    [LABEL_CREATED_AT]: String(record.createdAt),
  };
}

/** The image's /etc/passwd and /etc/group (regular files only: a symlink could point at the host's). */
async function readImageFiles(rootfs: string): Promise<{ passwd?: string; group?: string }> {
  const read = async (name: string) => {
    const path = join(rootfs, "etc", name);
    try {
      const info = await Deno.lstat(path);
      if (!info.isFile || info.size > 4 * 1024 * 1024) return undefined;
      return await Deno.readTextFile(path);
    } catch {
      return undefined;
    }
  };
  const [passwd, group] = await Promise.all([read("passwd"), read("group")]);
  return { ...(passwd !== undefined ? { passwd } : {}), ...(group !== undefined ? { group } : {}) };
}

/** The value of `key` in a flat-keyed cgroup file (`memory.stat`, `cpu.stat`). */
function statValue(text: string, key: string): number | undefined {
  const match = new RegExp(`^${key} (\\d+)$`, "m").exec(text);
  return match ? Number(match[1]) : undefined;
}

/**
 * CPU and memory of the cgroup at `cgroupsPath`, as `ctr tasks metrics`
 * computes them: cgroup v1 (`cpuacct.usage`, `memory.usage_in_bytes`,
 * `total_inactive_file`) or v2 (`cpu.stat` usage_usec, `memory.current`,
 * `inactive_file`); undefined when neither layout has the cgroup.
 */
export async function cgroupMetrics(
  cgroupsPath: string,
  root = "/sys/fs/cgroup",
): Promise<TaskMetrics | undefined> {
  const read = (path: string) => Deno.readTextFile(`${root}${path}`).catch(() => undefined);
  const [cpuacct, usage, memoryStat] = await Promise.all([
    read(`/cpuacct${cgroupsPath}/cpuacct.usage`).then((text) =>
      text ?? read(`/cpu,cpuacct${cgroupsPath}/cpuacct.usage`)
    ),
    read(`/memory${cgroupsPath}/memory.usage_in_bytes`),
    read(`/memory${cgroupsPath}/memory.stat`),
  ]);
  if (cpuacct !== undefined && usage !== undefined && memoryStat !== undefined) {
    const memory = Number(usage.trim());
    return {
      cpuUsageNanoseconds: Number(cpuacct.trim()),
      memoryUsageBytes: memory,
      memoryWorkingSetBytes: Math.max(0, memory - (statValue(memoryStat, "total_inactive_file") ?? 0)),
    };
  }
  const [cpuStat, current, stat2] = await Promise.all([
    read(`${cgroupsPath}/cpu.stat`),
    read(`${cgroupsPath}/memory.current`),
    read(`${cgroupsPath}/memory.stat`),
  ]);
  if (cpuStat === undefined || current === undefined || stat2 === undefined) return undefined;
  const memory = Number(current.trim());
  return {
    cpuUsageNanoseconds: (statValue(cpuStat, "usage_usec") ?? 0) * 1000,
    memoryUsageBytes: memory,
    memoryWorkingSetBytes: Math.max(0, memory - (statValue(stat2, "inactive_file") ?? 0)),
  };
}

/** Whether the cgroup at `cgroupsPath` saw an OOM kill (cgroup v1 `memory.oom_control`, v2 `memory.events`). */
async function oomKilled(cgroupsPath: string): Promise<boolean> {
  for (
    const file of [
      `/sys/fs/cgroup/memory${cgroupsPath}/memory.oom_control`,
      `/sys/fs/cgroup${cgroupsPath}/memory.events`,
    ]
  ) {
    try {
      const match = /^oom_kill (\d+)$/m.exec(await Deno.readTextFile(file));
      if (match) return Number(match[1]) > 0;
    } catch {
      // Not this cgroup version, or already removed.
    }
  }
  return false;
}

let bootTimeMs: number | undefined;

/** When process `pid` started (ms since the epoch), from /proc; undefined if it is gone. */
async function processStartTime(pid: number): Promise<number | undefined> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[19]);
    if (bootTimeMs === undefined) {
      const btime = /^btime (\d+)$/m.exec(await Deno.readTextFile("/proc/stat"));
      if (!btime) return undefined;
      bootTimeMs = Number(btime[1]) * 1000;
    }
    return Number.isFinite(ticks) ? Math.round(bootTimeMs + ticks * 10) : undefined;
  } catch {
    return undefined;
  }
}

async function isMountPoint(path: string): Promise<boolean> {
  try {
    const mountInfo = await Deno.readTextFile("/proc/self/mountinfo");
    return mountInfo.split("\n").some((line) => {
      const field = line.split(" ")[4];
      return field !== undefined &&
        field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))) === path;
    });
  } catch {
    return false;
  }
}
