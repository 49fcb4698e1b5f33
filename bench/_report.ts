/**
 * Shared helpers of the benchmarks: every figure is printed as one JSON line
 * with at least `bench`, `metric`, `value` and `unit`.
 *
 * @module
 */

/** One measured figure. */
export interface Figure {
  /** The benchmark's name (its file name). */
  bench: string;
  /** What was measured. */
  metric: string;
  /** The measurement. */
  value: number;
  /** Its unit. */
  unit: string;
  /** Anything that qualifies the figure (concurrency, mode, sizes). */
  [detail: string]: unknown;
}

/** Prints one figure as a JSON line. */
export function report(figure: Figure): void {
  const value = Number.isInteger(figure.value) ? figure.value : Number(figure.value.toFixed(3));
  console.log(JSON.stringify({ ...figure, value }));
}

/** True when the benchmark was asked to finish quickly (`--quick`). */
export const quick: boolean = Deno.args.includes("--quick");

/** The p-th percentile (0..100) of `samples` (sorted in place). */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return 0;
  samples.sort((a, b) => a - b);
  const index = Math.min(samples.length - 1, Math.max(0, Math.ceil((p / 100) * samples.length) - 1));
  return samples[index]!;
}

/** Bytes this process has caused to be written to storage so far (`write_bytes` of /proc/self/io). */
export function bytesWrittenByProcess(): number {
  const io = Deno.readTextFileSync("/proc/self/io");
  const match = /^write_bytes:\s+(\d+)/m.exec(io);
  return match ? Number(match[1]) : 0;
}

/** Resident set size of this process, in bytes. */
export function rssBytes(): number {
  return Deno.memoryUsage().rss;
}
