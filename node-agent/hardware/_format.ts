/**
 * Formatting shared by the node status functions: Kubernetes timestamps,
 * Go durations and label values.
 *
 * @module
 */

/** RFC 3339 with second precision, as Kubernetes writes `metav1.Time`: `2026-01-01T00:00:00Z`. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/** A duration as Go's `time.Duration.String()` prints it at millisecond precision: `500ms`, `5.003s`, `1m5s`. */
export function goDuration(ms: number): string {
  const total = Math.round(ms);
  if (total === 0) return "0s";
  if (total < 1000) return `${total}ms`;
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const millis = total % 60_000;
  const seconds = `${Math.floor(millis / 1000)}${
    millis % 1000 === 0 ? "" : `.${String(millis % 1000).padStart(3, "0").replace(/0+$/, "")}`
  }s`;
  if (hours > 0) return `${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${minutes}m${seconds}`;
  return seconds;
}

/**
 * `text` made into a label value: `(R)` and `(TM)` marks dropped, every run
 * of characters other than `[A-Za-z0-9._-]` turned into `-`, cut to 63
 * characters, starting and ending with a letter or digit. Empty when
 * nothing is left.
 */
export function toLabelValue(text: string): string {
  let value = text.replace(/\((R|TM|C)\)/gi, " ").trim().replace(/[^A-Za-z0-9._-]+/g, "-").replace(/-{2,}/g, "-");
  value = value.replace(/^[^A-Za-z0-9]+/, "").slice(0, 63);
  return value.replace(/[^A-Za-z0-9]+$/, "");
}

/** `text` as a lower-case slug label value: `Raspberry Pi 4 Model B` is `raspberry-pi-4-model-b`. */
export function toSlug(text: string): string {
  return toLabelValue(text.toLowerCase().replace(/\((r|tm|c)\)/g, " ").replace(/[^a-z0-9]+/g, "-"));
}
