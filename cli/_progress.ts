/**
 * Progress for anything that can take more than a second (apply of many
 * objects, drain, rollout status): on a terminal, one status line on
 * standard error that is rewritten in place and cleared before results are
 * printed; elsewhere, nothing (results and plain lines say enough).
 *
 * @module
 */

import type { Io } from "./_io.ts";

/** A rewritable status line on standard error. */
export class Progress {
  #io: Io;
  #shown = false;

  /** Creates a progress line over `io.stderr`. */
  constructor(io: Io) {
    this.#io = io;
  }

  /** Whether the line is drawn at all (standard error is a terminal). */
  get live(): boolean {
    return this.#io.stderr.isTerminal;
  }

  /** Shows `text` as the current status. */
  update(text: string): void {
    if (!this.live) return;
    const width = this.#io.terminalSize?.()?.columns ?? 80;
    const line = text.length >= width ? text.slice(0, Math.max(0, width - 2)) + "…" : text;
    this.#io.stderr.write(`\r\x1b[K${line}`);
    this.#shown = true;
  }

  /** Removes the status line. */
  clear(): void {
    if (!this.#shown) return;
    this.#io.stderr.write("\r\x1b[K");
    this.#shown = false;
  }

  /** Prints a result line on standard output, keeping the status line out of its way. */
  print(line: string): void {
    this.clear();
    this.#io.stdout.write(line.endsWith("\n") ? line : `${line}\n`);
  }
}
