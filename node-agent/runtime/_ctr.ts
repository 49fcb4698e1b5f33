/**
 * Every `ctr` command line the containerd runtime runs, and parsers for
 * what `ctr` prints. {@linkcode Ctr} binds an address and a containerd
 * namespace (`ctr -a <socket> -n <namespace> …`) and runs commands through
 * the agent's injectable {@linkcode Exec} (or {@linkcode Spawn} for the
 * ones that stream).
 *
 * @module
 */

import { CommandError, type Exec, type ExecResult, run, withParentDeathSignal } from "../_exec.ts";
import { type Spawn, spawn as defaultSpawn, type SpawnedProcess } from "./_spawn.ts";

/** The default containerd socket. */
export const DEFAULT_CONTAINERD_ADDRESS = "/run/containerd/containerd.sock";

/** Options of {@linkcode Ctr}. */
export interface CtrOptions {
  /** containerd's gRPC socket. */
  address: string;
  /** containerd namespace. */
  namespace: string;
  /** Runs commands to completion (default: the agent's `run`). */
  exec?: Exec;
  /** Starts streaming commands (default: the real `spawn`). */
  spawn?: Spawn;
  /** The `ctr` program (default `ctr`). */
  ctrPath?: string;
  /** Timeout of ordinary commands in ms (default 60000). */
  timeoutMs?: number;
}

/** A task as `ctr tasks ls` shows it. */
export interface TaskEntry {
  /** The container id. */
  id: string;
  /** The init process id (0 once stopped in some versions). */
  pid: number;
  /** `RUNNING`, `STOPPED`, `CREATED`, `PAUSED`, `PAUSING` or `UNKNOWN`. */
  status: string;
}

/** An image as `ctr images ls` shows it. */
export interface ImageEntry {
  /** Its reference. */
  ref: string;
  /** Media type of its target. */
  mediaType: string;
  /** Digest of its target (manifest or index). */
  digest: string;
  /** Platforms, e.g. `["linux/amd64"]`. */
  platforms: string[];
}

/** One event from `ctr events`. */
export interface CtrEvent {
  /** containerd namespace. */
  namespace: string;
  /** Topic, e.g. `/tasks/exit`. */
  topic: string;
  /** The event's fields. */
  data: Record<string, unknown>;
}

/** A mount as `ctr snapshots prepare --mounts` prints it. */
export interface SnapshotMount {
  /** Filesystem type, e.g. `overlay` or `bind`. */
  type: string;
  /** Mount source. */
  source: string;
  /** Mount options. */
  options: string[];
}

/** Options of {@linkcode Ctr.runDetached}. */
export interface RunOptions {
  /** OCI runtime spec file. */
  specPath: string;
  /** `--log-uri`, e.g. `file:///var/lib/skiff/…`; absent sends output to /dev/null. */
  logUri?: string;
  /** Container labels. */
  labels: Record<string, string>;
  /** Where ctr writes the task's pid. */
  pidFile: string;
}

/** What a command run by `ctr tasks exec` did. */
export interface CtrExecResult {
  /** Exit code of the command. */
  code: number;
  /** Its output. */
  stdout: string;
  /** Its error output. */
  stderr: string;
}

/** Whether a failed ctr command said that what it acted on does not exist. */
export function isNotFound(error: unknown): boolean {
  return error instanceof CommandError && /\bnot found\b|no such (task|container|process)/i.test(error.stderr);
}

/** The message ctr printed for a failed command (`ctr: …` without the prefix and log noise). */
export function ctrMessage(error: unknown): string {
  if (!(error instanceof CommandError)) return error instanceof Error ? error.message : String(error);
  const lines = error.stderr.split("\n").map((l) => l.trim()).filter(Boolean);
  const ctrLine = lines.findLast((l) => l.startsWith("ctr: "));
  if (ctrLine) return ctrLine.slice(5);
  return lines.at(-1) ?? error.message;
}

/** `ctr` bound to one containerd and namespace. */
export class Ctr {
  readonly #exec: Exec;
  readonly #spawn: Spawn;
  readonly #base: string[];
  readonly #timeoutMs: number;
  /** containerd's socket. */
  readonly address: string;
  /** containerd namespace. */
  readonly namespace: string;

