/**
 * Issues leaf certificates signed by the cluster CA: the API server's
 * serving certificate, and later the node agents' serving certificates for
 * their logs and exec endpoint.
 *
 * @module
 */

import * as x509 from "./_x509.ts";
import { type CertificateAuthority, CLOCK_SKEW_MS, DAY_MS, randomSerialNumber } from "./certificate_authority.ts";
import { exportPrivateKeyPem, generateKeyPair, importPrivateKeyPem, SIGNING_ALGORITHM } from "./_keys.ts";
import { parseSan, uniqueSans } from "./_sans.ts";

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
  const { commonName, usages, days } = options;
  if (typeof commonName !== "string" || commonName.trim() === "") {
    throw new TypeError("Invalid certificate: commonName must not be empty");
  }
  if (usages !== "server" && usages !== "client") {
    throw new TypeError(
      `Invalid certificate usages "${usages}": expected "server" or "client"`,
    );
  }
  if (!Number.isInteger(days) || days < 1) {
    throw new RangeError(
      `Invalid certificate lifetime: days must be a positive integer, got ${days}`,
    );
  }
  const sans = uniqueSans((options.sans ?? []).map(parseSan));
  if (usages === "server" && sans.length === 0) {
    throw new TypeError(
      `Invalid certificate "${commonName}": a server certificate needs at least one subject alternative name`,
    );
  }

  let caCert: x509.X509Certificate;
  try {
    caCert = new x509.X509Certificate(ca.certPem);
  } catch (cause) {
    throw new TypeError("Invalid CA: certPem is not a PEM certificate", {
      cause,
    });
  }
  const caKey = await importPrivateKeyPem(ca.keyPem).catch((cause) => {
    throw new TypeError(`Invalid CA: keyPem: ${cause.message}`, { cause });
  });

  const now = options.now ?? new Date();
  if (caCert.notAfter.getTime() <= now.getTime()) {
    throw new RangeError(
      `Cannot issue "${commonName}": the CA expired on ${caCert.notAfter.toISOString()}`,
    );
  }
  const notAfter = new Date(
    Math.min(now.getTime() + days * DAY_MS, caCert.notAfter.getTime()),
  );
  const notBefore = new Date(
    Math.max(now.getTime() - CLOCK_SKEW_MS, caCert.notBefore.getTime()),
  );

  const keys = await generateKeyPair();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([
      usages === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
    ]),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  const caKeyId = caCert.getExtension(x509.SubjectKeyIdentifierExtension);
  if (caKeyId !== null) {
    extensions.push(new x509.AuthorityKeyIdentifierExtension(caKeyId.keyId));
  }
  if (sans.length > 0) {
    extensions.push(new x509.SubjectAlternativeNameExtension(sans));
  }

  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: [{ CN: [commonName] }],
    issuer: caCert.subjectName,
    notBefore,
    notAfter,
    signingAlgorithm: SIGNING_ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions,
  });
  return {
    certPem: cert.toString("pem"),
    keyPem: await exportPrivateKeyPem(keys.privateKey),
  };
}
