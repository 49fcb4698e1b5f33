/**
 * The one place where the node agent spawns processes. Every command line
 * the agent runs (`ip`, `sysctl`, CNI plugins, `ctr`, `nft`) goes through an
 * {@linkcode Exec}: {@linkcode run} in production, a recorder in unit tests,
 * so every command line is in one place and testable.
 *
 * @example
 * ```ts
 * import { run } from "./_exec.ts";
 *
 * const { stdout } = await run(["ip", "-j", "route", "show"], { netns: "node-1" });
 * ```
 *
 * @module
 */

/** Options for one command. */
export interface ExecOptions {
  /** Text written to the command's standard input. */
  stdin?: string;
  /** Extra environment variables, added to the agent's own. */
  env?: Record<string, string>;
  /** Kill the command (SIGKILL) after this many milliseconds. */
  timeoutMs?: number;
  /**
   * Run inside this named network namespace (`ip netns exec <netns> …`);
   * default: the agent's own.
   */
  netns?: string;
  /**
   * Throw a {@linkcode CommandError} when the command exits non-zero
   * (default `true`). With `false`, the caller reads `code` itself.
   */
  check?: boolean;
}

/** What a finished command produced. */
export interface ExecResult {
  /** Exit code (128 + signal number when killed by a signal). */
  code: number;
  /** Standard output, decoded as UTF-8. */
  stdout: string;
  /** Standard error, decoded as UTF-8. */
  stderr: string;
}

/**
 * Runs a command to completion. The agent's parts take an `Exec` in their
 * options so that tests can record command lines instead of running them.
 */
export type Exec = (cmd: readonly string[], options?: ExecOptions) => Promise<ExecResult>;

/** How a command failed, for {@linkcode CommandError}. */
export interface CommandFailure {
  /** Exit code; absent when the program could not be started. */
  code?: number;
  /** What it wrote to standard output. */
  stdout?: string;
  /** What it wrote to standard error (or why it could not start). */
  stderr?: string;
  /** The timeout it ran past, when it was killed for that. */
  timeoutMs?: number;
  /** The underlying error, if any. */
  cause?: unknown;
}

/** A command failed: it exited non-zero, timed out, or could not start. */
export class CommandError extends Error {
  /** The command line as it was run (with the `ip netns exec` prefix). */
  readonly cmd: readonly string[];
  /** Exit code; `undefined` when the program could not be started. */
  readonly code: number | undefined;
  /** Its standard output. */
  readonly stdout: string;
  /** Its standard error. */
  readonly stderr: string;
  /** Whether it was killed because it ran past its timeout. */
  readonly timedOut: boolean;

