/**
 * Column-aligned tables as kubectl prints them (Go's tabwriter with
 * kubectl's settings: cells padded by three spaces to at least six
 * characters; the last column is not padded).
 *
 * @module
 */

import { stripColor } from "./_color.ts";

const PADDING = 3;
const MIN_WIDTH = 6;

/** The width of a cell as shown (colour codes take no room). */
function visibleWidth(text: string): number {
  return [...stripColor(text)].length;
}

/**
 * Column widths (padding included) for `rows`, at least `previous` (so rows
 * printed later, by a watch, line up with those printed first).
 */
export function columnWidths(rows: readonly (readonly string[])[], previous: readonly number[] = []): number[] {
  const widths = [...previous];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, visibleWidth(cell) + PADDING, MIN_WIDTH);
    });
  }
  return widths;
}

/** Renders rows with the given widths, one line each. */
export function renderRows(rows: readonly (readonly string[])[], widths: readonly number[]): string {
  let out = "";
  for (const row of rows) {
    const last = row.length - 1;
    out += row.map((cell, i) => i === last ? cell : cell + " ".repeat(Math.max(0, widths[i]! - visibleWidth(cell))))
      .join("") + "\n";
  }
  return out;
}

/** Renders a whole table (header first, when given). */
export function renderTable(rows: readonly (readonly string[])[]): string {
  return renderRows(rows, columnWidths(rows));
}
