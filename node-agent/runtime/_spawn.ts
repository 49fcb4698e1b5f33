/**
 * Long-running processes for the runtime: `ctr events`, `ctr images pull`
 * (whose progress is read while it runs), a containerd daemon, and
 * interactive execs (`ctr tasks exec` with its streams piped). The
 * agent's exec module (`../_exec.ts`) runs commands to completion only;
 * this is its streaming counterpart, injectable the same way so that every
 * command line stays testable.
 *
 * @module
 */

import { CommandError } from "../_exec.ts";

/** Options of {@linkcode Spawn}. */
export interface SpawnOptions {
  /** Extra environment variables, added to the agent's own. */
  env?: Record<string, string>;
  /** Append standard error to this file instead of collecting it. */
  stderrFile?: string;
}

/** How a spawned process ended. */
export interface SpawnStatus {
  /** Exit code (128 + signal number when killed by a signal). */
  code: number;
  /** The signal that killed it, if any. */
  signal: string | null;
}

/** A running process whose standard output is read line by line. */
export interface SpawnedProcess {
  /** Its process id. */
  readonly pid: number;
  /**
   * Its standard output, line by line (without the newline); ends when it
   * closes. Read it, once: unread output fills the pipe and stalls the process.
   */
  readonly lines: AsyncIterable<string>;
  /** Its standard error once it exits (empty when `stderrFile` was given). */
  readonly stderr: Promise<string>;
  /** Resolves when it has exited and its output is fully read. */
  readonly status: Promise<SpawnStatus>;
  /** Sends a signal (default SIGTERM); does nothing once it has exited. */
  kill(signal?: Deno.Signal): void;
}

/** Starts a long-running process. */
export type Spawn = (cmd: readonly string[], options?: SpawnOptions) => SpawnedProcess;

const decoder = new TextDecoder();

/**
 * Starts `cmd` with standard input closed and standard output piped.
 *
 * @throws {CommandError} when the program cannot start.
 */
export const spawn: Spawn = (cmd, options = {}) => {
  const [program, ...args] = cmd;
  if (program === undefined || program === "") throw new TypeError("Cannot spawn an empty command");
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      ...(options.env ? { env: options.env } : {}),
    }).spawn();
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound ? "command not found" : String(error);
    throw new CommandError(cmd, { stderr: reason, cause: error });
  }
  let exited = false;
  const stderr = options.stderrFile === undefined
    ? new Response(child.stderr).text()
    : appendTo(child.stderr, options.stderrFile).then(() => "");
  const lines = splitLines(child.stdout);
  const status = child.status.then(async (s) => {
    exited = true;
    await stderr.catch(() => "");
    return { code: s.code, signal: s.signal };
  });
  return {
    pid: child.pid,
    lines,
    stderr,
    status,
    kill(signal: Deno.Signal = "SIGTERM") {
      if (exited) return;
      try {
        child.kill(signal);
      } catch {
        // It exited between the check and the kill.
      }
    },
  };
};

async function* splitLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffered = "";
  for await (const chunk of stream) {
    buffered += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffered.indexOf("\n")) !== -1) {
      yield buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
    }
  }
  buffered += decoder.decode();
  if (buffered !== "") yield buffered;
}

async function appendTo(stream: ReadableStream<Uint8Array>, path: string): Promise<void> {
  const file = await Deno.open(path, { append: true, create: true });
  await stream.pipeTo(file.writable).catch(() => {});
}

/** Options of {@linkcode SpawnPiped}. */
export interface SpawnPipedOptions {
  /** Pipe standard input (default: it reads as empty). */
  stdin?: boolean;
  /** Extra environment variables, added to the agent's own. */
  env?: Record<string, string>;
}

/** A running process with its standard streams as byte streams. */
export interface PipedProcess {
  /** Its process id. */
  readonly pid: number;
  /** Its standard input, when piped. */
  readonly stdin: WritableStream<Uint8Array> | undefined;
  /** Its standard output. Read it: unread output fills the pipe and stalls the process. */
  readonly stdout: ReadableStream<Uint8Array>;
  /** Its standard error, read the same way. */
  readonly stderr: ReadableStream<Uint8Array>;
  /** Resolves when it has exited. */
  readonly status: Promise<SpawnStatus>;
  /** Sends a signal (default SIGTERM); does nothing once it has exited. */
  kill(signal?: Deno.Signal): void;
}

/** Starts a process whose standard streams the caller reads and writes (an interactive exec). */
export type SpawnPiped = (cmd: readonly string[], options?: SpawnPipedOptions) => PipedProcess;

/**
 * Starts `cmd` with standard output and error piped, and standard input
 * piped when `options.stdin` (else empty).
 *
 * @throws {CommandError} when the program cannot start.
 */
export const spawnPiped: SpawnPiped = (cmd, options = {}) => {
  const [program, ...args] = cmd;
  if (program === undefined || program === "") throw new TypeError("Cannot spawn an empty command");
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      args,
      stdin: options.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
      ...(options.env ? { env: options.env } : {}),
    }).spawn();
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound ? "command not found" : String(error);
    throw new CommandError(cmd, { stderr: reason, cause: error });
  }
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return { code: s.code, signal: s.signal };
  });
  return {
    pid: child.pid,
    stdin: options.stdin ? child.stdin : undefined,
    stdout: child.stdout,
    stderr: child.stderr,
    status,
    kill(signal: Deno.Signal = "SIGTERM") {
      if (exited) return;
      try {
        child.kill(signal);
      } catch {
        // It exited between the check and the kill.
      }
    },
  };
};
