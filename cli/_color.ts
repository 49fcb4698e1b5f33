/**
 * Colour, only for a person at a terminal: never when the output is a pipe
 * or a file, never with `NO_COLOR` set (https://no-color.org), never with
 * `TERM=dumb`.
 *
 * @module
 */

import type { Io, Output } from "./_io.ts";

/** Colouring functions; each returns its text unchanged when colour is off. */
export interface Palette {
  /** Whether colour is on. */
  readonly enabled: boolean;
  /** Errors and failed states. */
  red(text: string): string;
  /** Healthy states. */
  green(text: string): string;
  /** Warnings and transitional states. */
  yellow(text: string): string;
  /** Headers. */
  bold(text: string): string;
  /** Less important detail. */
  dim(text: string): string;
}

const sgr = (open: number, close: number) => (text: string) => `\x1b[${open}m${text}\x1b[${close}m`;
const plain = (text: string) => text;

/** Whether to colour what goes to `output`. */
export function colorEnabled(output: Output, io: Pick<Io, "env">): boolean {
  if (!output.isTerminal) return false;
  const noColor = io.env("NO_COLOR");
  if (noColor !== undefined && noColor !== "") return false;
  return io.env("TERM") !== "dumb";
}

/** The palette for `output`. */
export function paletteFor(output: Output, io: Pick<Io, "env">): Palette {
  const enabled = colorEnabled(output, io);
  if (!enabled) return { enabled, red: plain, green: plain, yellow: plain, bold: plain, dim: plain };
  return {
    enabled,
    red: sgr(31, 39),
    green: sgr(32, 39),
    yellow: sgr(33, 39),
    bold: sgr(1, 22),
    dim: sgr(2, 22),
  };
}

/** Removes colour codes (to measure the width of a cell). */
export function stripColor(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, "");
}

const GOOD = new Set(["Running", "Ready", "Active", "Bound", "Succeeded", "Completed", "Normal", "True", "Available"]);
const BAD = new Set([
  "Failed",
  "Error",
  "CrashLoopBackOff",
  "ImagePullBackOff",
  "ErrImagePull",
  "NotReady",
  "Unknown",
  "Lost",
  "Warning",
  "False",
  "OOMKilled",
  "Evicted",
]);

/** Colours a status word (`Running`, `CrashLoopBackOff`, `Ready,SchedulingDisabled`) by how healthy it is. */
export function colorStatus(palette: Palette, status: string): string {
  if (!palette.enabled) return status;
  const parts = status.split(",");
  return parts.map((part) => {
    if (GOOD.has(part)) return palette.green(part);
    if (BAD.has(part) || part.startsWith("Init:Err") || part.startsWith("ExitCode:") || part.startsWith("Signal:")) {
      return palette.red(part);
    }
    return palette.yellow(part);
  }).join(",");
}
