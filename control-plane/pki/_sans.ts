/**
 * Subject alternative names: parsing user input into DNS names and IP
 * addresses, the names every Skiff serving certificate must carry, and
 * reading the names back out of a certificate.
 *
 * @module
 */

import { isIP } from "node:net";
import * as x509 from "./_x509.ts";

/** One subject alternative name, normalized so equal names compare equal. */
export interface San {
  /** `dns` for a host name, `ip` for an address. */
  type: "dns" | "ip";
  /** Lower-case DNS name, or the canonical text form of the address. */
  value: string;
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Parses a subject alternative name given as text: an IPv4 or IPv6 address
 * becomes an `ip` name, anything else must be a valid DNS name (a leading
 * `*.` wildcard is allowed).
 *
 * @throws {TypeError} naming the value when it is neither
 */
export function parseSan(text: string): San {
  const value = text.trim();
  if (value === "") {
    throw new TypeError("Invalid subject alternative name: it is empty");
  }
  const bare = value.startsWith("[") && value.endsWith("]") ? value.slice(1, -1) : value;
  if (bare.includes("%")) {
    throw new TypeError(
      `Invalid subject alternative name "${text}": an IP address with a zone index cannot be put in a certificate`,
    );
  }
  const family = isIP(bare);
  if (family === 4) {
    return { type: "ip", value: new URL(`http://${bare}/`).hostname };
  }
  if (family === 6) {
    return {
      type: "ip",
      value: new URL(`http://[${bare}]/`).hostname.slice(1, -1),
    };
  }
  const name = value.toLowerCase().replace(/\.$/, "");
  const labels = name.split(".");
  const checked = labels[0] === "*" && labels.length > 1 ? labels.slice(1) : labels;
  const lastLabel = labels[labels.length - 1] ?? "";
  if (
    name.length > 253 ||
    !checked.every((label) => DNS_LABEL.test(label)) ||
    /^[0-9]+$/.test(lastLabel)
  ) {
    throw new TypeError(
      `Invalid subject alternative name "${text}": not an IP address or a DNS name`,
    );
  }
  return { type: "dns", value: name };
}

/** A key that is equal for equal names. */
export function sanKey(san: San): string {
  return `${san.type}:${san.value}`;
}

/** Whether an address is link-local (169.254.0.0/16 or fe80::/10). */
function isLinkLocal(san: San): boolean {
  if (san.type !== "ip") return false;
  if (san.value.startsWith("169.254.")) return true;
  const first = san.value.split(":")[0] ?? "";
  return san.value.includes(":") && first.length === 4 &&
    (parseInt(first, 16) & 0xffc0) === 0xfe80;
}

/**
 * The names this machine is reached by: `localhost`, `127.0.0.1`, `::1`, the
 * host name (when it is a valid DNS name) and every address of every
 * network interface except link-local ones.
 */
export function machineSans(): San[] {
  const sans: San[] = [
    parseSan("localhost"),
    parseSan("127.0.0.1"),
    parseSan("::1"),
  ];
  try {
    sans.push(parseSan(Deno.hostname()));
  } catch {
    // A host name that is not a valid DNS name cannot be a SAN; the
    // addresses and any `sans` the user passes still are.
  }
  for (const iface of Deno.networkInterfaces()) {
    const san = parseSan(iface.address);
    if (!isLinkLocal(san)) sans.push(san);
  }
  return sans;
}

/** Removes duplicates, keeping the first of each. */
export function uniqueSans(sans: Iterable<San>): San[] {
  const seen = new Map<string, San>();
  for (const san of sans) {
    if (!seen.has(sanKey(san))) seen.set(sanKey(san), san);
  }
  return [...seen.values()];
}

/** The DNS and IP subject alternative names of a certificate, normalized. */
export function certificateSans(cert: x509.X509Certificate): San[] {
  const ext = cert.getExtension(x509.SubjectAlternativeNameExtension);
  if (ext === null) return [];
  const sans: San[] = [];
  for (const name of ext.names.toJSON()) {
    if (name.type !== "dns" && name.type !== "ip") continue;
    try {
      sans.push(parseSan(name.value));
    } catch {
      // A name Skiff cannot parse can never be one it requires.
    }
  }
  return sans;
}
