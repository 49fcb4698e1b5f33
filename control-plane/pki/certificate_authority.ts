/**
 * Skiff's cluster certificate authority: a self-signed ECDSA P-256 CA that
 * signs the API server's serving certificate and the node agents'
 * certificates.
 *
 * @module
 */

import * as x509 from "./_x509.ts";
import { exportPrivateKeyPem, generateKeyPair, SIGNING_ALGORITHM } from "./_keys.ts";

/** A certificate authority: its certificate and its private key, as PEM. */
export interface CertificateAuthority {
  /** The CA certificate, PEM. */
  certPem: string;
  /** The CA private key, PKCS#8 PEM. Keep it secret. */
  keyPem: string;
}

/** Options of {@linkcode createCertificateAuthority}. */
export interface CreateCertificateAuthorityOptions {
  /** The current time; the CA is valid from an hour before it. Default: now. */
  now?: Date;
  /** How long the CA is valid, in days. Default: 3650 (ten years). */
  days?: number;
}

/** Certificates start an hour early so nodes with a lagging clock accept them. */
export const CLOCK_SKEW_MS = 60 * 60 * 1000;

/** One day in milliseconds. */
export const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * A random positive serial number of 16 bytes, as hex. The top bit is
 * cleared (DER integers are signed) and the next one set, so the encoding
 * never needs a leading zero byte or loses one.
 */
export function randomSerialNumber(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Creates a new self-signed CA named `skiff-ca@<unix time>`, with
 * basicConstraints CA and keyUsage keyCertSign and cRLSign.
 *
 * @example
 * ```ts
 * const ca = await createCertificateAuthority();
 * const server = await issueCertificate(ca, {
 *   commonName: "pi-1",
 *   sans: ["pi-1.lan", "192.168.1.21"],
 *   usages: "server",
 *   days: 365,
 * });
 * ```
 */
export async function createCertificateAuthority(
  options: CreateCertificateAuthorityOptions = {},
): Promise<CertificateAuthority> {
  const now = options.now ?? new Date();
  const days = options.days ?? 3650;
  if (!Number.isInteger(days) || days < 1) {
    throw new RangeError(
      `Invalid CA lifetime: days must be a positive integer, got ${days}`,
    );
  }
  const keys = await generateKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialNumber(),
    name: [{ CN: [`skiff-ca@${Math.floor(now.getTime() / 1000)}`] }],
    notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
    notAfter: new Date(now.getTime() + days * DAY_MS),
    signingAlgorithm: SIGNING_ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    certPem: cert.toString("pem"),
    keyPem: await exportPrivateKeyPem(keys.privateKey),
  };
}
