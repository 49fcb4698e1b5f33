/**
 * IPv4 addresses and CIDR ranges as numbers, with validation messages that
 * name the field at fault.
 *
 * @module
 */

import { isIPv4 } from "node:net";

/** An IPv4 range in canonical form. */
export interface Ipv4Cidr {
  /** Network address as an unsigned 32-bit number. */
  base: number;
  /** Prefix length, 0 to 32. */
  bits: number;
  /** Canonical text, e.g. `10.42.3.0/24`. */
  text: string;
}

/** The address as an unsigned 32-bit number; `value` must be valid IPv4. */
export function ipv4ToInt(value: string): number {
  return value.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
}

/** Dotted-quad text of an unsigned 32-bit number. */
export function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join(".");
}

/**
 * Checks that `value` is an IPv4 address and returns it.
 *
 * @throws {TypeError} naming `field` when it is not.
 */
export function parseIpv4(field: string, value: unknown): string {
  if (typeof value !== "string" || !isIPv4(value)) {
    throw new TypeError(`Invalid ${field} ${JSON.stringify(value)}: expected an IPv4 address like "192.168.1.10"`);
  }
  return value;
}

/**
 * Parses an IPv4 CIDR whose host bits are zero (`10.42.3.0/24`), with a
 * prefix length from `minBits` (default 0) to `maxBits` (default 32).
 *
 * @throws {TypeError} naming `field` when it is not one.
 */
export function parseIpv4Cidr(
  value: unknown,
  options: { field: string; minBits?: number; maxBits?: number },
): Ipv4Cidr {
  const match = typeof value === "string" ? value.match(/^([0-9.]+)\/(\d{1,2})$/) : null;
  const bits = Number(match?.[2]);
  const { field, minBits = 0, maxBits = 32 } = options;
  if (!match || !isIPv4(match[1]!) || bits < minBits || bits > maxBits) {
    throw new TypeError(
      `Invalid ${field} ${JSON.stringify(value)}: expected an IPv4 CIDR like "10.42.3.0/24" ` +
        `with a prefix length from ${minBits} to ${maxBits}`,
    );
  }
  const address = ipv4ToInt(match[1]!);
  const base = (address & mask(bits)) >>> 0;
  if (base !== address) {
    throw new TypeError(
      `Invalid ${field} "${value}": host bits are set (the network is "${intToIpv4(base)}/${bits}")`,
    );
  }
  return { base, bits, text: `${intToIpv4(base)}/${bits}` };
}

/** Whether `inner` lies wholly inside `outer`. */
export function cidrContains(outer: Ipv4Cidr, inner: Ipv4Cidr): boolean {
  return inner.bits >= outer.bits && ((inner.base & mask(outer.bits)) >>> 0) === outer.base;
}

/** Whether two ranges share any address. */
export function cidrsOverlap(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  return cidrContains(a, b) || cidrContains(b, a);
}

function mask(bits: number): number {
  return bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
}