  /** Binds `ctr` to `options.address` and `options.namespace`. */
  constructor(options: CtrOptions) {
    this.address = options.address;
    this.namespace = options.namespace;
    this.#exec = options.exec ?? run;
    this.#spawn = options.spawn ?? defaultSpawn;
    this.#base = [options.ctrPath ?? "ctr", "-a", options.address, "-n", options.namespace];
    this.#timeoutMs = options.timeoutMs ?? 60_000;
  }

  /** The full command line for ctr arguments `args`. */
  command(args: readonly string[]): string[] {
    return [...this.#base, ...args];
  }

  /** Runs `ctr … args`; throws {@linkcode CommandError} on failure. */
  run(
    args: readonly string[],
    options: { stdin?: string; timeoutMs?: number; check?: boolean } = {},
  ): Promise<ExecResult> {
    return this.#exec(this.command(args), {
      timeoutMs: options.timeoutMs ?? this.#timeoutMs,
      ...(options.stdin !== undefined ? { stdin: options.stdin } : {}),
      ...(options.check !== undefined ? { check: options.check } : {}),
    });
  }

  /** The server's version, from `ctr version`. */
  async version(): Promise<string> {
    const { stdout } = await this.run(["version"], { timeoutMs: 10_000 });
    return parseServerVersion(stdout);
  }

  /** Creates the namespace; an existing one is fine. */
  async createNamespace(): Promise<void> {
    const result = await this.run(["namespaces", "create", this.namespace], { check: false });
    if (result.code !== 0 && !/already exists/.test(result.stderr)) {
      throw new CommandError(this.command(["namespaces", "create", this.namespace]), result);
    }
  }

  /** Sets a label on the namespace (publishes a `/namespaces/update` event). */
  async labelNamespace(key: string, value: string): Promise<void> {
    await this.run(["namespaces", "label", this.namespace, `${key}=${value}`]);
  }

  /** The images of the namespace. */
  async listImages(): Promise<ImageEntry[]> {
    return parseImageList((await this.run(["images", "ls"])).stdout);
  }

  /** A blob of the content store, as text. */
  async contentGet(digest: string): Promise<string> {
    return (await this.run(["content", "get", digest])).stdout;
  }

  /**
   * Starts `ctr images pull ref`; its output is the progress table. It dies
   * with the agent (see {@linkcode withParentDeathSignal}).
   */
  pull(ref: string): SpawnedProcess {
    return this.#spawn(withParentDeathSignal(this.command(["images", "pull", ref])));
  }

  /** Removes an image; an absent one is fine. */
  async removeImage(ref: string): Promise<void> {
    await this.run(["images", "rm", ref]);
  }

  /** Imports an image tarball (`ctr images import [--base-name NAME] FILE`); returns what ctr printed. */
  async importImage(path: string, options: { baseName?: string } = {}): Promise<string> {
    const args = ["images", "import", ...(options.baseName ? ["--base-name", options.baseName] : []), path];
    return (await this.run(args, { timeoutMs: 10 * 60_000 })).stdout;
  }

  /** Prepares an active snapshot `key` on `parent` (a chain id) and returns its mounts. */
  async prepareSnapshot(key: string, parent: string): Promise<SnapshotMount[]> {
    const { stdout } = await this.run(["snapshots", "prepare", "--mounts", key, parent]);
    return parseSnapshotMounts(stdout);
  }

  /** Removes a snapshot; an absent one is fine. */
  async removeSnapshot(key: string): Promise<void> {
    try {
      await this.run(["snapshots", "rm", key]);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /** The ids of all containers. */
  async containerIds(): Promise<string[]> {
    return parseIdList((await this.run(["containers", "ls", "-q"])).stdout);
  }

  /** `ctr containers info ID` as JSON. */
  async containerInfo(id: string): Promise<ContainerInfoJson> {
    return JSON.parse((await this.run(["containers", "info", id])).stdout) as ContainerInfoJson;
  }

  /** Removes a container (and its stopped task); an absent one is fine. */
  async removeContainer(id: string): Promise<void> {
    try {
      await this.run(["containers", "rm", id]);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /** `ctr run -d --config SPEC …`: creates the container and starts its task. */
  async runDetached(id: string, options: RunOptions): Promise<void> {
    await this.run(runArgs(id, options));
  }

  /** `ctr tasks start -d`: starts a task for an existing container. */
  async startTask(id: string, options: { logUri?: string; pidFile: string }): Promise<void> {
    await this.run([
      "tasks",
      "start",
      "-d",
      ...(options.logUri ? ["--log-uri", options.logUri] : ["--null-io"]),
      "--pid-file",
      options.pidFile,
      id,
    ]);
  }

  /** All tasks. */
  async listTasks(): Promise<TaskEntry[]> {
    return parseTaskList((await this.run(["tasks", "ls"])).stdout);
  }

  /** Sends a signal to a task's init process (or to exec process `execId`). */
  async kill(id: string, signal: string, options: { execId?: string } = {}): Promise<void> {
    await this.run(["tasks", "kill", "-s", signal, ...(options.execId ? ["--exec-id", options.execId] : []), id]);
  }

  /**
   * Deletes a stopped task (`force` kills a running one); returns ctr's
   * standard error, which names a non-zero exit code.
   */
  async deleteTask(id: string, options: { force?: boolean; execId?: string } = {}): Promise<string> {
    const args = [
      "tasks",
      "rm",
      ...(options.force ? ["-f"] : []),
      ...(options.execId ? ["--exec-id", options.execId] : []),
      id,
    ];
    const result = await this.run(args, { check: false });
    if (result.code !== 0 && !(options.execId && result.code > 0 && result.stderr.trim() === "")) {
      throw new CommandError(this.command(args), result);
    }
    return result.stderr;
  }

  /**
   * Runs a command in a running task (`ctr tasks exec --exec-id`). A
   * non-zero exit of the command is a result; ctr's own failures throw.
   */
  async exec(
    id: string,
    execId: string,
    command: readonly string[],
    options: { stdin?: string; timeoutMs?: number } = {},
  ): Promise<CtrExecResult> {
    const args = ["tasks", "exec", "--exec-id", execId, id, ...command];
    const result = await this.#exec(this.command(args), {
      check: false,
      stdin: options.stdin ?? "",
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    });
    const failure = execFailure(result);
    if (failure === "not-started") throw new CommandError(this.command(args), result);
    if (failure !== undefined) {
      return { code: failure, stdout: result.stdout, stderr: ctrMessage(new CommandError(args, result)) + "\n" };
    }
    return { code: result.code, stdout: result.stdout, stderr: result.stderr };
  }

  /** `ctr tasks metrics --format json ID`. */
  async metrics(id: string): Promise<Record<string, unknown>> {
    return JSON.parse((await this.run(["tasks", "metrics", "--format", "json", id], { timeoutMs: 10_000 })).stdout);
  }

  /**
   * Starts `ctr events` for this namespace. It dies with the agent, even
   * when the agent is killed with SIGKILL (see {@linkcode withParentDeathSignal}).
   */
  events(): SpawnedProcess {
    return this.#spawn(withParentDeathSignal(this.command(["events", `namespace==${this.namespace}`])));
  }
}

/** The arguments of `ctr run -d --config …` for a container. */
export function runArgs(id: string, options: RunOptions): string[] {
  return [
    "run",
    "-d",
    "--config",
    options.specPath,
    ...(options.logUri ? ["--log-uri", options.logUri] : ["--null-io"]),
    "--pid-file",
    options.pidFile,
    ...Object.entries(options.labels).flatMap(([k, v]) => ["--label", `${k}=${v}`]),
    id,
  ];
}

/**
 * How `ctr tasks exec` failed on its own, from its output: `"not-started"`
 * when ctr could not run the command at all (no such task, not running),
 * 126 or 127 when the program could not be executed (as a shell reports
 * it), `undefined` when the exit code is the command's.
 */
export function execFailure(result: ExecResult): number | "not-started" | undefined {
  if (result.code === 0) return undefined;
  const ctrLine = result.stderr.split("\n").findLast((l) => l.startsWith("ctr: "));
  if (ctrLine === undefined) return undefined;
  if (/executable file not found|no such file or directory/.test(ctrLine)) return 127;
  if (/permission denied/.test(ctrLine)) return 126;
  if (/OCI runtime exec failed/.test(ctrLine)) return 126;
  if (/not found|stopped state|not running|failed to/.test(ctrLine)) return "not-started";
  return undefined;
}

/** What `ctr containers info` prints (the fields the runtime reads). */
export interface ContainerInfoJson {
  /** Container id. */
  ID: string;
  /** Labels. */
  Labels?: Record<string, string> | null;
  /** Image reference (empty for containers created from a spec file). */
  Image?: string;
  /** Creation time, RFC 3339. */
  CreatedAt?: string;
  /** The OCI runtime spec. */
  Spec?: { linux?: { cgroupsPath?: string }; root?: { path?: string } } | null;
}

/** The server version in `ctr version` output. */
export function parseServerVersion(text: string): string {
  const server = text.split(/^Server:/m)[1];
  const match = server === undefined ? null : /^\s*Version:\s*(\S+)/m.exec(server);
  if (!match) throw new Error(`Cannot read the containerd version from "ctr version": ${JSON.stringify(text.trim())}`);
  return match[1]!;
}

/** Ids, one a line (`ls -q`). */
export function parseIdList(text: string): string[] {
  return text.split("\n").map((l) => l.trim()).filter(Boolean);
}

/** The rows of `ctr tasks ls`. */
export function parseTaskList(text: string): TaskEntry[] {
  const out: TaskEntry[] = [];
  for (const line of text.split("\n").slice(1)) {
    const [id, pid, status] = line.trim().split(/\s+/);
    if (!id || pid === undefined || status === undefined) continue;
    out.push({ id, pid: Number(pid) || 0, status });
  }
  return out;
}

/** The rows of `ctr images ls` (REF TYPE DIGEST SIZE PLATFORMS LABELS; SIZE holds a space). */
export function parseImageList(text: string): ImageEntry[] {
  const out: ImageEntry[] = [];
  for (const line of text.split("\n").slice(1)) {
    const match = /^(\S+)\s+(\S+)\s+(sha256:[0-9a-f]{64})\s+\S+\s+\S+\s+(\S+)/.exec(line.trim());
    if (!match) continue;
    out.push({
      ref: match[1]!,
      mediaType: match[2]!,
      digest: match[3]!,
      platforms: match[4] === "-" ? [] : match[4]!.split(","),
    });
  }
  return out;
}

/** The mounts printed by `ctr snapshots prepare --mounts`. */
export function parseSnapshotMounts(text: string): SnapshotMount[] {
  const raw = JSON.parse(text) as { Type?: string; Source?: string; Options?: string[] }[];
  return raw.map((m) => ({ type: m.Type ?? "", source: m.Source ?? "", options: m.Options ?? [] }));
}

const EVENT_LINE = /^\S+ \S+ [+-]\d{4} \S+ (\S+) (\/\S+)(?: (.*))?$/;

/** One line of `ctr events`; `undefined` for anything else. */
export function parseEventLine(line: string): CtrEvent | undefined {
  const match = EVENT_LINE.exec(line.trim());
  if (!match) return undefined;
  let data: Record<string, unknown> = {};
  if (match[3]) {
    try {
      const parsed = JSON.parse(match[3]);
      if (parsed !== null && typeof parsed === "object") data = parsed as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }
  return { namespace: match[1]!, topic: match[2]!, data };
}

/** The exit code `ctr tasks rm` names in its warning (`task X exit with non-zero exit code N`); 0 when it names none. */
export function parseDeleteExitCode(stderr: string): number {
  const match = /exit with non-zero exit code (\d+)/.exec(stderr);
  return match ? Number(match[1]) : 0;
}

const UNITS: Readonly<Record<string, number>> = { B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** Bytes from ctr's human-readable sizes (`1.0 MiB`, `808.0 B`, truncated forms such as `1002.4 K`). */
export function parseHumanBytes(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([BKMGT])?/.exec(text.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * (UNITS[match[2] ?? "B"] ?? 1));
}

/** Pull progress so far. */
export interface PullProgress {
  /** Bytes fetched. */
  doneBytes: number;
  /** Bytes to fetch, when every blob's size is known. */
  totalBytes?: number;
}

/**
 * Reads the progress table `ctr images pull` prints (one frame every
 * 100 ms, each ending with an `elapsed:` line) into byte counts.
 */
export class PullProgressParser {
  #blobs = new Map<string, { status: string; offset: number; total?: number }>();

  /** Feeds one output line; returns the progress when the line ends a frame. */
  push(line: string): PullProgress | undefined {
    // deno-lint-ignore no-control-regex
    const text = line.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").trim();
    if (text.startsWith("elapsed:")) return this.progress();
    const match = /^((?:layer|config|manifest|index)-sha256:[0-9a-f]{64}):\s+(\S+)\s+\|[^|]*\|\s*(.*)$/.exec(text);
    if (!match) return undefined;
    const [, ref, status, sizes] = match as unknown as [string, string, string, string];
    const entry = this.#blobs.get(ref) ?? { status, offset: 0 };
    entry.status = status;
    const slash = sizes.indexOf("/");
    if (slash !== -1) {
      const offset = parseHumanBytes(sizes.slice(0, slash));
      const total = parseHumanBytes(sizes.slice(slash + 1));
      if (offset !== undefined) entry.offset = offset;
      if (total !== undefined) entry.total = total;
    }
    this.#blobs.set(ref, entry);
    return undefined;
  }

  /** The progress of the frames read so far. */
  progress(): PullProgress {
    let done = 0;
    let total = 0;
    let totalKnown = true;
    for (const blob of this.#blobs.values()) {
      const finished = blob.status === "done" || blob.status === "exists";
      if (blob.total === undefined) {
        if (!finished) totalKnown = false;
        continue;
      }
      total += blob.total;
      done += finished ? blob.total : Math.min(blob.offset, blob.total);
    }
    return totalKnown && total > 0 ? { doneBytes: done, totalBytes: total } : { doneBytes: done };
  }
}

/** CPU and memory figures of `ctr tasks metrics --format json`. */
export interface TaskMetrics {
  /** Cumulative CPU time in nanoseconds. */
  cpuUsageNanoseconds: number;
  /** Memory in use, page cache included. */
  memoryUsageBytes: number;
  /** Usage minus inactive file pages. */
  memoryWorkingSetBytes: number;
}

function num(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

/**
 * Reads task metrics, cgroup v1 (`cpu.usage.total`, `memory.usage.usage`,
 * `memory.total_inactive_file`) or v2 (`cpu.usage_usec`, `memory.usage`,
 * `memory.inactive_file`).
 *
 * @throws {Error} when neither layout is there.
 */
export function parseMetrics(json: Record<string, unknown>): TaskMetrics {
  const cpu = (json.cpu ?? {}) as Record<string, unknown>;
  const memory = (json.memory ?? {}) as Record<string, unknown>;
  const v1Usage = memory.usage as { usage?: number } | undefined;
  if (typeof v1Usage === "object" && v1Usage !== null) {
    const usage = num(v1Usage.usage);
    const inactive = num(memory.total_inactive_file);
    return {
      cpuUsageNanoseconds: num((cpu.usage as { total?: number } | undefined)?.total),
      memoryUsageBytes: usage,
      memoryWorkingSetBytes: Math.max(0, usage - inactive),
    };
  }
  if (typeof memory.usage === "number") {
    const usage = memory.usage;
    return {
      cpuUsageNanoseconds: num(cpu.usage_usec) * 1000,
      memoryUsageBytes: usage,
      memoryWorkingSetBytes: Math.max(0, usage - num(memory.inactive_file)),
    };
  }
  throw new Error(`Cannot read task metrics: no memory usage in ${JSON.stringify(json).slice(0, 200)}`);
}
