/**
 * Signs certificates for keys that never leave their owner: a node agent
 * sends a PKCS#10 certificate signing request (CSR), and the CA signs the
 * public key in it after checking the request's signature (which proves the
 * sender holds the private key). Everything else in the request (its
 * subject, any names it asks for) is ignored: the caller decides the
 * certificate's name and subject alternative names.
 *
 * @module
 */

import * as x509 from "./_x509.ts";
import type { CertificateAuthority } from "./certificate_authority.ts";
import type { IssueCertificateOptions } from "./issue_certificate.ts";
import { signLeaf } from "./_leaf.ts";

/** A certificate signed for a request. */
export interface SignedCertificate {
  /** The certificate, PEM. */
  certPem: string;
  /** When it expires. */
  notAfter: Date;
}

/**
 * Signs the public key of `csrPem` with `ca`, as `options` say (the same
 * options as {@linkcode issueCertificate}).
 * Only ECDSA P-256 keys are accepted, the kind every Skiff key is.
 *
 * @throws {TypeError} when `csrPem` is not a PEM PKCS#10 request, its
 * signature does not verify, or its key is not ECDSA P-256; or when an
 * option is malformed
 * @throws {RangeError} when `days` is not a positive integer, or the CA has expired
 *
 * @example
 * ```ts
 * const { certPem, notAfter } = await signCertificateRequest(ca, csrPem, {
 *   commonName: "pi-3",
 *   sans: ["pi-3", "192.168.1.23"],
 *   usages: "server",
 *   days: 365,
 * });
 * ```
 */
export async function signCertificateRequest(
  ca: CertificateAuthority,
  csrPem: string,
  options: IssueCertificateOptions,
): Promise<SignedCertificate> {
  if (typeof csrPem !== "string" || !csrPem.includes("-----BEGIN CERTIFICATE REQUEST-----")) {
    throw new TypeError(
      "Invalid certificate request: expected a PEM PKCS#10 request (-----BEGIN CERTIFICATE REQUEST-----)",
    );
  }
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (cause) {
    throw new TypeError(`Invalid certificate request: it cannot be parsed: ${(cause as Error).message}`, { cause });
  }
  const algorithm = csr.publicKey.algorithm as EcKeyAlgorithm;
  if (algorithm.name !== "ECDSA" || algorithm.namedCurve !== "P-256") {
    throw new TypeError(
      `Invalid certificate request: its key is ${algorithm.name}${
        algorithm.namedCurve ? ` ${algorithm.namedCurve}` : ""
      }, expected ECDSA P-256`,
    );
  }
  let verified: boolean;
  try {
    verified = await csr.verify();
  } catch (cause) {
    throw new TypeError(`Invalid certificate request: its signature cannot be checked: ${(cause as Error).message}`, {
      cause,
    });
  }
  if (!verified) {
    throw new TypeError("Invalid certificate request: its signature does not match its public key");
  }
  const cert = await signLeaf(ca, csr.publicKey, options);
  return { certPem: cert.toString("pem"), notAfter: cert.notAfter };
}
