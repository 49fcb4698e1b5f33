/**
 * Issues leaf certificates signed by the cluster CA: the API server's
 * serving certificate, and later the node agents' serving certificates for
 * their logs and exec endpoint.
 *
 * @module
 */

import type { CertificateAuthority } from "./certificate_authority.ts";
import { exportPrivateKeyPem, generateKeyPair } from "./_keys.ts";
import { signLeaf } from "./_leaf.ts";

/** Options of {@linkcode issueCertificate}. */
export interface IssueCertificateOptions {
  /** The subject's common name, e.g. `skiff-apiserver` or a node name. */
  commonName: string;
  /**
   * Subject alternative names: DNS names or IP addresses, told apart by
   * parsing. A server certificate needs at least one.
   */
  sans?: readonly string[];
  /** `server` adds extKeyUsage serverAuth; `client` adds clientAuth. */
  usages: "server" | "client";
  /**
   * How long the certificate is valid, in days. It never outlives the CA:
   * a longer lifetime ends when the CA does.
   */
  days: number;
  /** The current time; the certificate is valid from an hour before it. */
  now?: Date;
}

/** A certificate and its private key, as PEM. */
export interface IssuedCertificate {
  /** The certificate, PEM. */
  certPem: string;
  /** Its private key, PKCS#8 PEM. */
  keyPem: string;
}

/**
 * Issues a certificate for a new ECDSA P-256 key, signed by `ca`.
 *
 * @throws {TypeError} when an option or the CA is malformed, naming it
 * @throws {RangeError} when `days` is not a positive integer, or the CA has
 * expired
 *
 * @example
 * ```ts
 * const { certPem, keyPem } = await issueCertificate(ca, {
 *   commonName: "pi-3",
 *   sans: ["pi-3", "192.168.1.23"],
 *   usages: "server",
 *   days: 365,
 * });
 * ```
 */
export async function issueCertificate(
  ca: CertificateAuthority,
  options: IssueCertificateOptions,
): Promise<IssuedCertificate> {
  const keys = await generateKeyPair();
  const cert = await signLeaf(ca, keys.publicKey, options);
  return {
    certPem: cert.toString("pem"),
    keyPem: await exportPrivateKeyPem(keys.privateKey),
  };
}
