/**
 * An in-memory {@linkcode Runtime} for unit tests and simulated nodes:
 * images "pull" after a configurable delay, containers "run" until told to
 * exit, and knobs make a container exit with a code after a while or be
 * OOM-killed. Time comes from an injected clock, so tests do not sleep.
 *
 * @example
 * ```ts
 * import { ManualClock } from "@skiff/api";
 * import { FakeRuntime } from "./fake_runtime.ts";
 *
 * const clock = new ManualClock();
 * const runtime = new FakeRuntime({ clock, behavior: () => ({ exitAfterMs: 5000, exitCode: 3 }) });
 * await runtime.ensureImage("busybox");
 * await runtime.createContainer({ id: "c1", image: "busybox", labels: {} });
 * await runtime.startContainer("c1");
 * await clock.advance(5000);
 * (await runtime.inspectContainer("c1")).exitCode; // 3
 * ```
 *
 * @module
 */

import { type Clock, normalizeImageReference, systemClock } from "@skiff/api";
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
  type LogOptions,
  type Runtime,
  type RuntimeVersion,
  type StopOptions,
} from "./runtime.ts";
import type { ExecSession, ExecStreamOptions } from "./exec_session.ts";

/** How a fake container behaves once started. */
export interface ContainerBehavior {
  /** Exit on its own this long after starting (absent: run until stopped). */
  exitAfterMs?: number;
  /** The code it exits with on its own (default 0). */
  exitCode?: number;
  /** Be OOM-killed (exit 137) this long after starting. */
  oomAfterMs?: number;
  /** Ignore SIGTERM, so a stop waits for the grace period and kills it (exit 137). */
  ignoreSigterm?: boolean;
  /** Written to its output when it starts. */
  output?: string;
}

/** What a fake container uses while it runs. */
export interface FakeUsage {
  /** Steady CPU use in millicores (default 5). */
  cpuMillicores: number;
  /** Working set in bytes (default 4 MiB). */
  memoryBytes: number;
}

/** Options of {@linkcode FakeRuntime}. */
export interface FakeRuntimeOptions {
  /** Time source for delays, exits and timestamps. */
  clock?: Clock;
  /** How long a pull takes, in ms (default 0). */
  pullDelayMs?: number | ((ref: string) => number);
  /** Why a pull of `ref` fails; undefined lets it succeed (default: every pull succeeds). */
  pullError?: (ref: string) => string | undefined;
  /** Images present from the start. */
  images?: string[];
  /** The architecture images are built for (default `amd64`). */
  architecture?: string;
  /** How each container behaves (default: runs until stopped). */
  behavior?: (spec: ContainerSpec) => ContainerBehavior | undefined;
  /** What each container uses. */
  usage?: (spec: ContainerSpec) => FakeUsage;
  /** Runs an exec; the default understands `echo`, `true`, `false` and `sh -c "exit N"`. */
  exec?: (id: string, command: string[]) => Omit<ExecResult, "timedOut">;
  /** Called after a container starts or exits. */
  onStateChange?: (container: ContainerInfo) => void;
}

interface FakeContainer {
  info: ContainerInfo;
  spec: ContainerSpec;
  output: string;
  behavior: ContainerBehavior;
  timers: number[];
  stopping?: Promise<void>;
  logWrite: Promise<void>;
}

const DEFAULT_USAGE: FakeUsage = { cpuMillicores: 5, memoryBytes: 4 * 1024 * 1024 };
const SIGKILL_EXIT = 137;
const SIGTERM_EXIT = 143;

/** The fake runtime. */
export class FakeRuntime implements Runtime {
  #options: FakeRuntimeOptions;
  #clock: Clock;
  #images = new Map<string, ImageInfo>();
  #containers = new Map<string, FakeContainer>();
  #nextPid = 1000;

