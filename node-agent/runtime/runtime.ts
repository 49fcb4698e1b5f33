/**
 * The `Runtime` seam: what a pod worker asks of a container runtime. The
 * agent's implementation drives containerd through `ctr` (namespace
 * `skiff`); {@linkcode FakeRuntime} keeps everything in memory for unit
 * tests and simulated nodes. Both behave the same way as seen through this
 * interface:
 *
 * - the caller names every container (`id`), and a container is created,
 *   then started, then stopped (it becomes `exited`), then removed; a
 *   restart is a new container with a higher restart count;
 * - labels carry the pod and container identity ({@linkcode containerLabels}),
 *   so an agent that restarts finds its containers again with
 *   {@linkcode Runtime.listContainers};
 * - a container's stdout and stderr go, as written, to `logPath`;
 * - times are milliseconds since the epoch.
 *
 * @module
 */

import type { ExecSession, ExecStreamOptions } from "./exec_session.ts";

/** The runtime's name and version, for `node.status.nodeInfo.containerRuntimeVersion`. */
export interface RuntimeVersion {
  /** `containerd`, `fake`. */
  name: string;
  /** Its version, e.g. `1.6.20`. */
  version: string;
}

/** When to pull an image, as a container's `imagePullPolicy`. */
export type PullPolicy = "Always" | "IfNotPresent" | "Never";

/** Options of {@linkcode Runtime.ensureImage}. */
export interface EnsureImageOptions {
  /** `IfNotPresent` by default. */
  pullPolicy?: PullPolicy;
  /** Called with pull progress (bytes so far of the total, when known). */
  onProgress?: (progress: { ref: string; doneBytes: number; totalBytes?: number }) => void;
  /** Cancels the pull. */
  signal?: AbortSignal;
}

/** An image present on the node. */
export interface ImageInfo {
  /** The normalized reference, e.g. `docker.io/library/busybox:latest`. */
  ref: string;
  /** The content digest, e.g. `sha256:…`. */
  id: string;
  /** Size on disk in bytes. */
  sizeBytes: number;
  /** The architecture the image is built for (`amd64`, `arm64`), when known. */
  architecture?: string;
}

/** What {@linkcode Runtime.ensureImage} did. */
export interface EnsuredImage extends ImageInfo {
  /** True when the image was pulled now, false when it was already present. */
  pulled: boolean;
}

/** A host path bound into a container. */
export interface Mount {
  /** Path on the host. */
  source: string;
  /** Path inside the container. */
  destination: string;
  /** Mount read-only. */
  readOnly?: boolean;
}

/** Everything needed to create a container. */
export interface ContainerSpec {
  /** The container id, chosen by the caller and unique on the node. */
  id: string;
  /** Image reference; {@linkcode Runtime.ensureImage} must have made it present. */
  image: string;
  /** Replaces the image's entrypoint. */
  command?: string[];
  /** Replaces the image's cmd. */
  args?: string[];
  /** Environment variables, in order. */
  env?: { name: string; value: string }[];
  /** Working directory; the image's by default. */
  workingDir?: string;
  /** Labels; {@linkcode containerLabels} gives the ones every pod container carries. */
  labels: Record<string, string>;
  /** Where stdout and stderr are written, as written; absent discards them. */
  logPath?: string;
  /** Host paths bound in. */
  mounts?: Mount[];
  /** Host device paths made available (`/dev/ttyUSB0`). */
  devices?: string[];
  /** Network namespace to join (a path under /var/run/netns); absent with `hostNetwork` false gives none. */
  networkNamespace?: string;
  /** Use the host's network namespace. */
  hostNetwork?: boolean;
  /** Memory limit in bytes. */
  memoryLimitBytes?: number;
  /** CPU limit in millicores. */
  cpuLimitMillicores?: number;
  /** User id to run as. */
  user?: number;
  /** Group id to run as. */
  group?: number;
  /** Run privileged. */
  privileged?: boolean;
  /** Mount the root filesystem read-only. */
  readOnlyRootFilesystem?: boolean;
  /** Allocate a TTY. */
  tty?: boolean;
}

