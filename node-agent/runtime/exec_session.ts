/**
 * Interactive execs: a command run in a container with its standard
 * streams open while it runs (`kubectl exec -i`, `skiff exec -it`), the
 * streaming counterpart of {@linkcode Runtime.exec}.
 *
 * For containerd, {@linkcode startCtrExec} runs `ctr tasks exec` with its
 * standard input, output and error piped. With a terminal (`tty`), ctr
 * needs a terminal of its own to relay, which a detached agent does not
 * have: `script` (util-linux) gives it one, set raw and sized before ctr
 * starts (no echo, no newline translation: the container's terminal does
 * both). A resize sets the size of that terminal (`stty -F`), and the
 * kernel's SIGWINCH makes ctr resize the container's terminal, as it does
 * for a person at a console. With a terminal, output and errors come as one
 * stream, on standard output.
 *
 * @module
 */

import type { Exec } from "../_exec.ts";
import { type Ctr, execFailure } from "./_ctr.ts";
import type { PipedProcess, SpawnPiped } from "./_spawn.ts";

/** A terminal's size, in character cells. */
export interface TerminalSize {
  /** Columns. */
  width: number;
  /** Rows. */
  height: number;
}

/** Options of {@linkcode Runtime.execStream}. */
export interface ExecStreamOptions {
  /** Give the command a standard input to write to (default: it reads as empty). */
  stdin?: boolean;
  /** Run the command in a terminal; its output and errors then come on `stdout`. */
  tty?: boolean;
  /** The terminal's size at start (with `tty`; default 80 × 24). */
  terminalSize?: TerminalSize;
  /** Extra environment variables. */
  env?: { name: string; value: string }[];
}

/** A command running in a container, with its streams. */
export interface ExecSession {
  /** Its standard input (with `stdin`); closing it is end of input. */
  readonly stdin: WritableStream<Uint8Array> | undefined;
  /** Its standard output (and errors, with `tty`). Read it: unread output stalls the command. */
  readonly stdout: ReadableStream<Uint8Array>;
  /** Its standard error (empty with `tty`). Read it too. */
  readonly stderr: ReadableStream<Uint8Array>;
  /**
   * Its exit code once it has ended (126 or 127 when the program could not
   * be run, as a shell reports it); rejects when the runtime could not run
   * it at all (say, the container stopped).
   */
  readonly exitCode: Promise<number>;
  /** Resizes its terminal (with `tty`; otherwise does nothing). */
  resize(size: TerminalSize): Promise<void>;
  /** Kills it (SIGKILL); resolves once it has ended. */
  kill(): Promise<void>;
}

/** What {@linkcode startCtrExec} needs. */
export interface CtrExecOptions extends ExecStreamOptions {
  /** The container. */
  id: string;
  /** The exec's id, unique in the container. */
  execId: string;
  /** The command line. */
  command: readonly string[];
  /** ctr, bound to containerd and the namespace. */
  ctr: Ctr;
  /** Runs commands to completion (`stty` for resizes, `ctr tasks kill`). */
  exec: Exec;
  /** Starts the piped process. */
  spawnPiped: SpawnPiped;
}

/** How much of the end of the output is kept to tell ctr's own failure from the command's. */
const TAIL_BYTES = 4096;
const DEFAULT_SIZE: TerminalSize = { width: 80, height: 24 };

/** Quotes `arg` for a POSIX shell. */
function shellQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

function checkSize(size: TerminalSize): TerminalSize {
  const ok = (n: number) => Number.isInteger(n) && n > 0 && n <= 65535;
  if (!ok(size.width) || !ok(size.height)) {
    throw new RangeError(`Invalid terminal size ${size.width}×${size.height}: expected whole numbers from 1 to 65535`);
  }
  return size;
}

