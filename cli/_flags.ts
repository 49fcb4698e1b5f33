/**
 * Parsers for flag values shared by several commands. Bad values are usage
 * errors (exit code 2) that name the flag.
 *
 * @module
 */

import { InvalidArgumentError } from "commander";

/** Collects a repeatable flag's values. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** A whole number of at least 0 (`--replicas`, `--tail`…). */
export function wholeNumber(value: string): number {
  if (!/^[0-9]{1,15}$/.test(value)) {
    throw new InvalidArgumentError(`must be a whole number of at least 0, got "${value}"`);
  }
  return Number(value);
}

/** A whole number that may be -1, meaning "not set" (`--grace-period`, `--tail`). */
export function wholeNumberOrMinusOne(value: string): number {
  if (value === "-1") return -1;
  return wholeNumber(value);
}

/**
 * A duration such as `30s`, `5m`, `1h30m` or a bare number of seconds, in
 * milliseconds; 0 means none.
 */
export function duration(value: string): number {
  if (/^[0-9]+$/.test(value)) return Number(value) * 1000;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/y;
  let total = 0;
  let index = 0;
  while (index < value.length) {
    re.lastIndex = index;
    const match = re.exec(value);
    if (!match) {
      throw new InvalidArgumentError(`must be a duration such as 30s, 5m or 1h30m, got "${value}"`);
    }
    total += Number(match[1]) * units[match[2]!]!;
    index = re.lastIndex;
  }
  if (value === "") throw new InvalidArgumentError("must be a duration such as 30s, 5m or 1h30m, got nothing");
  return Math.round(total);
}

/** `none`, `client` or `server` (`--dry-run`; the bare flag means `client`). */
export function dryRunMode(value: string | boolean | undefined): "none" | "client" | "server" {
  if (value === undefined || value === false) return "none";
  if (value === true) return "client";
  if (value === "none" || value === "client" || value === "server") return value;
  throw new InvalidArgumentError(`must be "none", "client" or "server", got "${value}"`);
}

/** `true` or `false` (`--wait=false`); the bare flag means true. */
export function booleanValue(value: string): boolean {
  if (value === "true") return true;
  if (value === "false") return false;
  throw new InvalidArgumentError(`must be "true" or "false", got "${value}"`);
}