/** The states a container goes through. */
export type ContainerState = "created" | "running" | "exited";

/** A container as the runtime sees it. */
export interface ContainerInfo {
  /** Its id. */
  id: string;
  /** The image reference it was created from. */
  image: string;
  /** The image's digest. */
  imageId: string;
  /** Its labels. */
  labels: Record<string, string>;
  /** Where its output goes, if anywhere. */
  logPath?: string;
  /** Current state. */
  state: ContainerState;
  /** Process id while running. */
  pid?: number;
  /** When it was created. */
  createdAt: number;
  /** When it last started. */
  startedAt?: number;
  /** When it exited. */
  finishedAt?: number;
  /** Exit code, once exited. */
  exitCode?: number;
  /** `Completed` (exit 0), `Error` or `OOMKilled`, once exited. */
  reason?: "Completed" | "Error" | "OOMKilled";
  /** True when the kernel killed it for exceeding its memory limit. */
  oomKilled: boolean;
}

/** Which containers {@linkcode Runtime.listContainers} returns. */
export interface ContainerFilter {
  /** Only containers carrying all these labels with these values. */
  labels?: Record<string, string>;
  /** Only containers in these states. */
  states?: ContainerState[];
}

/** Options of {@linkcode Runtime.stopContainer}. */
export interface StopOptions {
  /** Seconds between SIGTERM and SIGKILL (default 30; 0 kills at once). */
  gracePeriodSeconds?: number;
}

/** Options of {@linkcode Runtime.exec}. */
export interface ExecOptions {
  /** Kill the process after this long (default: no limit). */
  timeoutMs?: number;
  /** Extra environment variables. */
  env?: { name: string; value: string }[];
  /** Bytes written to the process's stdin. */
  stdin?: string;
}

/** What a command run in a container did. */
export interface ExecResult {
  /** Its exit code (137 when killed after the timeout). */
  exitCode: number;
  /** Its standard output. */
  stdout: string;
  /** Its standard error. */
  stderr: string;
  /** True when it was killed because it ran past `timeoutMs`. */
  timedOut: boolean;
}

/** Options of {@linkcode Runtime.logs}. */
export interface LogOptions {
  /** Only the last N lines. */
  tailLines?: number;
  /** At most this many bytes, from the end. */
  limitBytes?: number;
}

/** Resource use of one container. */
export interface ContainerStats {
  /** When it was measured. */
  timestamp: number;
  /** Cumulative CPU time in nanoseconds. */
  cpuUsageNanoseconds: number;
  /** Memory in use in bytes (including page cache). */
  memoryUsageBytes: number;
  /** Memory that cannot be reclaimed (usage minus inactive file pages), as kubectl top shows. */
  memoryWorkingSetBytes: number;
}

/** A container runtime. */
export interface Runtime {
  /** Its name and version. */
  version(): Promise<RuntimeVersion>;
  /**
   * Makes `ref` present as the pull policy says: `Never` fails with
   * {@linkcode ImagePullError} (reason `ErrImageNeverPull`) when absent,
   * `Always` pulls even when present; a failed pull throws
   * {@linkcode ImagePullError} (reason `ErrImagePull`).
   */
  ensureImage(ref: string, options?: EnsureImageOptions): Promise<EnsuredImage>;
  /** The images present. */
  listImages(): Promise<ImageInfo[]>;
  /** Removes an image; absent images are ignored. */
  removeImage(ref: string): Promise<void>;
  /** Creates a container (state `created`); its image must be present. */
  createContainer(spec: ContainerSpec): Promise<ContainerInfo>;
  /** Starts a created container. */
  startContainer(id: string): Promise<void>;
  /**
   * Stops a running container: SIGTERM, then SIGKILL after the grace
   * period; resolves once it has exited. Stopping an exited container does
   * nothing.
   */
  stopContainer(id: string, options?: StopOptions): Promise<void>;
  /** Removes a container that is not running; absent containers are ignored. */
  removeContainer(id: string): Promise<void>;
  /** The containers matching `filter`. */
  listContainers(filter?: ContainerFilter): Promise<ContainerInfo[]>;
  /** One container; throws {@linkcode ContainerNotFoundError} when absent. */
  inspectContainer(id: string): Promise<ContainerInfo>;
  /** Runs a command in a running container and waits for it. */
  exec(id: string, command: string[], options?: ExecOptions): Promise<ExecResult>;
  /**
   * Starts a command in a running container with its standard streams open
   * while it runs (interactive exec, `kubectl exec -i`); optionally in a
   * terminal. Throws when the container is not running.
   */
  execStream(id: string, command: string[], options?: ExecStreamOptions): Promise<ExecSession>;
  /** The container's output so far, from its log file. */
  logs(id: string, options?: LogOptions): Promise<string>;
  /** Resource use of a running container. */
  stats(id: string): Promise<ContainerStats>;
}

