/**
 * Durations printed the way Go prints `time.Duration` (so messages match
 * the kubelet's): `0s`, `250ms`, `1.5s`, `20s`, `1m20s`, `5m0s`, `1h0m0s`.
 *
 * @module
 */

/** Formats `ms` milliseconds as Go's `time.Duration.String()` (to the millisecond). */
export function goDuration(ms: number): string {
  const total = Math.round(ms);
  if (total === 0) return "0s";
  const sign = total < 0 ? "-" : "";
  let rest = Math.abs(total);
  if (rest < 1000) return `${sign}${rest}ms`;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = (rest / 1000).toFixed(3).replace(/\.?0+$/, "");
  if (hours > 0) return `${sign}${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${sign}${minutes}m${seconds}s`;
  return `${sign}${seconds}s`;
}
