/**
 * The fingerprint of a cluster CA that join tokens carry, so a joining node
 * can check the CA it downloads before trusting it (as k3s's `K10<hash>`
 * tokens do).
 *
 * @module
 */

import * as x509 from "./_x509.ts";

/**
 * Returns `sha256:<hex>` of the DER encoding of the first certificate in
 * `caPem`.
 *
 * @throws {TypeError} when `caPem` is not a PEM certificate
 *
 * @example
 * ```ts
 * const hash = await caHash(await Deno.readTextFile("/var/lib/skiff/pki/ca.crt"));
 * // "sha256:4f0c…"
 * ```
 */
export async function caHash(caPem: string): Promise<string> {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(caPem);
  } catch (cause) {
    throw new TypeError("Cannot hash the CA: not a PEM certificate", {
      cause,
    });
  }
  const digest = await crypto.subtle.digest("SHA-256", cert.rawData);
  const hex = Array.from(
    new Uint8Array(digest),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  return `sha256:${hex}`;
}
