/**
 * Container log files in Kubernetes' CRI format, one entry per line:
 *
 * ```
 * 2024-05-01T10:00:00.123456789Z stdout F a complete line
 * 2024-05-01T10:00:00.223456789Z stdout P the start of a line that
 * 2024-05-01T10:00:00.323456789Z stdout F  goes on here
 * ```
 *
 * `F` ends a line, `P` is a fragment continued by the next entry. The
 * current file is `<path>`; when it grows past its size bound it is
 * rotated to `<path>.1` (older ones shift to `.2`, `.3`, … and the oldest is
 * dropped). The readers here work across rotation: {@linkcode readContainerLog}
 * reads the rotated files oldest first, {@linkcode followContainerLog} tails
 * the current file and moves on to the new one when it is rotated.
 *
 * @example
 * ```ts
 * import { followContainerLog, readContainerLog } from "./container_log.ts";
 *
 * const last = await readContainerLog("/var/lib/skiff/pods/x/c/0.log", { tailLines: 10, timestamps: true });
 * const controller = new AbortController();
 * for await (const chunk of followContainerLog("/var/lib/skiff/pods/x/c/0.log", { tailLines: 0, signal: controller.signal })) {
 *   console.log(chunk);
 * }
 * ```
 *
 * @module
 */

/** Which output stream an entry came from. */
export type LogStream = "stdout" | "stderr";

/** One entry (line) of a CRI log file. */
export interface LogEntry {
  /** RFC 3339 time with nanoseconds, e.g. `2024-05-01T10:00:00.123456789Z`. */
  time: string;
  /** The stream. */
  stream: LogStream;
  /** True for a fragment (`P`) that the next entry continues. */
  partial: boolean;
  /** The content, without the newline. */
  text: string;
}

/** The longest content one entry holds; longer lines are split into fragments, as containerd does. */
export const MAX_LOG_LINE_BYTES = 16 * 1024;

/** The CRI log line for `entry`, with its newline. */
export function formatCriLine(entry: LogEntry): string {
  return `${entry.time} ${entry.stream} ${entry.partial ? "P" : "F"} ${entry.text}\n`;
}

const CRI_LINE = /^(\S+) (stdout|stderr) ([PF]) ?(.*)$/s;

/** Parses one CRI log line (without its newline); `undefined` when it is not one. */
export function parseCriLine(line: string): LogEntry | undefined {
  const match = CRI_LINE.exec(line);
  if (!match) return undefined;
  return { time: match[1]!, stream: match[2] as LogStream, partial: match[3] === "P", text: match[4]! };
}

/** A time (default: now) as RFC 3339 with nanoseconds, at microsecond resolution. */
export function logTimestamp(nowMs: number = performance.timeOrigin + performance.now()): string {
  const micros = Math.floor(nowMs * 1000);
  const seconds = Math.floor(micros / 1_000_000);
  const base = new Date(seconds * 1000).toISOString().slice(0, 19);
  return `${base}.${String(micros % 1_000_000).padStart(6, "0")}000Z`;
}

/** Milliseconds since the epoch of an entry's time. */
export function entryTimeMs(time: string): number {
  const match = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(time);
  if (!match) return NaN;
  const fraction = (match[2] ?? "").padEnd(3, "0").slice(0, 3);
  return Date.parse(`${match[1]}.${fraction}${match[3]}`);
}

/** The files of a log, oldest first: `<path>.N` … `<path>.1`, `<path>` (only those that exist). */
export async function logFiles(path: string): Promise<string[]> {
  const rotated: { n: number; file: string }[] = [];
  const slash = path.lastIndexOf("/");
  const dir = slash === -1 ? "." : path.slice(0, slash) || "/";
  const base = path.slice(slash + 1);
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile || !entry.name.startsWith(`${base}.`)) continue;
      const suffix = entry.name.slice(base.length + 1);
      if (/^[1-9]\d*$/.test(suffix)) rotated.push({ n: Number(suffix), file: `${path}.${suffix}` });
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  rotated.sort((a, b) => b.n - a.n);
  const out = rotated.map((r) => r.file);
  try {
    await Deno.stat(path);
    out.push(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return out;
}

/** A line of output: its fragments joined. */
interface LogicalLine {
  time: string;
  text: string;
  complete: boolean;
}

/** Joins entries into lines; a trailing fragment stays incomplete. */
function joinEntries(entries: Iterable<LogEntry>, into: LogicalLine[] = []): LogicalLine[] {
  for (const entry of entries) {
    const last = into.at(-1);
    if (last && !last.complete) {
      last.text += entry.text;
      last.complete = !entry.partial;
    } else {
      into.push({ time: entry.time, text: entry.text, complete: !entry.partial });
    }
  }
  return into;
}

function* parseLines(text: string): Generator<LogEntry> {
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const entry = parseCriLine(line);
    if (entry) yield entry;
  }
}

/** Options of {@linkcode readContainerLog}. */
export interface ReadLogOptions {
  /** Only the last N lines. */
  tailLines?: number;
  /** At most this many bytes, from the end. */
  limitBytes?: number;
  /** Only lines written at or after this time (ms since the epoch). */
  sinceMs?: number;
  /** Prefix each line with its RFC 3339 time and a space. */
  timestamps?: boolean;
}

function formatLine(line: LogicalLine, timestamps: boolean | undefined): string {
  return `${timestamps ? `${line.time} ` : ""}${line.text}${line.complete ? "\n" : ""}`;
}

/**
 * The lines of `files` (oldest first) followed by `currentText`, reading
 * older files only while fewer than `tailLines` lines are found.
 */
