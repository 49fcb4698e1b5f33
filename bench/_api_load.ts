/**
 * The API benchmark's load generator: keep-alive HTTPS requests through one
 * `node:https` agent, closed-loop runs (N workers issuing back to back) and
 * paced runs (requests issued on a fixed schedule whatever the latency), and
 * the process figures (CPU time, RSS) read from /proc.
 *
 * The same generator drives Skiff's API server and etcd's JSON gateway, so
 * their figures differ only by the server.
 *
 * @module
 */

import https from "node:https";
import { Buffer } from "node:buffer";

/** A response: its status and whole body as text. */
export interface LoadResponse {
  /** HTTP status. */
  status: number;
  /** The body, decoded as UTF-8. */
  body: string;
}

/** Options of {@linkcode LoadClient}. */
export interface LoadClientOptions {
  /** The only CA to trust, PEM. */
  caPem: string;
  /** Most connections kept open at once; requests beyond it wait for a free one. */
  maxSockets: number;
  /** Headers sent with every request (authorization). */
  headers?: Record<string, string>;
}

/** Sends requests over keep-alive HTTPS connections trusting one CA. */
export class LoadClient {
  #agent: https.Agent;
  #headers: Record<string, string>;

  /** Creates a client; nothing connects until the first request. */
  constructor(options: LoadClientOptions) {
    this.#agent = new https.Agent({ keepAlive: true, maxSockets: options.maxSockets, ca: options.caPem });
    this.#headers = options.headers ?? {};
  }

  /** Sends one request and reads its whole body; network failures reject. */
  request(method: string, url: string, body?: string): Promise<LoadResponse> {
    const headers: Record<string, string> = { ...this.#headers, accept: "application/json" };
    const bytes = body === undefined ? undefined : Buffer.from(body);
    if (bytes) {
      headers["content-type"] ??= "application/json";
      headers["content-length"] = String(bytes.byteLength);
    }
    return new Promise((resolve, reject) => {
      const req = https.request(url, { method, headers, agent: this.#agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end(bytes);
    });
  }

  /**
   * Opens a streaming GET (a watch) and calls `onLine` with every complete
   * line of its body. Returns at once (a server may hold the response
   * headers back until its first event); `status` settles with the
   * response's status, or 0 when the request fails.
   */
  stream(url: string, onLine: (line: string) => void): { status: Promise<number>; close(): void } {
    let settle: (status: number) => void = () => {};
    const status = new Promise<number>((resolve) => settle = resolve);
    const req = https.request(url, { method: "GET", headers: this.#headers, agent: this.#agent }, (res) => {
      settle(res.statusCode ?? 0);
      let carry = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        const lines = (carry + chunk).split("\n");
        carry = lines.pop()!;
        for (const line of lines) if (line) onLine(line);
      });
      res.on("error", () => {});
    });
    req.on("error", () => settle(0));
    req.end();
    return { status, close: () => req.destroy() };
  }

  /** Closes every connection. */
  close(): void {
    this.#agent.destroy();
  }
}

/** What a run of requests measured. */
export interface RunResult {
  /** Requests that succeeded. */
  done: number;
  /** Requests that failed (error status or network failure). */
  errors: number;
  /** Error counts by status (0: network failure). */
  errorStatuses: Record<number, number>;
  /** Latencies of the successful requests, ms. */
  latencies: number[];
  /** Wall time of the run, s. */
  seconds: number;
  /** CPU time this process used during the run, s. */
  clientCpuSeconds: number;
  /** CPU time the server process used during the run, s. */
  serverCpuSeconds: number;
}

/** Adds runs up: counts, times and CPU summed, latencies pooled. */
export function mergeRuns(runs: readonly RunResult[]): RunResult {
  const merged: RunResult = {
    done: 0,
    errors: 0,
    errorStatuses: {},
    latencies: [],
    seconds: 0,
    clientCpuSeconds: 0,
    serverCpuSeconds: 0,
  };
  for (const run of runs) {
    merged.done += run.done;
    merged.errors += run.errors;
    for (const [status, count] of Object.entries(run.errorStatuses)) {
      merged.errorStatuses[Number(status)] = (merged.errorStatuses[Number(status)] ?? 0) + count;
    }
    for (const latency of run.latencies) merged.latencies.push(latency);
    merged.seconds += run.seconds;
    merged.clientCpuSeconds += run.clientCpuSeconds;
    merged.serverCpuSeconds += run.serverCpuSeconds;
  }
  return merged;
}

/** One operation of a run: resolves true on success, false (or rejects) on failure; `status` for the tally. */
export type Operation = (worker: number, n: number) => Promise<{ ok: boolean; status: number }>;

/** Options of {@linkcode closedLoop}. */
export interface ClosedLoopOptions {
  /** Workers issuing requests back to back. */
  concurrency: number;
  /** Stop after this many seconds (whichever of `seconds` and `count` comes first). */
  seconds?: number;
  /** Stop after this many operations in total. */
  count?: number;
  /** The server's process id, to measure its CPU time. */
  serverPid: number;
}

/** Runs `op` from `concurrency` workers back to back until the time or the count is used up. */
export async function closedLoop(op: Operation, options: ClosedLoopOptions): Promise<RunResult> {
  const tally = newTally(options.serverPid);
  const deadline = options.seconds === undefined ? Infinity : performance.now() + options.seconds * 1000;
  const count = options.count ?? Infinity;
  let issued = 0;
  await Promise.all(Array.from({ length: options.concurrency }, async (_, worker) => {
    let n = 0;
    while (issued < count && performance.now() < deadline) {
      issued++;
      const t0 = performance.now();
      await tally.record(op(worker, n++), t0);
    }
  }));
  return tally.finish();
}

/** Options of {@linkcode paced}. */
export interface PacedOptions {
  /** Operations issued per second. */
  rate: number;
  /** For how long. */
  seconds: number;
  /** The server's process id, to measure its CPU time. */
  serverPid: number;
}

/**
 * Issues `op` at a fixed rate whatever the latency (an open loop). Each
 * latency counts from the moment the operation was due, so a stalled server
 * shows up in the figures rather than slowing the schedule down.
 */
export async function paced(op: Operation, options: PacedOptions): Promise<RunResult> {
  const tally = newTally(options.serverPid);
  const total = Math.round(options.rate * options.seconds);
  const interval = 1000 / options.rate;
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total;) {
    const now = performance.now();
    while (i < total && start + i * interval <= now) {
      pending.push(tally.record(op(0, i), start + i * interval));
      i++;
    }
    if (i < total) await new Promise((resolve) => setTimeout(resolve, Math.max(0, start + i * interval - now - 0.5)));
  }
  await Promise.all(pending);
  return tally.finish();
}