/** The command line that runs `ctrArgs` (a full ctr command line) in a raw terminal of `size`. */
export function ttyCommand(ctrArgs: readonly string[], size: TerminalSize): string[] {
  const { width, height } = checkSize(size);
  return [
    "script",
    "--quiet",
    "--flush",
    "--return",
    "--command",
    // ctr turns output processing back on (OPOST) when it makes its terminal raw: -onlcr keeps newlines as written.
    `stty raw -echo -onlcr cols ${width} rows ${height} && exec ${ctrArgs.map(shellQuote).join(" ")}`,
    "/dev/null",
  ];
}

/** Keeps the last bytes that pass through a stream; `tail()` resolves to them once it has ended. */
function tailOf(
  stream: ReadableStream<Uint8Array>,
): { stream: ReadableStream<Uint8Array>; tail: () => Promise<string> } {
  let kept = new Uint8Array(0);
  const [out, watched] = stream.tee();
  const done = (async () => {
    for await (const chunk of watched) {
      const joined = new Uint8Array(kept.length + chunk.length);
      joined.set(kept);
      joined.set(chunk, kept.length);
      kept = joined.length > TAIL_BYTES ? joined.slice(joined.length - TAIL_BYTES) : joined;
    }
  })().catch(() => {});
  return { stream: out, tail: () => done.then(() => new TextDecoder().decode(kept)) };
}

/**
 * Starts `ctr tasks exec` (in a terminal of its own with `tty`) for
 * `options.command` in container `options.id`.
 */
export function startCtrExec(options: CtrExecOptions): ExecSession {
  const { ctr, id, execId } = options;
  const argv = options.env && options.env.length > 0
    ? ["env", ...options.env.map((e) => `${e.name}=${e.value}`), ...options.command]
    : [...options.command];
  const ctrArgs = ctr.command(["tasks", "exec", ...(options.tty ? ["--tty"] : []), "--exec-id", execId, id, ...argv]);
  const cmd = options.tty ? ttyCommand(ctrArgs, options.terminalSize ?? DEFAULT_SIZE) : ctrArgs;
  // With a terminal, script reads standard input to feed the terminal: it gets a pipe either way, left open
  // without input (script would type its end-of-file character into the terminal).
  const proc: PipedProcess = options.spawnPiped(cmd, { stdin: options.stdin || options.tty === true });
  if (options.tty && !options.stdin) proc.status.finally(() => proc.stdin?.close().catch(() => {}));
  const stdout = tailOf(proc.stdout);
  const stderr = tailOf(proc.stderr);
  const exitCode = proc.status.then(async (status) => {
    const tail = await (options.tty ? stdout : stderr).tail();
    const failure = execFailure({ code: status.code, stdout: "", stderr: tail.replaceAll("\r", "") });
    if (failure === "not-started") {
      const line = tail.replaceAll("\r", "").split("\n").findLast((l) => l.startsWith("ctr: ")) ?? "";
      throw new Error(`Cannot exec in container "${id}": ${line.slice(5) || `ctr exited with ${status.code}`}`);
    }
    return failure ?? status.code;
  });
  exitCode.catch(() => {});
  let ended = false;
  proc.status.then(() => ended = true, () => ended = true);

  /** The terminal ctr holds: its standard input, once `script` has started it. */
  const terminal = async (): Promise<string | undefined> => {
    try {
      const children = await Deno.readTextFile(`/proc/${proc.pid}/task/${proc.pid}/children`);
      const pid = children.trim().split(/\s+/)[0];
      return pid ? `/proc/${pid}/fd/0` : undefined;
    } catch {
      return undefined;
    }
  };

  return {
    stdin: options.stdin ? proc.stdin : undefined,
    stdout: stdout.stream,
    stderr: stderr.stream,
    exitCode,
    async resize(size) {
      if (!options.tty || ended) return;
      const { width, height } = checkSize(size);
      const path = await terminal();
      if (!path) return;
      await options.exec(["stty", "-F", path, "cols", String(width), "rows", String(height)], { check: false });
    },
    async kill() {
      if (ended) return;
      await options.exec(ctr.command(["tasks", "kill", "-s", "SIGKILL", "--exec-id", execId, id]), { check: false });
      const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
      await proc.status.catch(() => {});
      clearTimeout(timer);
    },
  };
}