  /** Creates a fake runtime with the images of `options.images` present. */
  constructor(options: FakeRuntimeOptions = {}) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    for (const ref of options.images ?? []) this.#addImage(normalizeImageReference(ref));
  }

  /** How many containers exist (in any state). */
  get size(): number {
    return this.#containers.size;
  }

  /** Its name and version. */
  version(): Promise<RuntimeVersion> {
    return Promise.resolve({ name: "fake", version: "0.1.0" });
  }

  /** Makes an image present, after the configured pull delay. */
  async ensureImage(ref: string, options: EnsureImageOptions = {}): Promise<EnsuredImage> {
    let normalized: string;
    try {
      normalized = normalizeImageReference(ref);
    } catch (cause) {
      throw new ImagePullError(ref, "ErrImagePull", (cause as Error).message, { cause });
    }
    const policy = options.pullPolicy ?? "IfNotPresent";
    const present = this.#images.get(normalized);
    if (present && policy !== "Always") return { ...present, pulled: false };
    if (policy === "Never") {
      throw new ImagePullError(ref, "ErrImageNeverPull", "it is not present and the pull policy is Never");
    }
    const delay = typeof this.#options.pullDelayMs === "function"
      ? this.#options.pullDelayMs(normalized)
      : this.#options.pullDelayMs ?? 0;
    if (delay > 0) await this.#sleep(delay, options.signal);
    options.signal?.throwIfAborted();
    const failure = this.#options.pullError?.(normalized);
    if (failure !== undefined) throw new ImagePullError(ref, "ErrImagePull", failure);
    const image = this.#addImage(normalized);
    options.onProgress?.({ ref: normalized, doneBytes: image.sizeBytes, totalBytes: image.sizeBytes });
    return { ...image, pulled: true };
  }

  /** The images present. */
  listImages(): Promise<ImageInfo[]> {
    return Promise.resolve([...this.#images.values()].map((i) => ({ ...i })));
  }

  /** Removes an image. */
  removeImage(ref: string): Promise<void> {
    this.#images.delete(normalizeImageReference(ref));
    return Promise.resolve();
  }

  /** Creates a container in state `created`. */
  createContainer(spec: ContainerSpec): Promise<ContainerInfo> {
    if (!spec.id) return Promise.reject(new TypeError("Cannot create a container: spec.id is empty"));
    if (this.#containers.has(spec.id)) {
      return Promise.reject(new Error(`Cannot create container "${spec.id}": a container with that id exists`));
    }
    let ref: string;
    try {
      ref = normalizeImageReference(spec.image);
    } catch (cause) {
      return Promise.reject(new TypeError(`Cannot create container "${spec.id}": ${(cause as Error).message}`));
    }
    const image = this.#images.get(ref);
    if (!image) {
      return Promise.reject(new Error(`Cannot create container "${spec.id}": image "${ref}" is not present`));
    }
    const info: ContainerInfo = {
      id: spec.id,
      image: ref,
      imageId: image.id,
      labels: { ...spec.labels },
      ...(spec.logPath ? { logPath: spec.logPath } : {}),
      state: "created",
      createdAt: this.#clock.now(),
      oomKilled: false,
    };
    this.#containers.set(spec.id, {
      info,
      spec: structuredClone(spec),
      output: "",
      behavior: this.#options.behavior?.(spec) ?? {},
      timers: [],
      logWrite: Promise.resolve(),
    });
    return Promise.resolve(snapshot(info));
  }

  /** Starts a created container; its behavior's timers begin now. */
  startContainer(id: string): Promise<void> {
    const c = this.#get(id);
    if (!c) return Promise.reject(new ContainerNotFoundError(id));
    if (c.info.state !== "created") {
      return Promise.reject(new Error(`Cannot start container "${id}": it is ${c.info.state}, not created`));
    }
    c.info.state = "running";
    c.info.startedAt = this.#clock.now();
    c.info.pid = this.#nextPid++;
    const { behavior } = c;
    if (behavior.output) this.write(id, behavior.output);
    if (behavior.oomAfterMs !== undefined) {
      c.timers.push(this.#clock.setTimeout(() => this.#exit(c, SIGKILL_EXIT, true), behavior.oomAfterMs));
    } else if (behavior.exitAfterMs !== undefined) {
      const code = behavior.exitCode ?? 0;
      c.timers.push(this.#clock.setTimeout(() => this.#exit(c, code, false), behavior.exitAfterMs));
    }
    this.#options.onStateChange?.(snapshot(c.info));
    return Promise.resolve();
  }

  /** Stops a running container: it exits with 143 at once, or with 137 after the grace period if it ignores SIGTERM. */
  stopContainer(id: string, options: StopOptions = {}): Promise<void> {
    const c = this.#get(id);
    if (!c) return Promise.reject(new ContainerNotFoundError(id));
    if (c.info.state !== "running") return Promise.resolve();
    if (c.stopping) return c.stopping;
    const grace = Math.max(0, options.gracePeriodSeconds ?? 30) * 1000;
    if (!c.behavior.ignoreSigterm || grace === 0) {
      this.#exit(c, c.behavior.ignoreSigterm ? SIGKILL_EXIT : SIGTERM_EXIT, false);
      return Promise.resolve();
    }
    c.stopping = new Promise<void>((resolve) => {
      c.timers.push(this.#clock.setTimeout(() => {
        this.#exit(c, SIGKILL_EXIT, false);
        resolve();
      }, grace));
    });
    return c.stopping;
  }

  /** Removes a container that is not running. */
  removeContainer(id: string): Promise<void> {
    const c = this.#get(id);
    if (!c) return Promise.resolve();
    if (c.info.state === "running") {
      return Promise.reject(new Error(`Cannot remove container "${id}": it is running; stop it first`));
    }
    for (const t of c.timers) this.#clock.clearTimeout(t);
    this.#containers.delete(id);
    return Promise.resolve();
  }

  /** The containers matching `filter`. */
  listContainers(filter: ContainerFilter = {}): Promise<ContainerInfo[]> {
    const wanted = Object.entries(filter.labels ?? {});
    const out: ContainerInfo[] = [];
    for (const { info } of this.#containers.values()) {
      if (filter.states && !filter.states.includes(info.state)) continue;
      if (!wanted.every(([k, v]) => info.labels[k] === v)) continue;
      out.push(snapshot(info));
    }
    return Promise.resolve(out);
  }

  /** One container. */
  inspectContainer(id: string): Promise<ContainerInfo> {
    const c = this.#get(id);
    return c ? Promise.resolve(snapshot(c.info)) : Promise.reject(new ContainerNotFoundError(id));
  }

  /** Runs a command through the configured exec handler. */
  exec(id: string, command: string[], _options: ExecOptions = {}): Promise<ExecResult> {
    const c = this.#get(id);
    if (!c) return Promise.reject(new ContainerNotFoundError(id));
    if (c.info.state !== "running") {
      return Promise.reject(new Error(`Cannot exec in container "${id}": it is ${c.info.state}, not running`));
    }
    if (command.length === 0) return Promise.reject(new TypeError("Cannot exec: the command is empty"));
    const result = (this.#options.exec ?? defaultExec)(id, command);
    return Promise.resolve({ ...result, timedOut: false });
  }

  /**
   * Starts an interactive exec: `cat` copies its standard input to its
   * output until the input is closed; any other command runs through the
   * configured exec handler, its output written at once.
   */
  execStream(id: string, command: string[], options: ExecStreamOptions = {}): Promise<ExecSession> {
    const c = this.#get(id);
    if (!c) return Promise.reject(new ContainerNotFoundError(id));
    if (c.info.state !== "running") {
      return Promise.reject(new Error(`Cannot exec in container "${id}": it is ${c.info.state}, not running`));
    }
    if (command.length === 0) return Promise.reject(new TypeError("Cannot exec: the command is empty"));
    const stderr = new TransformStream<Uint8Array, Uint8Array>();
    const stdout = new TransformStream<Uint8Array, Uint8Array>();
    const ended = Promise.withResolvers<number>();
    const encoder = new TextEncoder();
    let stdin: WritableStream<Uint8Array> | undefined;
    if (command[0] === "cat" && command.length === 1) {
      const copy = new TransformStream<Uint8Array, Uint8Array>();
      stdin = options.stdin ? copy.writable : undefined;
      if (!options.stdin) copy.writable.close().catch(() => {});
      copy.readable.pipeTo(stdout.writable).then(() => ended.resolve(0), () => ended.resolve(1));
      stderr.writable.close().catch(() => {});
    } else {
      const result = (this.#options.exec ?? defaultExec)(id, command);
      stdin = options.stdin ? new WritableStream<Uint8Array>() : undefined;
      const write = async (stream: WritableStream<Uint8Array>, text: string) => {
        const writer = stream.getWriter();
        if (text) await writer.write(encoder.encode(text));
        await writer.close();
      };
      Promise.all([
        write(stdout.writable, options.tty ? result.stdout + result.stderr : result.stdout),
        write(stderr.writable, options.tty ? "" : result.stderr),
      ]).then(() => ended.resolve(result.exitCode), () => ended.resolve(result.exitCode));
    }
    return Promise.resolve({
      stdin,
      stdout: stdout.readable,
      stderr: stderr.readable,
      exitCode: ended.promise,
      resize: () => Promise.resolve(),
      async kill() {
        await stdin?.abort().catch(() => {});
        ended.resolve(137);
      },
    });
  }

  /** The container's output so far. */
  async logs(id: string, options: LogOptions = {}): Promise<string> {
    const c = this.#get(id);
    if (!c) throw new ContainerNotFoundError(id);
    await c.logWrite;
    let text = c.output;
    if (options.tailLines !== undefined) {
      const lines = text.split("\n");
      const trailing = lines.at(-1) === "" ? lines.pop() : undefined;
      text = lines.slice(Math.max(0, lines.length - options.tailLines)).join("\n") +
        (trailing !== undefined && lines.length > 0 ? "\n" : "");
    }
    if (options.limitBytes !== undefined) {
      const bytes = new TextEncoder().encode(text);
      if (bytes.length > options.limitBytes) {
        text = new TextDecoder().decode(bytes.slice(bytes.length - options.limitBytes));
      }
    }
    return text;
  }

  /** Resource use: steady CPU since start and a constant working set. */
  stats(id: string): Promise<ContainerStats> {
    const c = this.#get(id);
    if (!c) return Promise.reject(new ContainerNotFoundError(id));
    if (c.info.state !== "running") {
      return Promise.reject(new Error(`Cannot read stats of container "${id}": it is ${c.info.state}, not running`));
    }
    const usage = this.#options.usage?.(c.spec) ?? DEFAULT_USAGE;
    const now = this.#clock.now();
    const ranMs = now - (c.info.startedAt ?? now);
    return Promise.resolve({
      timestamp: now,
      cpuUsageNanoseconds: Math.round(ranMs * 1e6 * usage.cpuMillicores / 1000),
      memoryUsageBytes: Math.round(usage.memoryBytes * 1.25),
      memoryWorkingSetBytes: usage.memoryBytes,
    });
  }

  /** Appends `text` to a container's output (and its log file, when it has one), as if it printed it. */
  write(id: string, text: string): void {
    const c = this.#get(id);
    if (!c) throw new ContainerNotFoundError(id);
    c.output += text;
    const path = c.spec.logPath;
    if (path) {
      c.logWrite = c.logWrite.then(() => Deno.writeTextFile(path, text, { append: true }));
    }
  }

  /** Makes a running container exit now with `exitCode` (as OOM-killed when `oomKilled`). */
  exit(id: string, exitCode: number, options: { oomKilled?: boolean } = {}): void {
    const c = this.#get(id);
    if (!c) throw new ContainerNotFoundError(id);
    if (c.info.state !== "running") throw new Error(`Cannot exit container "${id}": it is ${c.info.state}`);
    this.#exit(c, exitCode, options.oomKilled ?? false);
  }

  #get(id: string): FakeContainer | undefined {
    return this.#containers.get(id);
  }

  #exit(c: FakeContainer, exitCode: number, oomKilled: boolean): void {
    if (c.info.state !== "running") return;
    for (const t of c.timers) this.#clock.clearTimeout(t);
    c.timers = [];
    c.info.state = "exited";
    c.info.exitCode = exitCode;
    c.info.finishedAt = this.#clock.now();
    c.info.oomKilled = oomKilled;
    c.info.reason = oomKilled ? "OOMKilled" : exitCode === 0 ? "Completed" : "Error";
    delete c.info.pid;
    this.#options.onStateChange?.(snapshot(c.info));
  }

  #addImage(ref: string): ImageInfo {
    const image: ImageInfo = {
      ref,
      id: `sha256:${fakeDigest(ref)}`,
      sizeBytes: 1_200_000,
      architecture: this.#options.architecture ?? "amd64",
    };
    this.#images.set(ref, image);
    return image;
  }

  #sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const handle = this.#clock.setTimeout(resolve, ms);
      signal?.addEventListener("abort", () => {
        this.#clock.clearTimeout(handle);
        resolve();
      }, { once: true });
    });
  }
}

