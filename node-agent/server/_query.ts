/**
 * Query parameters of the agent's endpoints, read as the kubelet reads
 * them: booleans as Go's `strconv.ParseBool`, whole numbers with a lower
 * bound, RFC 3339 times. A bad value is a 400 naming the parameter.
 *
 * @module
 */

import { BadRequestError } from "@skiff/api";

const TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"]);

/** A boolean parameter; absent or empty is false. */
export function boolParam(q: URLSearchParams, name: string): boolean {
  const value = q.get(name);
  if (value === null || value === "") return false;
  if (TRUE.has(value)) return true;
  if (FALSE.has(value)) return false;
  throw new BadRequestError(`Invalid ${name} "${value.slice(0, 50)}": expected true or false`);
}

/** A whole-number parameter of at least `min`; absent or empty is undefined. */
export function intParam(q: URLSearchParams, name: string, min: number): number | undefined {
  const value = q.get(name);
  if (value === null || value === "") return undefined;
  if (!/^-?\d{1,15}$/.test(value) || Number(value) < min) {
    throw new BadRequestError(`Invalid ${name} "${value.slice(0, 50)}": expected a whole number of at least ${min}`);
  }
  return Number(value);
}

/** An RFC 3339 time parameter, as ms since the epoch; absent or empty is undefined. */
export function timeParam(q: URLSearchParams, name: string): number | undefined {
  const value = q.get(name);
  if (value === null || value === "") return undefined;
  const ms = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) {
    throw new BadRequestError(`Invalid ${name} "${value.slice(0, 50)}": expected an RFC 3339 time`);
  }
  return ms;
}
