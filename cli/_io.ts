/**
 * Where the CLI reads and writes: every command prints through an
 * {@linkcode Io}, so tests run the program in process and capture what a
 * user would see.
 *
 * @module
 */

/** A place text (or bytes) is written to: stdout or stderr. */
export interface Output {
  /** Writes text or bytes, in order. */
  write(data: string | Uint8Array): void;
  /** Whether a person is looking at it (colour and progress lines). */
  readonly isTerminal: boolean;
}

/** The terminal size, in characters. */
export interface TerminalSize {
  /** Columns. */
  columns: number;
  /** Rows. */
  rows: number;
}

/** Everything a command may touch outside the API: streams, environment, time. */
export interface Io {
  /** Standard output: results. */
  stdout: Output;
  /** Standard error: errors, warnings and progress. */
  stderr: Output;
  /** Standard input (for `apply -f -` and `exec -i`). */
  stdin(): ReadableStream<Uint8Array>;
  /** Whether standard input is a terminal. */
  readonly stdinIsTerminal: boolean;
  /** Reads an environment variable. */
  env(name: string): string | undefined;
  /** The time, in milliseconds since the epoch (AGE columns, timeouts). */
  now(): number;
  /** Aborts long-running commands (`get -w`, `logs -f`, `events -w`) from outside; absent: run until killed. */
  signal?: AbortSignal;
  /** Switches standard input to raw mode and back (`exec -t`); absent when it is not a terminal. */
  setRaw?(raw: boolean): void;
  /** The terminal size, when standard output is a terminal. */
  terminalSize?(): TerminalSize | undefined;
  /** Calls `fn` whenever the terminal is resized; returns a function that stops. */
  onResize?(fn: () => void): () => void;
}

function denoOutput(file: typeof Deno.stdout | typeof Deno.stderr): Output {
  const encoder = new TextEncoder();
  return {
    isTerminal: file.isTerminal(),
    write(data) {
      let bytes = typeof data === "string" ? encoder.encode(data) : data;
      while (bytes.length > 0) bytes = bytes.subarray(file.writeSync(bytes));
    },
  };
}

/** The process's own standard streams, environment and clock. */
export function denoIo(): Io {
  const stdinIsTerminal = Deno.stdin.isTerminal();
  const io: Io = {
    stdout: denoOutput(Deno.stdout),
    stderr: denoOutput(Deno.stderr),
    stdin: () => Deno.stdin.readable,
    stdinIsTerminal,
    env: (name) => Deno.env.get(name),
    now: () => Date.now(),
    terminalSize() {
      try {
        return Deno.consoleSize();
      } catch {
        return undefined;
      }
    },
    onResize(fn) {
      Deno.addSignalListener("SIGWINCH", fn);
      return () => Deno.removeSignalListener("SIGWINCH", fn);
    },
  };
  if (stdinIsTerminal) io.setRaw = (raw) => Deno.stdin.setRaw(raw);
  return io;
}

/** Reads a whole stream as text. */
export async function readAllText(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}