function snapshot(info: ContainerInfo): ContainerInfo {
  return { ...info, labels: { ...info.labels } };
}

/** A stable 64-hex-digit digest-looking string for `text` (FNV-1a, repeated). */
function fakeDigest(text: string): string {
  let out = "";
  let hash = 0x811c9dc5;
  for (let round = 0; out.length < 64; round++) {
    for (let i = 0; i < text.length; i++) {
      hash ^= text.charCodeAt(i) + round;
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
    out += hash.toString(16).padStart(8, "0");
  }
  return out.slice(0, 64);
}

function defaultExec(_id: string, command: string[]): Omit<ExecResult, "timedOut"> {
  const [program, ...args] = command;
  const name = program!.split("/").at(-1);
  switch (name) {
    case "echo":
      return { exitCode: 0, stdout: `${args.join(" ")}\n`, stderr: "" };
    case "true":
      return { exitCode: 0, stdout: "", stderr: "" };
    case "false":
      return { exitCode: 1, stdout: "", stderr: "" };
    case "sh": {
      const match = args[0] === "-c" ? /^\s*exit\s+(\d+)\s*$/.exec(args[1] ?? "") : null;
      if (match) return { exitCode: Number(match[1]), stdout: "", stderr: "" };
      break;
    }
  }
  return { exitCode: 127, stdout: "", stderr: `exec: "${program}": executable file not found in $PATH\n` };
}