function newTally(serverPid: number) {
  const result: RunResult = {
    done: 0,
    errors: 0,
    errorStatuses: {},
    latencies: [],
    seconds: 0,
    clientCpuSeconds: 0,
    serverCpuSeconds: 0,
  };
  const start = performance.now();
  const clientCpu = cpuSeconds("self");
  const serverCpu = cpuSeconds(serverPid);
  const fail = (status: number) => {
    result.errors++;
    result.errorStatuses[status] = (result.errorStatuses[status] ?? 0) + 1;
  };
  return {
    async record(outcome: Promise<{ ok: boolean; status: number }>, since: number): Promise<void> {
      try {
        const { ok, status } = await outcome;
        if (!ok) return fail(status);
        result.latencies.push(performance.now() - since);
        result.done++;
      } catch {
        fail(0);
      }
    },
    finish(): RunResult {
      result.seconds = (performance.now() - start) / 1000;
      result.clientCpuSeconds = cpuSeconds("self") - clientCpu;
      result.serverCpuSeconds = cpuSeconds(serverPid) - serverCpu;
      return result;
    },
  };
}

const CLOCK_TICKS_PER_SECOND = Number(
  new TextDecoder().decode(new Deno.Command("getconf", { args: ["CLK_TCK"] }).outputSync().stdout).trim(),
) || 100;

/** User plus system CPU time of a process (`"self"` for this one), s. */
export function cpuSeconds(pid: number | "self"): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** A process's memory, in MB (10^6 bytes). */
export interface MemoryFigures {
  /** Resident set size (`VmRSS`). */
  rss: number;
  /** Peak resident set size (`VmHWM`). */
  peakRss: number;
  /** Resident anonymous memory (`RssAnon`): heaps, stacks. */
  anon: number;
  /** Resident file-backed memory (`RssFile`): mostly the executable, shared with other processes running it. */
  file: number;
  /** Proportional set size (`Pss` of smaps_rollup): shared pages divided among the processes sharing them. */
  pss: number;
}

/** Reads a process's memory figures from /proc. */
export function memoryOf(pid: number): MemoryFigures {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const rollup = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
  const field = (text: string, name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text);
    if (!match) throw new Error(`Cannot read ${name} of process ${pid}: /proc/${pid} has no such line`);
    return (Number(match[1]) * 1024) / 1e6;
  };
  return {
    rss: field(status, "VmRSS"),
    peakRss: field(status, "VmHWM"),
    anon: field(status, "RssAnon"),
    file: field(status, "RssFile"),
    pss: field(rollup, "Pss"),
  };
}

/** The 1-minute load average of the machine. */
export function loadAverage(): number {
  return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
}
