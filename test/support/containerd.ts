/**
 * A private containerd for tests: its own config, root, state and sockets
 * under a temporary directory, the CRI plugin disabled, stopped and removed
 * without leaving tasks, containers or files behind.
 *
 * Every containerd on a machine shares /run/containerd for shim sockets,
 * fifos and runc state (keyed by containerd namespace and container id), and
 * the cgroup paths `/<namespace>/<id>`. Tests that run in parallel with other
 * tests must therefore use a containerd namespace of their own: use
 * {@linkcode Containerd.namespace}, which is unique to each instance.
 *
 * @module
 */

import { join } from "node:path";
import { containerdConfig } from "../../node-agent/runtime/containerd_daemon.ts";
import { run, type RunOptions, type RunResult, sleep } from "./_run.ts";
import { removeTree, uniqueName } from "./tmp.ts";

/** Options for {@linkcode startContainerd}. */
export interface StartContainerdOptions {
  /**
   * Directory for the config, root, state, sockets and log; created when
   * missing and removed by `stop()`. Default: a fresh temporary directory.
   * Keep it short: unix socket paths are limited to 107 bytes.
   */
  dir?: string;
  /** How long to wait for containerd to answer (default 15000 ms). */
  startTimeoutMs?: number;
  /** How long `stop()` waits after SIGTERM before SIGKILL (default 10000 ms). */
  stopTimeoutMs?: number;
}

/** A running private containerd. */
export interface Containerd extends AsyncDisposable {
  /** Path of the gRPC socket, for `ctr -a`. */
  readonly address: string;
  /** The directory holding everything of this instance. */
  readonly dir: string;
  /** A containerd namespace name unique to this instance, e.g. `skiff-t4711-k3x9`. */
  readonly namespace: string;
  /** The containerd process id. */
  readonly pid: number;
  /** Path of containerd's log (its stderr). */
  readonly logFile: string;
  /**
   * Runs `ctr -a <address> -n <namespace> ...args` (namespace: option
   * `namespace`, else {@linkcode Containerd.namespace}).
   */
  ctr(
    args: readonly string[],
    options?: RunOptions & { namespace?: string },
  ): Promise<RunResult>;
  /**
   * Removes every task, container, image, lease and namespace it can, stops
   * containerd (SIGTERM, then SIGKILL after the timeout), waits for it to
   * exit and removes the directory. Safe to call more than once.
   */
  stop(): Promise<void>;
}

/**
 * Starts a private containerd and waits until `ctr version` answers.
 *
 * Start it once per test file and share it between steps:
 *
 * @example
 * ```ts
 * Deno.test("runtime", async (t) => {
 *   await using containerd = await startContainerd();
 *   await containerd.ctr(["images", "import", imageTar]);
 *   await t.step("runs a container", async () => {});
 * });
 * ```
 * @throws {RangeError} when `dir` is too long for its socket paths.
 * @throws {Error} with the tail of containerd's log when it does not start.
 */
export async function startContainerd(
  options: StartContainerdOptions = {},
): Promise<Containerd> {
  const longest = options.dir === undefined ? undefined : join(options.dir, "containerd.sock.ttrpc");
  if (longest !== undefined && new TextEncoder().encode(longest).length > 107) {
    throw new RangeError(
      `Invalid option "dir": socket path "${longest}" is longer than the 107 bytes a unix socket path allows`,
    );
  }
  const dir = options.dir ??
    await Deno.makeTempDir({ prefix: "skiff-ctd-" });
  await Deno.mkdir(dir, { recursive: true });
  const address = join(dir, "containerd.sock");
  const configFile = join(dir, "config.toml");
  const logFile = join(dir, "containerd.log");
  await Deno.writeTextFile(configFile, containerdConfig(dir));

  const log = await Deno.open(logFile, {
    write: true,
    create: true,
    truncate: true,
  });
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("containerd", {
      args: ["--config", configFile],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    log.close();
    await removeTree(dir);
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        'Cannot start containerd: "containerd" is not on PATH (install: apt-get install -y containerd runc)',
        { cause: error },
      );
    }
    throw error;
  }
  const logPump = child.stderr.pipeTo(log.writable).catch(() => {});
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });

  const instance: Containerd = {
    address,
    dir,
    namespace: uniqueName("skiff-t"),
    pid: child.pid,
    logFile,
    ctr: (args, runOptions = {}) => {
      const { namespace, ...rest } = runOptions;
      return run([
        "ctr",
        "-a",
        address,
        "-n",
        namespace ?? instance.namespace,
        ...args,
      ], rest);
    },
    stop: () => stopped ??= stop(),
    [Symbol.asyncDispose]: () => instance.stop(),
  };
  let stopped: Promise<void> | undefined;

  const stop = async () => {
    if (!exited) await cleanUp(address);
    if (!exited) {
      signal(child, "SIGTERM");
      const timeout = options.stopTimeoutMs ?? 10_000;
      const deadline = Date.now() + timeout;
      while (!exited && Date.now() < deadline) await sleep(50);
      if (!exited) signal(child, "SIGKILL");
    }
    await status;
    await logPump;
    await removeTree(dir);
  };

  const deadline = Date.now() + (options.startTimeoutMs ?? 15_000);
  for (;;) {
    const probe = await run(["ctr", "-a", address, "version"], {
      check: false,
      timeoutMs: 5_000,
    });
    if (probe.success) return instance;
    if (exited || Date.now() > deadline) {
      const tail = await logTail(logFile);
      await instance.stop();
      throw new Error(
        `Cannot start containerd: ${exited ? "it exited" : "it did not answer in time"}; last log lines:\n${tail}`,
      );
    }
    await sleep(50);
  }
}

