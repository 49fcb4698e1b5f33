/**
 * LoadBalancer address pools: IPv4 ranges written as `first-last`
 * (`192.168.1.240-192.168.1.250`), CIDRs (`192.168.1.240/29`) or single
 * addresses, several separated by commas, spaces or new lines. A CIDR
 * larger than a /31 leaves out its network and broadcast addresses.
 *
 * @example
 * ```ts
 * const pool = parseAddressPool("192.168.1.240-192.168.1.242, 10.0.0.8/30");
 * pool.size; // 5
 * pool.contains("10.0.0.9"); // true
 * [...pool.addresses()]; // ["192.168.1.240", …, "10.0.0.9", "10.0.0.10"]
 * ```
 *
 * @module
 */

import { isIPv4 } from "node:net";

/** One inclusive range of IPv4 addresses, as numbers. */
interface Range {
  first: number;
  last: number;
}

/** The largest pool accepted: a /16. */
const MAX_POOL_SIZE = 65_536;

/** The address `ip` as a 32-bit number; `undefined` when it is not dotted-quad IPv4. */
export function ipv4ToNumber(ip: string): number | undefined {
  if (!isIPv4(ip)) return undefined;
  return ip.split(".").reduce((n, part) => n * 256 + Number(part), 0);
}

/** A 32-bit number as a dotted-quad IPv4 address. */
export function numberToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** A set of IPv4 addresses LoadBalancer Services get theirs from. */
export class AddressPool {
  #ranges: Range[];
  /** The pool as written, normalised (entries joined with `, `). */
  readonly text: string;

  /** Creates a pool from ranges; use {@linkcode parseAddressPool}. */
  constructor(ranges: readonly Range[], text: string) {
    this.#ranges = [...ranges];
    this.text = text;
  }

  /** How many addresses the pool holds. */
  get size(): number {
    return this.#ranges.reduce((sum, r) => sum + r.last - r.first + 1, 0);
  }

  /** Whether `ip` is in the pool. */
  contains(ip: string): boolean {
    const n = ipv4ToNumber(ip);
    return n !== undefined && this.#ranges.some((r) => n >= r.first && n <= r.last);
  }

  /** Every address, in the order the pool lists them. */
  *addresses(): Generator<string> {
    for (const range of this.#ranges) {
      for (let n = range.first; n <= range.last; n++) yield numberToIpv4(n);
    }
  }
}

/** An empty pool: no LoadBalancer addresses are handed out. */
export const EMPTY_POOL: AddressPool = new AddressPool([], "");

/**
 * Parses a pool. `source` names where the text came from, for messages
 * (`--lb-pool`, `ConfigMap kube-system/skiff-lb-pool`).
 *
 * @throws {TypeError} naming the entry that is not an IPv4 address, range or CIDR, a range that runs backwards,
 * entries that overlap, or a pool larger than 65,536 addresses
 */
export function parseAddressPool(text: string, source = "the address pool"): AddressPool {
  const entries = text.split(/[\s,]+/).filter((e) => e !== "");
  const ranges: Range[] = [];
  for (const entry of entries) {
    const range = parseEntry(entry, source);
    const overlap = ranges.find((r) => range.first <= r.last && r.first <= range.last);
    if (overlap) {
      throw new TypeError(
        `Invalid ${source}: "${entry}" overlaps ${numberToIpv4(overlap.first)}-${numberToIpv4(overlap.last)}`,
      );
    }
    ranges.push(range);
  }
  const pool = new AddressPool(ranges, entries.join(", "));
  if (pool.size > MAX_POOL_SIZE) {
    throw new TypeError(`Invalid ${source}: it holds ${pool.size} addresses; at most ${MAX_POOL_SIZE} (a /16)`);
  }
  return pool;
}

function parseEntry(entry: string, source: string): Range {
  const invalid = (why: string) => new TypeError(`Invalid ${source}: "${entry}" ${why}`);
  if (entry.includes("/")) {
    const [base = "", bits = ""] = entry.split("/");
    const n = ipv4ToNumber(base);
    const prefix = Number(bits);
    if (n === undefined || !/^\d{1,2}$/.test(bits) || prefix > 32) {
      throw invalid("is not an IPv4 CIDR such as 192.168.1.240/28");
    }
    if (prefix < 16) throw invalid("is larger than a /16");
    const size = 2 ** (32 - prefix);
    const first = n - (n % size);
    const last = first + size - 1;
    return size > 2 ? { first: first + 1, last: last - 1 } : { first, last };
  }
  if (entry.includes("-")) {
    const [from = "", to = ""] = entry.split("-");
    const first = ipv4ToNumber(from);
    const last = ipv4ToNumber(to);
    if (first === undefined || last === undefined) {
      throw invalid("is not an IPv4 range such as 192.168.1.240-192.168.1.250");
    }
    if (last < first) throw invalid("runs backwards: its first address is after its last");
    return { first, last };
  }
  const n = ipv4ToNumber(entry);
  if (n === undefined) throw invalid("is not an IPv4 address, range (a-b) or CIDR (a/n)");
  return { first: n, last: n };
}