  /** Creates the error for a failed command; the message quotes the command and its stderr. */
  constructor(cmd: readonly string[], failure: CommandFailure) {
    const stdout = failure.stdout ?? "";
    const stderr = failure.stderr ?? "";
    const detail = (stderr.trim() || stdout.trim()).slice(-2000);
    const what = failure.timeoutMs !== undefined
      ? `timed out after ${failure.timeoutMs} ms`
      : failure.code === undefined
      ? "could not start"
      : `failed with exit code ${failure.code}`;
    super(`Command "${cmd.join(" ")}" ${what}${detail ? `: ${detail}` : ""}`, { cause: failure.cause });
    this.name = "CommandError";
    this.cmd = cmd;
    this.code = failure.code;
    this.stdout = stdout;
    this.stderr = stderr;
    this.timedOut = failure.timeoutMs !== undefined;
  }
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * The command line {@linkcode run} spawns for `cmd` with `options`: `cmd`
 * itself, or `ip netns exec <netns> …` when `netns` is set.
 */
export function commandLine(cmd: readonly string[], options: ExecOptions = {}): string[] {
  return options.netns === undefined ? [...cmd] : ["ip", "netns", "exec", options.netns, ...cmd];
}

/**
 * Runs `cmd` and returns its exit code and output.
 *
 * @throws {TypeError} for an empty command or an invalid `netns` or `timeoutMs`.
 * @throws {CommandError} when the program cannot start, exits non-zero
 *   (unless `check: false`) or runs past `timeoutMs` (whatever `check` says).
 */
export const run: Exec = async (cmd, options = {}) => {
  if (cmd.length === 0 || cmd[0] === "") throw new TypeError("Cannot run an empty command");
  if (options.netns !== undefined && !/^[^/\s\0]{1,255}$/.test(options.netns)) {
    throw new TypeError(`Invalid option "netns": "${options.netns}" is not a network namespace name`);
  }
  const timeoutMs = options.timeoutMs;
  if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw new TypeError(`Invalid option "timeoutMs": ${timeoutMs} is not a positive number`);
  }
  const line = commandLine(cmd, options);
  const [program, ...args] = line as [string, ...string[]];
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      args,
      stdin: options.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
      ...(options.env ? { env: options.env } : {}),
    }).spawn();
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound ? "command not found" : String(error);
    throw new CommandError(line, { stderr: reason, cause: error });
  }
  let timedOut = false;
  const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // It exited between the timer firing and the kill.
    }
  }, timeoutMs);
  try {
    const [output] = await Promise.all([child.output(), writeStdin(child, options.stdin)]);
    const result: ExecResult = {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
    if (timedOut) throw new CommandError(line, { ...result, timeoutMs: timeoutMs! });
    if (result.code !== 0 && options.check !== false) throw new CommandError(line, result);
    return result;
  } finally {
    clearTimeout(timer);
  }
};

/** Writes `text` to the child's standard input and closes it, concurrently with reading its output. */
async function writeStdin(child: Deno.ChildProcess, text: string | undefined): Promise<void> {
  if (text === undefined) return;
  const writer = child.stdin.getWriter();
  try {
    await writer.write(encoder.encode(text));
    await writer.close();
  } catch {
    // The command exited without reading all of its input; its exit code tells.
  }
}

/** Whether `error` (or its cause) says the program does not exist. */
export function isCommandNotFound(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound ||
    (error instanceof Error && error.cause instanceof Deno.errors.NotFound);
}

/** Options of {@linkcode withParentDeathSignal}. */
export interface ParentDeathOptions {
  /** Directories searched for `setpriv`, colon-separated (default: `PATH`). */
  searchPath?: string;
}

const setprivPaths = new Map<string, string | undefined>();

/**
 * The command line that runs `cmd` so that the kernel kills it (SIGKILL)
 * when the process that spawned it dies, even by SIGKILL: `setpriv
 * --pdeathsig KILL -- …` (util-linux), which sets the signal and execs
 * `cmd` in place, so the spawned pid is `cmd`'s own. Use it for children
 * that would otherwise outlive the agent (`ctr events`, `ctr images
 * pull`); never for containerd, which outlives the agent on purpose.
 * Without `setpriv` on the search path, `cmd` as is (the child may then
 * outlive a killed agent).
 *
 * The signal follows the thread that spawned the child: spawn from the
 * main thread (as `Deno.Command` does), not from a Worker that may end first.
 */
export function withParentDeathSignal(cmd: readonly string[], options: ParentDeathOptions = {}): string[] {
  const setpriv = findSetpriv(options.searchPath);
  return setpriv === undefined ? [...cmd] : [setpriv, "--pdeathsig", "KILL", "--", ...cmd];
}

function findSetpriv(searchPath: string | undefined): string | undefined {
  let dirs = searchPath;
  if (dirs === undefined) {
    try {
      dirs = Deno.env.get("PATH") ?? "";
    } catch {
      // No permission to read PATH: run the command as is.
      return undefined;
    }
  }
  if (setprivPaths.has(dirs)) return setprivPaths.get(dirs);
  let found: string | undefined;
  for (const dir of dirs.split(":")) {
    if (dir === "") continue;
    try {
      const info = Deno.statSync(`${dir}/setpriv`);
      if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) {
        found = `${dir}/setpriv`;
        break;
      }
    } catch {
      // Not there (or not readable): look further.
    }
  }
  setprivPaths.set(dirs, found);
  return found;
}