/** Sends a signal, ignoring a process that has just exited. */
function signal(child: Deno.ChildProcess, name: Deno.Signal): void {
  try {
    child.kill(name);
  } catch (error) {
    if (!(error instanceof TypeError || error instanceof Deno.errors.NotFound)) {
      throw error;
    }
  }
}

/** Deletes everything in every namespace of the containerd at `address`. */
async function cleanUp(address: string): Promise<void> {
  const ctr = (namespace: string, args: string[]) =>
    run(["ctr", "-a", address, "-n", namespace, ...args], {
      check: false,
      timeoutMs: 30_000,
    });
  const ids = (result: RunResult) =>
    result.success ? result.stdout.split("\n").map((s) => s.trim()).filter(Boolean) : [];

  const namespaces = ids(await ctr("default", ["namespaces", "ls", "-q"]));
  for (const namespace of namespaces) {
    const tasks = ids(await ctr(namespace, ["tasks", "ls", "-q"]));
    for (const task of tasks) await ctr(namespace, ["tasks", "rm", "-f", task]);
    const containers = ids(await ctr(namespace, ["containers", "ls", "-q"]));
    if (containers.length > 0) {
      await ctr(namespace, ["containers", "rm", ...containers]);
    }
    const images = ids(await ctr(namespace, ["images", "ls", "-q"]));
    if (images.length > 0) {
      await ctr(namespace, ["images", "rm", "--sync", ...images]);
    }
    const leases = ids(await ctr(namespace, ["leases", "ls", "-q"]));
    if (leases.length > 0) await ctr(namespace, ["leases", "rm", ...leases]);
    for (let attempt = 0; attempt < 10; attempt++) {
      if ((await ctr(namespace, ["namespaces", "rm", namespace])).success) {
        break;
      }
      await sleep(200);
    }
    await removeSharedLeftovers(namespace);
  }
}

/**
 * Removes what runc leaves outside containerd's own directories once a
 * namespace has no containers: its empty state directory under
 * /run/containerd/runc and its empty parent cgroups. Directories still in use
 * (by another containerd using the same namespace name) are not empty and
 * stay.
 */
async function removeSharedLeftovers(namespace: string): Promise<void> {
  const candidates = [`/run/containerd/runc/${namespace}`];
  try {
    for await (const entry of Deno.readDir("/sys/fs/cgroup")) {
      if (entry.isDirectory) {
        candidates.push(`/sys/fs/cgroup/${entry.name}/${namespace}`);
      }
    }
    candidates.push(`/sys/fs/cgroup/${namespace}`);
  } catch {
    // No cgroup filesystem to clean.
  }
  for (const path of candidates) {
    try {
      await Deno.remove(path);
    } catch {
      // Missing, or still in use: leave it.
    }
  }
}

async function logTail(logFile: string): Promise<string> {
  try {
    const lines = (await Deno.readTextFile(logFile)).trimEnd().split("\n");
    return lines.slice(-20).join("\n");
  } catch {
    return "(no log)";
  }
}