async function collectLines(
  files: string[],
  currentText: string,
  tailLines: number | undefined,
): Promise<LogicalLine[]> {
  const parts: LogEntry[][] = [[...parseLines(currentText)]];
  let complete = parts[0]!.filter((e) => !e.partial).length;
  for (let i = files.length - 1; i >= 0; i--) {
    if (tailLines !== undefined && complete > tailLines) break;
    let text: string;
    try {
      text = await Deno.readTextFile(files[i]!);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    const entries = [...parseLines(text)];
    complete += entries.filter((e) => !e.partial).length;
    parts.unshift(entries);
  }
  return joinEntries(parts.flat());
}

function selectLines(lines: LogicalLine[], options: { tailLines?: number; sinceMs?: number }): LogicalLine[] {
  let out = lines;
  if (options.sinceMs !== undefined) {
    const since = options.sinceMs;
    out = out.filter((l) => entryTimeMs(l.time) >= since);
  }
  if (options.tailLines !== undefined) out = out.slice(Math.max(0, out.length - options.tailLines));
  return out;
}

/**
 * The output in the log at `path` (and its rotated files), as the container
 * wrote it, optionally with timestamps. A missing log reads as empty.
 */
export async function readContainerLog(path: string, options: ReadLogOptions = {}): Promise<string> {
  const files = await logFiles(path);
  const lines = selectLines(await collectLines(files, "", options.tailLines), options);
  let out = lines.map((l) => formatLine(l, options.timestamps)).join("");
  if (options.limitBytes !== undefined) {
    const bytes = new TextEncoder().encode(out);
    if (bytes.length > options.limitBytes) {
      out = new TextDecoder().decode(bytes.slice(bytes.length - options.limitBytes));
    }
  }
  return out;
}

/** Options of {@linkcode followContainerLog}. */
export interface FollowLogOptions {
  /** Start with the last N lines (default: everything). */
  tailLines?: number;
  /** Start with lines written at or after this time (ms since the epoch). */
  sinceMs?: number;
  /** Prefix each line with its RFC 3339 time and a space. */
  timestamps?: boolean;
  /** Stops following. */
  signal?: AbortSignal;
  /** How often to look for new output, in ms (default 200). */
  pollIntervalMs?: number;
  /**
   * Called when no new output has come; returning true ends the stream once
   * what is left is read (pass "the container has exited").
   */
  stopWhen?: () => boolean | Promise<boolean>;
}

/**
 * The output in the log at `path` as it is written: first what is there
 * (`tailLines`, `sinceMs`), then new output as chunks of text, across
 * rotation, until `signal` aborts or `stopWhen` says the writer is done.
 */
export async function* followContainerLog(path: string, options: FollowLogOptions = {}): AsyncGenerator<string> {
  const interval = options.pollIntervalMs ?? 200;
  const signal = options.signal;
  const ts = options.timestamps;
  const sleep = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, interval);
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      }
      signal?.addEventListener("abort", done, { once: true });
    });

  let file: Deno.FsFile | undefined;
  let inode: number | null = null;
  // Open the current file first, so that what is read below and what is followed meet exactly.
  while (!file) {
    if (signal?.aborted) return;
    try {
      file = await Deno.open(path, { read: true });
      inode = (await file.stat()).ino;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      if (await options.stopWhen?.()) {
        file = undefined;
        break;
      }
      await sleep();
    }
  }
  try {
    let decoder = new TextDecoder();
    let pending = "";
    let midLine = false;
    const emit = (bytes: Uint8Array): string => {
      pending += decoder.decode(bytes, { stream: true });
      const cut = pending.lastIndexOf("\n");
      if (cut === -1) return "";
      const entries = [...parseLines(pending.slice(0, cut + 1))];
      pending = pending.slice(cut + 1);
      let out = "";
      for (const entry of entries) {
        out += `${ts && !midLine ? `${entry.time} ` : ""}${entry.text}${entry.partial ? "" : "\n"}`;
        midLine = entry.partial;
      }
      return out;
    };

    // What is already there: the rotated files and the current one up to now.
    const current = file ? decoder.decode(await readAll(file), { stream: true }) : "";
    const cut = current.lastIndexOf("\n") + 1;
    pending = current.slice(cut);
    const rotated = (await logFiles(path)).filter((f) => f !== path);
    const lines = await collectLines(rotated, current.slice(0, cut), options.tailLines);
    midLine = lines.length > 0 && !lines.at(-1)!.complete;
    const first = selectLines(lines, options).map((l) => formatLine(l, ts)).join("");
    if (first) yield first;
    if (!file) return;

    let finishing = false;
    for (;;) {
      if (signal?.aborted) return;
      const bytes = await readAll(file);
      const out = bytes.length > 0 ? emit(bytes) : "";
      if (out) yield out;
      if (bytes.length > 0) continue;
      // Rotated? Finish the old file, then go on with the new one.
      const now = await Deno.stat(path).catch(() => undefined);
      if (now && now.ino !== inode) {
        const tail = emit(await readAll(file));
        if (tail) yield tail;
        file.close();
        file = await Deno.open(path, { read: true });
        inode = (await file.stat()).ino;
        decoder = new TextDecoder();
        continue;
      }
      if (finishing) return;
      if (await options.stopWhen?.()) {
        finishing = true;
        continue;
      }
      await sleep();
    }
  } finally {
    file?.close();
  }
}

async function readAll(file: Deno.FsFile): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await file.read(buf);
    if (n === null || n === 0) break;
    chunks.push(buf.slice(0, n));
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
