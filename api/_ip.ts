/**
 * Strict IPv4/IPv6 address and CIDR checks for validation (no I/O, no
 * zones, no leading zeros in IPv4 octets).
 *
 * @module
 */

const IPV4_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;

/** True for a dotted-quad IPv4 address such as `10.42.0.1`. */
export function isIPv4(value: string): boolean {
  const parts = value.split(".");
  return parts.length === 4 && parts.every((p) => IPV4_OCTET.test(p) && Number(p) <= 255);
}

/** True for an IPv6 address such as `2001:db8::1` or `::ffff:10.0.0.1`. */
export function isIPv6(value: string): boolean {
  if (value.length > 45 || !value.includes(":")) return false;
  let text = value;
  let extra = 0;
  const lastColon = text.lastIndexOf(":");
  const tail = text.slice(lastColon + 1);
  if (tail.includes(".")) {
    if (!isIPv4(tail)) return false;
    text = `${text.slice(0, lastColon + 1)}0`;
    extra = 1;
  }
  const halves = text.split("::");
  if (halves.length > 2) return false;
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const head = groups(halves[0] as string);
  const rest = halves.length === 2 ? groups(halves[1] as string) : [];
  const all = [...head, ...rest];
  if (!all.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  const count = all.length + extra;
  return halves.length === 2 ? count <= 7 : count === 8;
}

/** True for an IPv4 or IPv6 address. */
export function isIP(value: string): boolean {
  return isIPv4(value) || isIPv6(value);
}

/** True for `address/prefix` with a prefix that fits the address family. */
export function isCIDR(value: string): boolean {
  const slash = value.indexOf("/");
  if (slash === -1) return false;
  const address = value.slice(0, slash);
  const prefix = value.slice(slash + 1);
  if (!/^(?:0|[1-9][0-9]{0,2})$/.test(prefix)) return false;
  if (isIPv4(address)) return Number(prefix) <= 32;
  return isIPv6(address) && Number(prefix) <= 128;
}

/** Why an address may not be used as an endpoint (loopback, link-local, …), if it may not. */
export function specialIPError(value: string): string | undefined {
  if (value === "0.0.0.0" || value === "::") return "may not be unspecified (0.0.0.0)";
  if (value.startsWith("127.") || value === "::1") {
    return "may not be in the loopback range (127.0.0.0/8, ::1/128)";
  }
  if (value.startsWith("169.254.") || /^fe[89ab]/i.test(value)) {
    return "may not be in the link-local range (169.254.0.0/16, fe80::/10)";
  }
  if (value.startsWith("224.0.0.") || /^ff02:/i.test(value)) {
    return "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)";
  }
  return undefined;
}

/** Kubernetes' message for an invalid IP address. */
export const IP_MESSAGE = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
/** Kubernetes' message for an invalid CIDR. */
export const CIDR_MESSAGE = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";
