/**
 * The one place where the test helpers spawn processes: every command line
 * they run goes through {@linkcode run}, which collects output and turns a
 * failure into an error that quotes the command and its stderr.
 *
 * @module
 */

/** Options for {@linkcode run}. */
export interface RunOptions {
  /** Text written to the command's standard input. */
  stdin?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Working directory. */
  cwd?: string;
  /** Throw a {@linkcode CommandError} on a non-zero exit (default `true`). */
  check?: boolean;
  /** Kill the command (SIGKILL) after this many milliseconds. */
  timeoutMs?: number;
}

/** What a finished command produced. */
export interface RunResult {
  /** Exit code (128 + signal number when killed by a signal). */
  code: number;
  /** Whether the exit code was 0. */
  success: boolean;
  /** Standard output, decoded as UTF-8. */
  stdout: string;
  /** Standard error, decoded as UTF-8. */
  stderr: string;
}

/** A command exited with a non-zero code. */
export class CommandError extends Error {
  /** The command line that failed. */
  readonly cmd: readonly string[];
  /** Its exit code. */
  readonly code: number;
  /** Its standard error. */
  readonly stderr: string;

  /** Creates the error for a failed command. */
  constructor(cmd: readonly string[], result: RunResult) {
    const detail = (result.stderr.trim() || result.stdout.trim()).slice(-2000);
    super(
      `Command "${cmd.join(" ")}" failed with exit code ${result.code}` +
        (detail ? `: ${detail}` : ""),
    );
    this.name = "CommandError";
    this.cmd = cmd;
    this.code = result.code;
    this.stderr = result.stderr;
  }
}

const decoder = new TextDecoder();

/**
 * Runs a command to completion and returns its output.
 *
 * @throws {Error} when the program is not found on PATH.
 * @throws {CommandError} when it exits non-zero and `check` is not `false`.
 */
export async function run(
  cmd: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const [program, ...args] = cmd;
  if (program === undefined) throw new TypeError("Cannot run an empty command");
  const command = new Deno.Command(program, {
    args,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    ...(options.env ? { env: options.env } : {}),
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  let child: Deno.ChildProcess;
  try {
    child = command.spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(`Cannot run "${program}": command not found on PATH`, {
        cause: error,
      });
    }
    throw error;
  }
  const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // The command exited between the timeout firing and the kill.
    }
  }, options.timeoutMs);
  try {
    if (options.stdin !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(options.stdin));
      await writer.close();
    }
    const output = await child.output();
    const result: RunResult = {
      code: output.code,
      success: output.success,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
    if (!result.success && options.check !== false) {
      throw new CommandError(cmd, result);
    }
    return result;
  } finally {
    clearTimeout(timer);
  }
}

/** Pauses for `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