/** Thrown when a container does not exist. */
export class ContainerNotFoundError extends Error {
  /** The container id. */
  readonly id: string;

  /** Creates the error for container `id`. */
  constructor(id: string, options?: ErrorOptions) {
    super(`Container "${id}" does not exist`, options);
    this.name = "ContainerNotFoundError";
    this.id = id;
  }
}

/** Why an image could not be made present, as the pod's waiting reason shows it. */
export type ImagePullReason = "ErrImagePull" | "ErrImageNeverPull";

/** Thrown when an image cannot be made present. */
export class ImagePullError extends Error {
  /** The image reference. */
  readonly ref: string;
  /** The waiting reason to report. */
  readonly reason: ImagePullReason;

  /** Creates the error; `detail` says what went wrong. */
  constructor(ref: string, reason: ImagePullReason, detail: string, options?: ErrorOptions) {
    super(`Cannot pull image "${ref}": ${detail}`, options);
    this.name = "ImagePullError";
    this.ref = ref;
    this.reason = reason;
  }
}

/** Label holding the uid of the pod a container belongs to. */
export const LABEL_POD_UID = "skiff.dev/pod-uid";
/** Label holding the pod's namespace. */
export const LABEL_POD_NAMESPACE = "skiff.dev/pod-namespace";
/** Label holding the pod's name. */
export const LABEL_POD_NAME = "skiff.dev/pod-name";
/** Label holding the container's name in the pod spec. */
export const LABEL_CONTAINER_NAME = "skiff.dev/container-name";
/** Label holding how many times the container was restarted before this one. */
export const LABEL_RESTART_COUNT = "skiff.dev/restart-count";

/** The identity of a pod's container, as its labels carry it. */
export interface ContainerIdentity {
  /** The pod's uid. */
  podUid: string;
  /** The pod's namespace. */
  podNamespace: string;
  /** The pod's name. */
  podName: string;
  /** The container's name in the pod spec. */
  containerName: string;
  /** Restarts before this container. */
  restartCount: number;
}

/** The labels a pod's container carries. */
export function containerLabels(identity: ContainerIdentity): Record<string, string> {
  return {
    [LABEL_POD_UID]: identity.podUid,
    [LABEL_POD_NAMESPACE]: identity.podNamespace,
    [LABEL_POD_NAME]: identity.podName,
    [LABEL_CONTAINER_NAME]: identity.containerName,
    [LABEL_RESTART_COUNT]: String(identity.restartCount),
  };
}

/** The identity in a container's labels; undefined when they are not a pod container's. */
export function containerIdentity(labels: Readonly<Record<string, string>>): ContainerIdentity | undefined {
  const podUid = labels[LABEL_POD_UID];
  const podNamespace = labels[LABEL_POD_NAMESPACE];
  const podName = labels[LABEL_POD_NAME];
  const containerName = labels[LABEL_CONTAINER_NAME];
  const restartCount = Number(labels[LABEL_RESTART_COUNT]);
  if (!podUid || !podNamespace || !podName || !containerName) return undefined;
  if (!Number.isSafeInteger(restartCount) || restartCount < 0) return undefined;
  return { podUid, podNamespace, podName, containerName, restartCount };
}
