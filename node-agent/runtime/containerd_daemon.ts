/**
 * Finds a containerd to talk to, or starts one under the agent's data
 * directory: `skiff agent` and `deno task up` work on a machine where
 * containerd is installed but not running (no systemd, a fresh Pi).
 *
 * Order: the address given (or containerd's default socket when none is
 * given); then a containerd this function started earlier under the same
 * data directory (it outlives an agent that was killed, and so do its
 * containers); else a new one, `containerd --config <data-dir>/containerd/config.toml`
 * with its root, state, sockets and log under `<data-dir>/containerd` and the
 * CRI plugin disabled.
 *
 * @example
 * ```ts
 * import { ensureContainerd } from "./containerd_daemon.ts";
 *
 * await using containerd = await ensureContainerd({ dataDir: "/var/lib/skiff" });
 * console.log(containerd.address, containerd.ownProcess);
 * ```
 *
 * @module
 */

import { join } from "node:path";
import { type Exec, isCommandNotFound, run } from "../_exec.ts";
import { DEFAULT_CONTAINERD_ADDRESS } from "./_ctr.ts";
import { type Spawn, spawn as defaultSpawn, type SpawnedProcess } from "./_spawn.ts";

/** Options of {@linkcode ensureContainerd}. */
export interface EnsureContainerdOptions {
  /** The agent's data directory; an own containerd lives in `<dataDir>/containerd`. */
  dataDir: string;
  /** Use the containerd at this socket if it answers (default: /run/containerd/containerd.sock). */
  address?: string;
  /** Runs `ctr version` probes (default: the agent's `run`). */
  exec?: Exec;
  /** Starts containerd (default: the real `spawn`). */
  spawn?: Spawn;
  /** How long to wait for a new containerd to answer, in ms (default 15000). */
  startTimeoutMs?: number;
  /** How long `stop()` waits after SIGTERM before SIGKILL, in ms (default 10000). */
  stopTimeoutMs?: number;
}

/** The containerd in use. */
export interface ContainerdHandle extends AsyncDisposable {
  /** Its gRPC socket, for `ctr -a`. */
  readonly address: string;
  /** True when this call started it (and `stop()` stops it). */
  readonly ownProcess: boolean;
  /** Its process id, when this call started it. */
  readonly pid?: number;
  /** Its log file, when it runs under the data directory. */
  readonly logFile?: string;
  /**
   * Stops containerd if this call started it (SIGTERM, then SIGKILL after
   * the timeout) and waits for it to exit; otherwise does nothing. Running
   * containers survive it.
   */
  stop(): Promise<void>;
}

/** The longest path a unix socket can have, in bytes. */
const SOCKET_PATH_MAX = 107;

/** The config file of a containerd living in `dir`. */
export function containerdConfig(dir: string): string {
  const q = (name: string) => JSON.stringify(join(dir, name));
  return `version = 2
root = ${q("root")}
state = ${q("state")}
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = ${q("containerd.sock")}

[ttrpc]
  address = ${q("containerd.sock.ttrpc")}

[debug]
  address = ${q("debug.sock")}

[plugins."io.containerd.internal.v1.opt"]
  path = ${q("opt")}
`;
}

/**
 * Returns a containerd that answers: the one at `address` (or the default
 * socket), one started earlier under `dataDir`, or a new one started now.
 *
 * @throws {RangeError} when `<dataDir>/containerd` is too long for its socket paths.
 * @throws {Error} with the tail of containerd's log when a new one does not start.
 */
export async function ensureContainerd(options: EnsureContainerdOptions): Promise<ContainerdHandle> {
  if (!options.dataDir) throw new TypeError('Invalid option "dataDir": it is empty');
  const exec = options.exec ?? run;
  const answers = async (address: string) => {
    try {
      await Deno.lstat(address);
    } catch {
      return false;
    }
    const probe = await exec(["ctr", "-a", address, "version"], { check: false, timeoutMs: 5_000 }).catch(() =>
      undefined
    );
    return probe !== undefined && probe.code === 0 && /Server:/.test(probe.stdout);
  };
  const external = options.address ?? DEFAULT_CONTAINERD_ADDRESS;
  if (await answers(external)) return foreign(external);

  const dir = join(options.dataDir, "containerd");
  const address = join(dir, "containerd.sock");
  const longest = join(dir, "containerd.sock.ttrpc");
  if (new TextEncoder().encode(longest).length > SOCKET_PATH_MAX) {
    throw new RangeError(
      `Invalid option "dataDir": socket path "${longest}" is longer than the ${SOCKET_PATH_MAX} bytes a unix socket path allows`,
    );
  }
  if (await answers(address)) return foreign(address, join(dir, "containerd.log"));

  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const configFile = join(dir, "config.toml");
  const logFile = join(dir, "containerd.log");
  await Deno.writeTextFile(configFile, containerdConfig(dir));
  let proc: SpawnedProcess;
  try {
    proc = (options.spawn ?? defaultSpawn)(["containerd", "--config", configFile], { stderrFile: logFile });
  } catch (error) {
    if (isCommandNotFound(error)) {
      throw new Error('Cannot start containerd: "containerd" is not installed (apt-get install -y containerd runc)', {
        cause: error,
      });
    }
    throw error;
  }
  let exited = false;
  const drained = (async () => {
    for await (const _ of proc.lines) {
      // containerd logs to stderr; whatever it prints on stdout is dropped.
    }
  })();
  const status = proc.status.then((s) => {
    exited = true;
    return s;
  });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      if (!exited) {
        proc.kill("SIGTERM");
        const deadline = Date.now() + (options.stopTimeoutMs ?? 10_000);
        while (!exited && Date.now() < deadline) await sleep(50);
        if (!exited) proc.kill("SIGKILL");
      }
      await status;
      await drained;
    })();
  const handle: ContainerdHandle = {
    address,
    ownProcess: true,
    pid: proc.pid,
    logFile,
    stop,
    [Symbol.asyncDispose]: stop,
  };

  const deadline = Date.now() + (options.startTimeoutMs ?? 15_000);
  for (;;) {
    if (await answers(address)) return handle;
    if (exited || Date.now() > deadline) {
      const why = exited ? `it exited with code ${(await status).code}` : "it did not answer in time";
      await stop();
      throw new Error(
        `Cannot start containerd under "${dir}": ${why}; last log lines:\n${await logTail(logFile)}\n` +
          `Check the log at "${logFile}", or point the agent at a running containerd with --containerd-address`,
      );
    }
    await sleep(50);
  }
}

function foreign(address: string, logFile?: string): ContainerdHandle {
  const stop = () => Promise.resolve();
  return { address, ownProcess: false, ...(logFile ? { logFile } : {}), stop, [Symbol.asyncDispose]: stop };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function logTail(file: string): Promise<string> {
  try {
    return (await Deno.readTextFile(file)).trimEnd().split("\n").slice(-20).join("\n");
  } catch {
    return "(no log)";
  }
}
